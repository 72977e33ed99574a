"""The real-server tier: llama.cpp's ``llama-server`` with SmolLM2-135M-Instruct (see
``real_server.py``), provisioned and started once per session by the fixtures below.

Every test here carries the ``real`` marker (``pytest -m real`` runs the tier alone). A server
that cannot be provisioned or started fails the tests that need it; nothing here skips.

Fixtures:
    llama: the server with ``--jinja`` and Qwen2.5's tool template: native tool calls work.
    llama_no_jinja: started with ``--no-jinja``: a request with ``tools`` gets a 500.
    llama_no_tool_template: ``--jinja`` with SmolLM2's own template, which has no tools: a
        request with ``tools`` gets a plain 200 and prose.
    real_key: the key every one of them requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deselect import deselect_listed, report_deselected
from real_server import REAL_KEY, LlamaServer, RealFiles, provision

REAL_TEST_TIMEOUT = 900  # seconds; the suite's default (pyproject) is 120
_HERE = Path(__file__).parent


def _mine(item: pytest.Item) -> bool:
    return _HERE in item.path.parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tier, and deselect by name (reason shown in the summary) the standard tests a
    module lists in ``REAL_DESELECT``."""
    for item in items:
        if _mine(item):
            item.add_marker(pytest.mark.real)
            # Not a wall-clock test: on a loaded machine llama.cpp's threads wait for each other
            # (2 threads on a 2-core machine running 8 jobs wrote ~1 token/s), and one test may
            # send 12 requests.
            item.add_marker(pytest.mark.timeout(REAL_TEST_TIMEOUT))
    deselect_listed(config, items, "REAL_DESELECT", _mine)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report_deselected(
        terminalreporter,
        "REAL_DESELECT",
        "standard tests deselected against the real llama.cpp server",
    )


@pytest.fixture(scope="session")
def real_files() -> RealFiles:
    """The server, the model and the chat template: downloaded once, cached, hash-verified."""
    return provision()


@pytest.fixture(scope="session")
def real_key() -> str:
    return REAL_KEY


@pytest.fixture(scope="session")
def llama(real_files: RealFiles) -> Iterator[LlamaServer]:
    server, model, template = real_files
    with LlamaServer(server, model, api_key=REAL_KEY, chat_template=template) as llama:
        yield llama


@pytest.fixture(scope="session")
def llama_no_jinja(real_files: RealFiles) -> Iterator[LlamaServer]:
    server, model, _ = real_files
    with LlamaServer(
        server, model, api_key=REAL_KEY, jinja=False, ctx_size=2048, parallel=1
    ) as llama:
        yield llama


@pytest.fixture(scope="session")
def llama_no_tool_template(real_files: RealFiles) -> Iterator[LlamaServer]:
    server, model, _ = real_files
    with LlamaServer(server, model, api_key=REAL_KEY, ctx_size=2048, parallel=1) as llama:
        yield llama
