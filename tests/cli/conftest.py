"""Fixtures of the batch tests: the agent-scenario local server with a distinctive key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from batch_helpers import KEY

from r1v4.testing import LocalR1V4Server


@pytest.fixture(scope="module")
def agent_server() -> Iterator[LocalR1V4Server]:
    with LocalR1V4Server(api_key=KEY, scenario="agent") as server:
        yield server


@pytest.fixture
def server(agent_server: LocalR1V4Server) -> Iterator[LocalR1V4Server]:
    agent_server.reset()
    yield agent_server
    agent_server.reset()


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SKYWORK_API_KEY", KEY)
    monkeypatch.delenv("SKYWORK_BASE_URL", raising=False)
    return KEY
