"""What the caller does to a call in flight: abandon a stream, or batch many calls of which some
fail. See ``matrix.CLIENT_CHECKS``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from r1v4 import BadRequestError
from r1v4.testing import LocalR1V4Server, RecordedRequest, Reply
from reliability.support.leakcheck import SECRET
from reliability.support.paths import PATHS, Call, Path, Settings, aclose_langchain, close_langchain

SYNC_STREAMS = [p.name for p in PATHS.values() if p.stream and not p.is_async]
ASYNC_STREAMS = [p.name for p in PATHS.values() if p.stream and p.is_async]

# An answer that would take about a minute to stream: only closing the connection ends it early.
SLOW = Reply(content="x" * 30_000, chunk_size=1, chunk_delay=0.002)


def _close(path: Path, obj: Any) -> None:
    if path.framework == "langchain":
        close_langchain(obj)
    else:
        obj.close()


async def _aclose(path: Path, obj: Any) -> None:
    if path.framework == "langchain":
        await aclose_langchain(obj)
    else:
        await obj.aclose()


def _assert_abandoned(server: LocalR1V4Server, record: RecordedRequest) -> None:
    assert record.disconnected, "the server did not see the client go away"
    assert not record.completed
    assert len(server.requests) == 1
    assert server.connections_open == 0  # closed, not parked in the pool


@pytest.mark.parametrize("client_check", ["break-sync-stream"])
@pytest.mark.parametrize("path", SYNC_STREAMS)
def test_breaking_out_of_a_sync_stream_closes_the_connection(
    client_check: str, path: str, server: LocalR1V4Server
) -> None:
    p = PATHS[path]
    assert p.make is not None and p.iterate is not None
    server.enqueue(SLOW)
    obj = p.make(server.base_url, Settings(api_key=SECRET))  # kept alive: only the break acts
    got: list[str] = []
    for part in p.iterate(obj, Call()):
        got.append(part)
        if len(got) == 3:
            break
    record = server.wait_for_disconnect(0, timeout=10)
    assert got == ["x", "x", "x"]
    _assert_abandoned(server, record)
    # The object stays usable: the next call gets a fresh connection and a whole answer.
    server.enqueue(Reply(content="again"))
    assert "".join(p.iterate(obj, Call())) == "again"
    _close(p, obj)


@pytest.mark.parametrize("client_check", ["cancel-async-stream"])
@pytest.mark.parametrize("path", ASYNC_STREAMS)
def test_cancelling_an_async_stream_closes_the_connection(
    client_check: str, path: str, server: LocalR1V4Server
) -> None:
    p = PATHS[path]
    make, iterate = p.make, p.iterate
    assert make is not None and iterate is not None
    server.enqueue(SLOW)

    async def go() -> None:
        obj = make(server.base_url, Settings(api_key=SECRET))
        got: list[str] = []
        started = asyncio.Event()

        async def consume() -> None:
            async for part in iterate(obj, Call()):
                got.append(part)
                if len(got) == 3:
                    started.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        record = await asyncio.to_thread(server.wait_for_disconnect, 0, 10)
        _assert_abandoned(server, record)
        server.enqueue(Reply(content="again"))
        assert "".join([part async for part in iterate(obj, Call())]) == "again"
        await _aclose(p, obj)

    asyncio.run(go())


MARK = "PLEASE-FAIL"
FAILING = {7, 19, 40, 61, 88, 100, 133, 150, 177, 199}


def _batch_inputs() -> list[str]:
    return [f"question {i}" + (f" {MARK}" if i in FAILING else "") for i in range(200)]


def _fail_marked(request: RecordedRequest) -> Reply:
    text = request.last_user_text
    if MARK in text:
        return Reply(status=400, body={"code": 400302, "code_msg": f"refused: {text}"})
    return Reply(content=f"answer to {text}")


def _check_batch(inputs: list[str], results: list[Any], server: LocalR1V4Server) -> None:
    from langchain_core.messages import AIMessage

    assert len(results) == 200
    errors = []
    for i, (text, result) in enumerate(zip(inputs, results, strict=False)):
        if i in FAILING:
            assert type(result) is BadRequestError, f"#{i}: {result!r}"
            assert result.status_code == 400 and result.message == f"refused: {text}"
            errors.append(result)
        else:
            assert isinstance(result, AIMessage), f"#{i}: {result!r}"
            assert result.content == f"answer to {text}"
    assert len(errors) == 10
    assert len(server.requests) == 200  # a 400 is never retried


@pytest.mark.parametrize("client_check", ["lc-batch-return-exceptions"])
def test_langchain_batch_returns_the_answers_and_reports_the_failures(
    client_check: str, server: LocalR1V4Server
) -> None:
    from langchain_r1v4 import ChatR1V4

    server.enqueue(*[_fail_marked] * 200)
    inputs = _batch_inputs()
    llm = ChatR1V4(api_key=SECRET, base_url=server.base_url, max_retries=2)
    results = llm.batch(
        list(inputs),  # a list of LanguageModelInput (list is invariant)
        config={"max_concurrency": 16},
        return_exceptions=True,
    )
    _check_batch(inputs, results, server)
    llm.client.close()


@pytest.mark.parametrize("client_check", ["lc-abatch-return-exceptions"])
def test_langchain_abatch_returns_the_answers_and_reports_the_failures(
    client_check: str, server: LocalR1V4Server
) -> None:
    from langchain_r1v4 import ChatR1V4

    server.enqueue(*[_fail_marked] * 200)
    inputs = _batch_inputs()

    async def go() -> list[Any]:
        llm = ChatR1V4(api_key=SECRET, base_url=server.base_url, max_retries=2)
        try:
            return await llm.abatch(list(inputs), return_exceptions=True)
        finally:
            await llm.async_client.aclose()

    _check_batch(inputs, asyncio.run(go()), server)
