"""Fixtures for the LangChain adapter tests, and the explicit deselection of standard
integration tests that measure the model rather than the protocol when no API key is set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from deselect import deselect_listed, report_deselected

from langchain_r1v4 import ChatR1V4
from r1v4.testing import FileHost, LocalR1V4Server

API_KEY = "test-key"


@pytest.fixture(scope="session")
def agent_server() -> Iterator[LocalR1V4Server]:
    """A local server whose default reply is a realistic R1V4 transcript (think, tool trace,
    answer; a plan for the planner model; sources with ``enable_search``)."""
    with LocalR1V4Server(api_key=API_KEY, scenario="agent") as server:
        yield server


def hosted() -> bool:
    return bool(os.environ.get("SKYWORK_API_KEY"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect by name, with the reason shown in the summary, the tests a module lists in
    ``LOCAL_DESELECT`` -- only when running against the local server."""
    if not hosted():
        deselect_listed(config, items, "LOCAL_DESELECT")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report_deselected(
        terminalreporter, "LOCAL_DESELECT", "standard tests deselected against the local server"
    )


@pytest.fixture
def make_llm(r1v4_server: LocalR1V4Server) -> Callable[..., ChatR1V4]:
    """``make_llm(**overrides)``: a ``ChatR1V4`` pointed at the shared local server."""

    def make(**overrides: Any) -> ChatR1V4:
        params: dict[str, Any] = {"api_key": API_KEY, "base_url": r1v4_server.base_url}
        params.update(overrides)
        return ChatR1V4(**params)

    return make


@pytest.fixture(scope="session")
def image_host() -> Iterator[FileHost]:
    """Serves registered bytes over loopback HTTP, to feed image URLs to the client."""
    with FileHost() as host:
        yield host
