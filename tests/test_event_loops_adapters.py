"""One ChatR1V4 / R1V4 object across event loops, threads and processes (issue #10)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from r1v4.testing import LocalR1V4Server

KEY = "test-key"


@dataclass
class Model:
    """How to build and call one adapter, so every pattern runs on both."""

    make: Callable[[str], Any]
    ask: Callable[[Any, str], str]
    aask: Callable[[Any, str], Coroutine[Any, Any, str]]
    astream: Callable[[Any, str], Coroutine[Any, Any, str]]


def _langchain() -> Model:
    from langchain_r1v4 import ChatR1V4

    async def astream(llm: Any, text: str) -> str:
        return "".join([str(c.content) async for c in llm.astream(text)])

    async def aask(llm: Any, text: str) -> str:
        return str((await llm.ainvoke(text)).content)

    return Model(
        make=lambda url: ChatR1V4(api_key=KEY, base_url=url),
        ask=lambda llm, text: str(llm.invoke(text).content),
        aask=aask,
        astream=astream,
    )


def _llama_index() -> Model:
    from llama_index.core.llms import ChatMessage

    from llama_index_r1v4 import R1V4

    def msgs(text: str) -> list[ChatMessage]:
        return [ChatMessage(role="user", content=text)]

    async def aask(llm: Any, text: str) -> str:
        return str((await llm.achat(msgs(text))).message.content)

    async def astream(llm: Any, text: str) -> str:
        last = None
        async for r in await llm.astream_chat(msgs(text)):
            last = r
        assert last is not None
        return str(last.message.content)

    return Model(
        make=lambda url: R1V4(api_key=KEY, base_url=url),
        ask=lambda llm, text: str(llm.chat(msgs(text)).message.content),
        aask=aask,
        astream=astream,
    )


@pytest.fixture(params=["langchain", "llama_index"])
def model(request: pytest.FixtureRequest) -> Model:
    return _langchain() if request.param == "langchain" else _llama_index()


BAD_WORDS = ("event loop is closed", "never retrieved", "unclosed", "was destroyed")


def assert_quiet(records: list[logging.LogRecord], caught: list[warnings.WarningMessage]) -> None:
    gc.collect()
    bad = [r.getMessage() for r in records if any(w in r.getMessage().lower() for w in BAD_WORDS)]
    assert bad == []
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_successive_event_loops_one_request_per_call(
    model: Model, r1v4_server: LocalR1V4Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    llm = model.make(r1v4_server.base_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers: list[str] = []
        for i in range(3):
            answers.append(asyncio.run(model.aask(llm, f"a{i}")))
            answers.append(model.ask(llm, f"s{i}"))
            answers.append(asyncio.run(model.astream(llm, f"t{i}")))
        del llm
        assert_quiet(caplog.records, caught)
    expected = [f"{k}{i}" for i in range(3) for k in "ast"]
    assert [a.rsplit(" ", 1)[-1] for a in answers] == expected
    assert len(r1v4_server.requests) == 9  # nothing resent because the loop changed


def test_keep_alive_within_one_loop(model: Model, r1v4_server: LocalR1V4Server) -> None:
    llm = model.make(r1v4_server.base_url)

    async def many() -> list[str]:
        return [await model.aask(llm, str(i)) for i in range(5)] + [
            await model.astream(llm, str(i)) for i in range(5)
        ]

    before = r1v4_server.connections_opened
    assert len(asyncio.run(many())) == 10
    assert r1v4_server.connections_opened - before == 1


def test_sixteen_threads(model: Model, r1v4_server: LocalR1V4Server) -> None:
    llm = model.make(r1v4_server.base_url)

    def work(i: int) -> tuple[str, str]:
        return model.ask(llm, f"s{i}"), asyncio.run(model.aask(llm, f"a{i}"))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, range(16)))
    for i, (s, a) in enumerate(results):
        assert s.endswith(f"s{i}") and a.endswith(f"a{i}")
    assert len(r1v4_server.requests) == 32


async def test_inside_a_running_loop_async_and_sync_both_work(
    model: Model, r1v4_server: LocalR1V4Server
) -> None:
    llm = model.make(r1v4_server.base_url)
    assert (await model.aask(llm, "async")).endswith("async")
    assert (await model.astream(llm, "astream")).endswith("astream")
    # A sync call from a running loop (a Jupyter cell, a FastAPI handler) must not deadlock.
    assert model.ask(llm, "sync").endswith("sync")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_forked_worker_uses_its_own_connections(model: Model, r1v4_server: LocalR1V4Server) -> None:
    llm = model.make(r1v4_server.base_url)
    assert model.ask(llm, "parent").endswith("parent")
    opened = r1v4_server.connections_opened
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            ok = model.ask(llm, "child").endswith("child")
            ok = ok and asyncio.run(model.aask(llm, "achild")).endswith("achild")
            os.write(write_fd, b"ok" if ok else b"bad")
        except BaseException as exc:
            os.write(write_fd, repr(exc).encode()[:300])
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    result = os.read(read_fd, 400)
    os.close(read_fd)
    assert result == b"ok"
    assert r1v4_server.connections_opened >= opened + 2  # the child's own sync and async pools
    assert model.ask(llm, "parent again").endswith("parent again")


def test_langchain_batch_and_abatch_share_one_object(r1v4_server: LocalR1V4Server) -> None:
    m = _langchain()
    llm = m.make(r1v4_server.base_url)
    out = llm.batch([f"b{i}" for i in range(12)], config={"max_concurrency": 6})
    assert [str(o.content).rsplit(" ", 1)[-1] for o in out] == [f"b{i}" for i in range(12)]
    aout = asyncio.run(llm.abatch([f"c{i}" for i in range(12)], config={"max_concurrency": 6}))
    assert [str(o.content).rsplit(" ", 1)[-1] for o in aout] == [f"c{i}" for i in range(12)]
    assert len(r1v4_server.requests) == 24


def test_llama_index_asyncio_run_helper(r1v4_server: LocalR1V4Server) -> None:
    from llama_index.core.async_utils import asyncio_run

    m = _llama_index()
    llm = m.make(r1v4_server.base_url)
    answers = [asyncio_run(m.aask(llm, f"h{i}")) for i in range(3)]
    assert [a.rsplit(" ", 1)[-1] for a in answers] == ["h0", "h1", "h2"]
    assert len(r1v4_server.requests) == 3


SCRIPT = """
import asyncio, threading
from {module} import {cls}
llm = {cls}(api_key="{key}", base_url="{url}")
{ask}
for i in range(3):
    asyncio.run(aask(str(i)))
    ask("s")
t = threading.Thread(target=lambda: asyncio.run(aask("t")))
t.start(); t.join()
print("done")
"""

ASK_LC = """
async def aask(t):
    assert (await llm.ainvoke(t)).content
    assert [c async for c in llm.astream(t)]
def ask(t):
    assert llm.invoke(t).content
"""

ASK_LI = """
from llama_index.core.llms import ChatMessage
m = lambda t: [ChatMessage(role="user", content=t)]
async def aask(t):
    assert (await llm.achat(m(t))).message.content
    assert [r async for r in await llm.astream_chat(m(t))]
def ask(t):
    assert llm.chat(m(t)).message.content
"""


@pytest.mark.parametrize(
    ("module", "cls", "ask"),
    [("langchain_r1v4", "ChatR1V4", ASK_LC), ("llama_index_r1v4", "R1V4", ASK_LI)],
)
def test_interpreter_exits_clean(
    r1v4_server: LocalR1V4Server, module: str, cls: str, ask: str
) -> None:
    script = SCRIPT.format(
        module=module, cls=cls, key=KEY, url=r1v4_server.base_url, ask=textwrap.dedent(ask)
    )
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert proc.stderr == ""
    assert len(r1v4_server.requests) == 3 * 3 + 2
