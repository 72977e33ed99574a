"""Through LlamaIndex ``R1V4``, over loopback HTTP to the local server:

* exactly one attempt: a call whose stream (or body) dropped before it delivered anything is
  retried and returns the attempt that succeeded, whole (id, raw transcript, usage, trace), on
  ``chat``/``achat`` and in every response of ``stream_chat``/``astream_chat``, the last one
  equal to what that attempt alone gives;
* a choice of a wrong shape (null, without ``delta`` or ``message``) is the core's
  ``MalformedResponseError`` with the text received so far.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from attempts import ANSWER, ANSWERED, HELD, TRAJECTORY, cut, whole
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from shapes import BODY_CHOICES, POINTS, STREAM_CHOICES, body_reply, stream_reply

import r1v4
from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server


@pytest.fixture
def llm(r1v4_server: LocalR1V4Server, r1v4_api_key: str) -> R1V4:
    """The package's ``llm``, retrying after 10 ms instead of the default 0.5 s + 1 s."""
    return R1V4(api_key=r1v4_api_key, base_url=r1v4_server.base_url, backoff=0.01)


STREAMING = ("stream_chat", "astream_chat")
NON_STREAMING = ("chat", "achat")
MESSAGES = [ChatMessage(role="user", content="hi")]


def _call(llm: R1V4, way: str, responses: list[ChatResponse]) -> ChatResponse:
    """One call the given way; ``responses`` gets each streamed response as it comes."""
    if way == "chat":
        response: ChatResponse = llm.chat(MESSAGES)
        return response
    if way == "achat":
        response = asyncio.run(llm.achat(MESSAGES))
        return response
    if way == "stream_chat":
        responses.extend(llm.stream_chat(MESSAGES))
    else:

        async def go() -> None:
            async for response in await llm.astream_chat(MESSAGES):
                responses.append(response)

        asyncio.run(go())
    return responses[-1]


def _whole(response: ChatResponse) -> dict[str, Any]:
    out = response.model_dump()
    del out["raw"]["created"]  # the server stamps its clock
    return out


def _same_as_alone(llm: R1V4, server: LocalR1V4Server, way: str, got: ChatResponse) -> None:
    server.reset()
    server.enqueue(whole())
    assert _whole(got) == _whole(_call(llm, way, []))


@pytest.mark.parametrize("way", STREAMING)
@pytest.mark.parametrize("point", list(HELD))
def test_a_retried_stream_gives_the_attempt_that_succeeded(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: str, point: str
) -> None:
    r1v4_server.enqueue(cut(HELD[point]), whole())
    responses: list[ChatResponse] = []
    last = _call(llm, way, responses)
    assert [r.body["stream"] for r in r1v4_server.requests] == [True, True]
    assert {r.raw["id"] for r in responses if r.raw} == {ANSWERED}
    assert last.message.content == ANSWER
    assert last.message.additional_kwargs["raw_content"] == TRAJECTORY
    _same_as_alone(llm, r1v4_server, way, last)


@pytest.mark.parametrize("way", NON_STREAMING)
def test_a_retried_body_gives_the_attempt_that_succeeded(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: str
) -> None:
    r1v4_server.enqueue(cut(HELD["inside-a-tag"]), whole())  # the body is cut in half
    got = _call(llm, way, [])
    assert [r.body["stream"] for r in r1v4_server.requests] == [False, False]
    assert got.raw is not None and got.raw["id"] == ANSWERED
    assert got.message.additional_kwargs["raw_content"] == TRAJECTORY
    _same_as_alone(llm, r1v4_server, way, got)


@pytest.mark.parametrize("way", STREAMING)
@pytest.mark.parametrize("shape", list(STREAM_CHOICES))
@pytest.mark.parametrize("point", ["after-role", "after-text"])
def test_a_stream_chunk_of_a_wrong_shape_is_malformed(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: str, shape: str, point: str
) -> None:
    after, received = POINTS[point]
    r1v4_server.enqueue(stream_reply(shape, after))
    responses: list[ChatResponse] = []
    with pytest.raises(r1v4.MalformedResponseError) as info:
        _call(llm, way, responses)
    assert info.value.partial_content == received
    assert "".join(r.delta or "" for r in responses) == received
    assert [r.body["stream"] for r in r1v4_server.requests] == [True]


@pytest.mark.parametrize("way", NON_STREAMING)
@pytest.mark.parametrize("shape", list(BODY_CHOICES))
def test_a_body_of_a_wrong_shape_is_malformed(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: str, shape: str
) -> None:
    r1v4_server.enqueue(body_reply(shape))
    with pytest.raises(r1v4.MalformedResponseError) as info:
        _call(llm, way, [])
    assert info.value.partial_content == ""
    assert "has a choice" in str(info.value)
