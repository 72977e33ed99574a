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

from r1v4 import (
    APIConnectionError,
    AsyncR1V4Client,
    ChatCompletion,
    ChatCompletionChunk,
    R1V4Client,
    accumulate,
)
from r1v4.testing import LocalR1V4Server, Reply

KEY = "test-key"
MODEL = "skywork/r1v4-lite"
USER = [{"role": "user", "content": "hello"}]
TRAJECTORY = (
    "\n"
    '<tool_call>{"name": "code", "arguments": {"code": "print(2 + 2)"}}</tool_call>'
    '<observation>{"result": "4", "type": "code"}</observation>'
    "<think>The code printed 4.</think><answer>The sum is 4.</answer>"
)
FAILED, ANSWERED = "chatcmpl-failed", "chatcmpl-answered"


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


def _cut(sent: str) -> Reply:
    """The trajectory, its connection closed once ``sent`` is all the content it carried (an
    empty ``sent``: right after the role chunk)."""
    events = 2 if sent else 1
    return Reply(content=TRAJECTORY, chunk_size=len(sent) or 8, drop_after=events, id=FAILED)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "sent",
    ["", "\n", "\n<tool_ca", '\n<tool_call>{"name": "code", "argu'],
    ids=["role-chunk", "held-whitespace", "inside-a-tag", "inside-a-payload"],
)
def test_a_retried_stream_is_the_attempt_that_succeeded(
    r1v4_server: LocalR1V4Server, is_async: bool, sent: str
) -> None:
    r1v4_server.enqueue(_cut(sent), Reply(content=TRAJECTORY, id=ANSWERED))
    chunks: list[ChatCompletionChunk] = []
    _stream(r1v4_server, is_async, chunks)
    assert [r.response_id for r in r1v4_server.requests] == [FAILED, ANSWERED]
    assert {c.id for c in chunks} == {ANSWERED}
    assert sum(1 for c in chunks for choice in c.choices if choice.delta.role) == 1
    got = accumulate(chunks)
    assert got.message.raw_content == TRAJECTORY
    assert got.message.content == "The sum is 4."

    r1v4_server.reset()
    r1v4_server.enqueue(Reply(content=TRAJECTORY, id=ANSWERED))
    alone: list[ChatCompletionChunk] = []
    _stream(r1v4_server, is_async, alone)
    assert _timeless(got) == _timeless(accumulate(alone))  # usage and events included


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_stream_that_delivered_is_not_retried_and_keeps_its_text(
    r1v4_server: LocalR1V4Server, is_async: bool
) -> None:
    sent = TRAJECTORY[: TRAJECTORY.index("The sum") + len("The sum")]
    r1v4_server.enqueue(_cut(sent), Reply(content=TRAJECTORY, id=ANSWERED))
    chunks: list[ChatCompletionChunk] = []
    with pytest.raises(APIConnectionError) as info:
        _stream(r1v4_server, is_async, chunks)
    assert len(r1v4_server.requests) == 1
    assert {c.id for c in chunks} == {FAILED}
    got = accumulate(chunks)
    assert got.message.raw_content == sent
    assert info.value.partial_content == got.message.content == "The sum"
    assert info.value.partial_reasoning == got.message.reasoning == "The code printed 4."
    assert [type(e).__name__ for e in got.message.events] == [
        "ServerToolCall",
        "ServerToolResult",
    ]
