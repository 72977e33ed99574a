"""One client object across event loops, threads and processes (issue #10), core level."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from r1v4 import AsyncR1V4Client, R1V4Client
from r1v4.testing import LocalR1V4Server

KEY = "test-key"
MODEL = "skywork/r1v4-lite"


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


LOOP_WORDS = ("event loop is closed", "never retrieved", "unclosed", "was destroyed")


def _assert_quiet(records: list[logging.LogRecord], caught: list[warnings.WarningMessage]) -> None:
    gc.collect()
    msgs = [
        r.getMessage().lower()
        for r in records
        if r.name.split(".")[0] in ("asyncio", "r1v4", "httpx", "httpcore")
    ]
    bad = [m for m in msgs if any(w in m for w in LOOP_WORDS)]
    assert bad == []
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_successive_asyncio_runs_send_one_request_each(
    r1v4_server: LocalR1V4Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = AsyncR1V4Client(api_key=KEY, base_url=r1v4_server.base_url)
    sync = R1V4Client(api_key=KEY, base_url=r1v4_server.base_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = []
        for i in range(6):
            if i % 2:
                answers.append(sync.create(model=MODEL, messages=ask(f"q{i}")).message.content)
            answers.append(
                asyncio.run(client.create(model=MODEL, messages=ask(f"a{i}"))).message.content
            )
        sync.close()
        del client
        _assert_quiet(caplog.records, caught)
    assert len(answers) == 9
    assert all(a.endswith(("a0", "q1", "a1", "q3", "a3", "q5", "a5", "a2", "a4")) for a in answers)
    assert len(r1v4_server.requests) == 9  # no request sent twice because of a loop change


def test_async_pool_is_reused_within_a_loop(r1v4_server: LocalR1V4Server) -> None:
    client = AsyncR1V4Client(api_key=KEY, base_url=r1v4_server.base_url)

    async def many() -> list[str]:
        out = []
        for i in range(10):
            out.append((await client.create(model=MODEL, messages=ask(str(i)))).message.content)
            out.append(
                "".join(
                    [
                        c.choices[0].delta.content or ""
                        async for c in client.stream(model=MODEL, messages=ask(str(i)))
                        if c.choices
                    ]
                )
            )
        return out

    before = r1v4_server.connections_opened
    out = asyncio.run(many())
    assert len(out) == 20 and all(o for o in out)
    assert r1v4_server.connections_opened - before == 1


def test_sync_pool_is_reused(r1v4_server: LocalR1V4Server) -> None:
    with R1V4Client(api_key=KEY, base_url=r1v4_server.base_url) as client:
        before = r1v4_server.connections_opened
        for i in range(10):
            client.create(model=MODEL, messages=ask(str(i)))
            list(client.stream(model=MODEL, messages=ask(str(i))))
        assert r1v4_server.connections_opened - before == 1


def test_sixteen_threads_share_one_object(r1v4_server: LocalR1V4Server) -> None:
    sync = R1V4Client(api_key=KEY, base_url=r1v4_server.base_url)
    client = AsyncR1V4Client(api_key=KEY, base_url=r1v4_server.base_url)

    def work(i: int) -> tuple[str, str]:
        a = sync.create(model=MODEL, messages=ask(f"s{i}")).message.content
        b = asyncio.run(client.create(model=MODEL, messages=ask(f"t{i}"))).message.content
        return a, b

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, range(16)))
    for i, (a, b) in enumerate(results):
        assert a.endswith(f"You said: s{i}") and b.endswith(f"You said: t{i}")
    assert len(r1v4_server.requests) == 32
    sync.close()


async def test_sync_call_inside_a_running_loop_works(r1v4_server: LocalR1V4Server) -> None:
    # As in a Jupyter cell or a FastAPI handler: the sync path must not deadlock.
    with R1V4Client(api_key=KEY, base_url=r1v4_server.base_url) as client:
        out = client.create(model=MODEL, messages=ask("inside"))
    assert out.message.content.endswith("inside")
    aclient = AsyncR1V4Client(api_key=KEY, base_url=r1v4_server.base_url)
    assert (await aclient.create(model=MODEL, messages=ask("async"))).message.content.endswith(
        "async"
    )
    await aclient.aclose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_forked_child_opens_its_own_connection(r1v4_server: LocalR1V4Server) -> None:
    client = R1V4Client(api_key=KEY, base_url=r1v4_server.base_url)
    assert client.create(model=MODEL, messages=ask("parent")).message.content
    opened = r1v4_server.connections_opened
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            ok = client.create(model=MODEL, messages=ask("child")).message.content.endswith("child")
            os.write(write_fd, b"ok" if ok else b"bad")
        except BaseException as exc:  # report, never raise in a forked pytest
            os.write(write_fd, repr(exc).encode()[:200])
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    result = os.read(read_fd, 300)
    os.close(read_fd)
    assert result == b"ok"
    assert r1v4_server.connections_opened == opened + 1  # the child did not reuse our socket
    assert client.create(model=MODEL, messages=ask("parent again")).message.content
    client.close()


def test_user_supplied_async_client_is_used_and_never_closed(r1v4_server: LocalR1V4Server) -> None:
    async def go() -> tuple[str, bool]:
        http = httpx.AsyncClient(headers={"x-mine": "yes"})
        client = AsyncR1V4Client(api_key=KEY, base_url=r1v4_server.base_url, http_async_client=http)
        out = await client.create(model=MODEL, messages=ask("mine"))
        await client.aclose()
        closed = http.is_closed
        await http.aclose()
        return out.message.content, closed

    content, closed = asyncio.run(go())
    assert content.endswith("mine") and closed is False
    assert r1v4_server.last_request.headers["x-mine"] == "yes"


def test_close_and_context_managers(r1v4_server: LocalR1V4Server) -> None:
    with R1V4Client(api_key=KEY, base_url=r1v4_server.base_url) as client:
        client.create(model=MODEL, messages=ask("x"))
        http = client.http_client
    assert http.is_closed

    async def go() -> bool:
        async with AsyncR1V4Client(api_key=KEY, base_url=r1v4_server.base_url) as aclient:
            await aclient.create(model=MODEL, messages=ask("y"))
            ahttp = await aclient.http_client()
        return ahttp.is_closed

    assert asyncio.run(go()) is True


def test_clean_interpreter_exit_after_many_loops(r1v4_server: LocalR1V4Server) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, threading
        from r1v4 import AsyncR1V4Client, R1V4Client
        client = AsyncR1V4Client(api_key="{KEY}", base_url="{r1v4_server.base_url}")
        sync = R1V4Client(api_key="{KEY}", base_url="{r1v4_server.base_url}")
        async def one(i):
            out = await client.create(model="{MODEL}", messages=[{{"role": "user", "content": str(i)}}])
            chunks = [c async for c in client.stream(model="{MODEL}", messages=[{{"role": "user", "content": str(i)}}])]
            assert out.message.content and chunks
        for i in range(4):
            asyncio.run(one(i))
            sync.create(model="{MODEL}", messages=[{{"role": "user", "content": "s"}}])
        t = threading.Thread(target=lambda: asyncio.run(one(99)))
        t.start(); t.join()
        print("done")
        """
    )
    proc = subprocess.run(
        # -W always shows every ResourceWarning; not -X dev, whose slow-callback notices would
        # make this test depend on how loaded the machine is.
        [sys.executable, "-W", "always", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert proc.stderr == ""
    assert len(r1v4_server.requests) == 4 * 3 + 2


def test_async_pool_limits_fit_a_thousand_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx's default (100) made 1,000 concurrent streams stall: the benchmark's figure 4
    # caught this line being lost once; this keeps it. The limits are read from what the pool's
    # httpx client is told, not from httpx's internals.
    from r1v4._pools import _POOL_LIMITS

    told: list[Any] = []
    init = httpx.AsyncClient.__init__

    def recording(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        told.append(kwargs.get("limits"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", recording)

    async def go() -> None:
        client = AsyncR1V4Client(api_key=KEY, base_url="http://127.0.0.1:9/v1")
        await client.http_client()
        await client.aclose()

    asyncio.run(go())
    assert _POOL_LIMITS.max_connections is not None and _POOL_LIMITS.max_connections >= 1000
    assert told == [_POOL_LIMITS]
