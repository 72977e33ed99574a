"""Through ``ChatR1V4``, over loopback HTTP to the local server:

* exactly one attempt: a call whose stream (or body) dropped before it delivered anything is
  retried and returns the attempt that succeeded, whole (id, raw content, usage, trace), on
  ``invoke``/``ainvoke`` (streaming or not) and the sum of ``stream``/``astream`` chunks; the
  message id is always its ``response_metadata["id"]``;
* a choice of a wrong shape (null, without ``delta`` or ``message``) is the core's
  ``MalformedResponseError`` with the text received so far.
"""

from __future__ import annotations

import asyncio
import functools
import operator
from typing import Any

import pytest
from attempts import ANSWER, ANSWERED, HELD, TRAJECTORY, cut, whole
from langchain_core.messages import BaseMessage
from shapes import BODY_CHOICES, POINTS, STREAM_CHOICES, body_reply, stream_reply

import r1v4
from langchain_r1v4 import ChatR1V4
from r1v4.testing import LocalR1V4Server

STREAMING = ("stream", "astream", "invoke-streaming", "ainvoke-streaming")
NON_STREAMING = ("invoke", "ainvoke")


def _call(llm: ChatR1V4, way: str, ids: list[str | None], parts: list[str]) -> BaseMessage:
    """One call the given way; ``ids`` and ``parts`` get each streamed chunk's id and text."""
    if way in ("stream", "astream"):
        chunks: list[Any] = []

        def take(chunk: Any) -> None:
            chunks.append(chunk)
            ids.append(chunk.id)
            if chunk.text:
                parts.append(chunk.text)

        if way == "stream":
            for chunk in llm.stream("hi"):
                take(chunk)
        else:

            async def go() -> None:
                async for chunk in llm.astream("hi"):
                    take(chunk)

            asyncio.run(go())
        return functools.reduce(operator.add, chunks)  # type: ignore[no-any-return]
    if way.startswith("invoke"):
        return llm.invoke("hi")
    return asyncio.run(llm.ainvoke("hi"))


def _model(make_llm: Any, way: str) -> ChatR1V4:
    # Only when asked: streaming=False, set, would make stream() call invoke() instead.
    kw = {"streaming": True} if way.endswith("-streaming") else {}
    llm: ChatR1V4 = make_llm(backoff=0.01, **kw)  # retry after 10 ms, not 0.5 s + 1 s
    return llm


def _same_as_alone(make_llm: Any, server: LocalR1V4Server, way: str, got: BaseMessage) -> None:
    """``got`` is what the call gives when the attempt that answered is the only one."""
    server.reset()
    server.enqueue(whole())
    alone = _call(_model(make_llm, way), way, [], [])
    assert got.model_dump() == alone.model_dump()


@pytest.mark.parametrize("way", STREAMING)
@pytest.mark.parametrize("point", list(HELD))
def test_a_retried_stream_gives_the_attempt_that_succeeded(
    make_llm: Any, r1v4_server: LocalR1V4Server, way: str, point: str
) -> None:
    r1v4_server.enqueue(cut(HELD[point]), whole())
    ids: list[str | None] = []
    msg = _call(_model(make_llm, way), way, ids, [])
    assert [r.body["stream"] for r in r1v4_server.requests] == [True, True]
    assert msg.id == msg.response_metadata["id"] == ANSWERED
    assert set(ids) <= {ANSWERED}
    assert msg.content == ANSWER
    assert msg.response_metadata["raw_content"] == TRAJECTORY
    _same_as_alone(make_llm, r1v4_server, way, msg)


@pytest.mark.parametrize("way", NON_STREAMING)
def test_a_retried_body_gives_the_attempt_that_succeeded(
    make_llm: Any, r1v4_server: LocalR1V4Server, way: str
) -> None:
    r1v4_server.enqueue(cut(HELD["inside-a-tag"]), whole())  # the body is cut in half
    msg = _call(_model(make_llm, way), way, [], [])
    assert [r.body["stream"] for r in r1v4_server.requests] == [False, False]
    assert msg.id == msg.response_metadata["id"] == ANSWERED
    assert msg.response_metadata["raw_content"] == TRAJECTORY
    _same_as_alone(make_llm, r1v4_server, way, msg)


@pytest.mark.parametrize("way", STREAMING)
@pytest.mark.parametrize("shape", list(STREAM_CHOICES))
@pytest.mark.parametrize("point", ["after-role", "after-text"])
def test_a_stream_chunk_of_a_wrong_shape_is_malformed(
    make_llm: Any, r1v4_server: LocalR1V4Server, way: str, shape: str, point: str
) -> None:
    after, received = POINTS[point]
    r1v4_server.enqueue(stream_reply(shape, after))
    parts: list[str] = []
    with pytest.raises(r1v4.MalformedResponseError) as info:
        _call(_model(make_llm, way), way, [], parts)
    assert info.value.partial_content == received
    if way in ("stream", "astream"):
        assert "".join(parts) == received
    assert [r.body["stream"] for r in r1v4_server.requests] == [True]


@pytest.mark.parametrize("way", NON_STREAMING)
@pytest.mark.parametrize("shape", list(BODY_CHOICES))
def test_a_body_of_a_wrong_shape_is_malformed(
    make_llm: Any, r1v4_server: LocalR1V4Server, way: str, shape: str
) -> None:
    r1v4_server.enqueue(body_reply(shape))
    with pytest.raises(r1v4.MalformedResponseError) as info:
        _call(_model(make_llm, way), way, [], [])
    assert info.value.partial_content == ""
    assert "has a choice" in str(info.value)
