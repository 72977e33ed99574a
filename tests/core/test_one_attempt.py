"""Exactly one attempt on the core's stream paths, over loopback HTTP to the local server.

A stream dropped before it delivered anything is retried; the caller must then get the attempt
that succeeded and nothing of the one that failed (its role chunk, the raw text of a tag its
transcript was holding back, its id), so that ``accumulate`` gives what that attempt alone gives.
Once text was delivered the stream is not retried: the error keeps the text, all of one attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from attempts import ANSWER, ANSWERED, DELIVERED, FAILED, HELD, REASONING, TRAJECTORY, cut, whole

from r1v4 import (
    APIConnectionError,
    AsyncR1V4Client,
    ChatCompletion,
    ChatCompletionChunk,
    R1V4Client,
    accumulate,
)
from r1v4.testing import LocalR1V4Server

KEY = "test-key"
MODEL = "skywork/r1v4-lite"
USER = [{"role": "user", "content": "hello"}]


def _stream(server: LocalR1V4Server, is_async: bool, into: list[ChatCompletionChunk]) -> None:
    kw: dict[str, Any] = {"api_key": KEY, "base_url": server.base_url, "backoff": 0.01}
    if not is_async:
        with R1V4Client(**kw) as client:
            into.extend(client.stream(model=MODEL, messages=USER))
        return

    async def go() -> None:
        async with AsyncR1V4Client(**kw) as client:
            async for chunk in client.stream(model=MODEL, messages=USER):
                into.append(chunk)

    asyncio.run(go())


def _timeless(completion: ChatCompletion) -> ChatCompletion:
    return dataclasses.replace(completion, created=0)  # the server stamps its clock


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("point", list(HELD))
def test_a_retried_stream_is_the_attempt_that_succeeded(
    r1v4_server: LocalR1V4Server, is_async: bool, point: str
) -> None:
    r1v4_server.enqueue(cut(HELD[point]), whole())
    chunks: list[ChatCompletionChunk] = []
    _stream(r1v4_server, is_async, chunks)
    assert [r.response_id for r in r1v4_server.requests] == [FAILED, ANSWERED]
    assert {c.id for c in chunks} == {ANSWERED}
    assert sum(1 for c in chunks for choice in c.choices if choice.delta.role) == 1
    got = accumulate(chunks)
    assert got.message.raw_content == TRAJECTORY
    assert got.message.content == ANSWER

    r1v4_server.reset()
    r1v4_server.enqueue(whole())
    alone: list[ChatCompletionChunk] = []
    _stream(r1v4_server, is_async, alone)
    assert _timeless(got) == _timeless(accumulate(alone))  # usage and events included


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_stream_that_delivered_is_not_retried_and_keeps_its_text(
    r1v4_server: LocalR1V4Server, is_async: bool
) -> None:
    r1v4_server.enqueue(cut(DELIVERED), whole())
    chunks: list[ChatCompletionChunk] = []
    with pytest.raises(APIConnectionError) as info:
        _stream(r1v4_server, is_async, chunks)
    assert len(r1v4_server.requests) == 1
    assert {c.id for c in chunks} == {FAILED}
    got = accumulate(chunks)
    assert got.message.raw_content == DELIVERED
    assert info.value.partial_content == got.message.content == "The sum"
    assert info.value.partial_reasoning == got.message.reasoning == REASONING
    assert [type(e).__name__ for e in got.message.events] == [
        "ServerToolCall",
        "ServerToolResult",
    ]
