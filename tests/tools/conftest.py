"""Fixtures of the tools tests: the real bubblewrap sandbox (never a stand-in: without bwrap,
building it fails and every test that needs it fails with the reason), and helpers to run one
``code`` call and read its observation."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import psutil
import pytest
from tools_support import RunCode

from r1v4.tools import BubblewrapSandbox, CodeLimits, R1V4Tools, ToolResult


@pytest.fixture(scope="session")
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox()


@pytest.fixture
def tools(sandbox: BubblewrapSandbox) -> R1V4Tools:
    return R1V4Tools(executor=sandbox)


@pytest.fixture
def run_code(sandbox: BubblewrapSandbox) -> RunCode:
    """``run_code(code, inputs=(), **limits)``: the result and its parsed observation."""

    def run(
        code: str, inputs: Sequence[Any] = (), **limits: Any
    ) -> tuple[ToolResult, dict[str, Any]]:
        tools = R1V4Tools(executor=sandbox, limits=CodeLimits(**limits))
        result = tools.run({"name": "code", "arguments": {"code": code}}, inputs)
        return result, json.loads(result.observation)

    return run


@pytest.fixture
def no_strays() -> Iterator[None]:
    """Fails the test if a process it started (the sandbox and everything in it) outlives it."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    left = [p for p in me.children(recursive=True) if p.pid not in before]
    _gone, alive = psutil.wait_procs(left, timeout=5)
    assert not alive, [(p.pid, p.name()) for p in alive]
