"""Fixtures for the LangChain adapter tests, and the explicit deselection of standard
integration tests that measure the model rather than the protocol when no API key is set."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from langchain_r1v4 import ChatR1V4
from r1v4.testing import LocalR1V4Server

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
    if hosted():
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    reasons: set[tuple[str, str]] = set()
    for item in items:
        table = getattr(getattr(item, "module", None), "LOCAL_DESELECT", None) or {}
        name = getattr(item, "originalname", item.name)
        if name in table:
            dropped.append(item)
            reasons.add((name, table[name]))
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        config.stash[_DESELECTED] = sorted(reasons)


_DESELECTED = pytest.StashKey[list[tuple[str, str]]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    deselected = terminalreporter.config.stash.get(_DESELECTED, [])
    if deselected:
        terminalreporter.section("standard tests deselected against the local server")
        for name, reason in deselected:
            terminalreporter.write_line(f"{name}: {reason}")


@pytest.fixture
def make_llm(r1v4_server: LocalR1V4Server) -> Callable[..., ChatR1V4]:
    """``make_llm(**overrides)``: a ``ChatR1V4`` pointed at the shared local server."""

    def make(**overrides: Any) -> ChatR1V4:
        params: dict[str, Any] = {"api_key": API_KEY, "base_url": r1v4_server.base_url}
        params.update(overrides)
        return ChatR1V4(**params)

    return make


class _ImageHost:
    """A tiny HTTP server that serves registered bytes, to feed image URLs to the client."""

    def __init__(self) -> None:
        files: dict[str, tuple[bytes, str]] = {}
        self.files = files
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                found = files.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                data, mime = found
                self.send_response(200)
                self.send_header("Content-Type", mime)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, data: bytes, mime: str) -> str:
        self.files[path] = (data, mime)
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def image_host() -> Iterator[_ImageHost]:
    host = _ImageHost()
    yield host
    host.close()
