"""Pytest fixtures for the local R1V4 server; enable with
``pytest_plugins = ["r1v4.testing.pytest_plugin"]``.

One server per kind is started for the whole session (startup costs a thread and a socket) and
``reset()`` before each test, so every test starts with an empty queue, no recorded requests and a
zero connection count.

Fixtures:
    r1v4_server: a :class:`LocalR1V4Server` (api_key ``"test-key"``, native tools, echo scenario).
    no_native_tools_server: the same with ``native_tools=False`` (vLLM without a tool parser).
    self_hosted_server: the same with ``scenario="self_hosted"`` (a bare inference server on
        ``/v1``: each reply stops at its tool call and the follow-up is checked).
    r1v4_api_key: ``"test-key"``, the key both servers accept.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server import LocalR1V4Server

__all__ = ["no_native_tools_server", "r1v4_api_key", "r1v4_server", "self_hosted_server"]

API_KEY = "test-key"


@pytest.fixture(scope="session")
def _r1v4_session_server() -> Iterator[LocalR1V4Server]:
    with LocalR1V4Server(api_key=API_KEY) as server:
        yield server


@pytest.fixture(scope="session")
def _r1v4_session_no_native_tools_server() -> Iterator[LocalR1V4Server]:
    with LocalR1V4Server(api_key=API_KEY, native_tools=False) as server:
        yield server


@pytest.fixture(scope="session")
def _r1v4_session_self_hosted_server() -> Iterator[LocalR1V4Server]:
    with LocalR1V4Server(api_key=API_KEY, scenario="self_hosted") as server:
        yield server


@pytest.fixture
def r1v4_api_key() -> str:
    """The key both servers accept."""
    return API_KEY


@pytest.fixture
def r1v4_server(_r1v4_session_server: LocalR1V4Server) -> Iterator[LocalR1V4Server]:
    """The shared local server, reset for this test."""
    _r1v4_session_server.reset()
    yield _r1v4_session_server
    _r1v4_session_server.reset()


@pytest.fixture
def no_native_tools_server(
    _r1v4_session_no_native_tools_server: LocalR1V4Server,
) -> Iterator[LocalR1V4Server]:
    """The shared server started with ``native_tools=False``, reset for this test."""
    _r1v4_session_no_native_tools_server.reset()
    yield _r1v4_session_no_native_tools_server
    _r1v4_session_no_native_tools_server.reset()


@pytest.fixture
def self_hosted_server(
    _r1v4_session_self_hosted_server: LocalR1V4Server,
) -> Iterator[LocalR1V4Server]:
    """The shared server started with ``scenario="self_hosted"``, reset for this test."""
    _r1v4_session_self_hosted_server.reset()
    yield _r1v4_session_self_hosted_server
    _r1v4_session_self_hosted_server.reset()
