"""A choice that is null, a stream choice without ``delta``, a body choice without ``message``:
each is a :class:`MalformedResponseError` carrying the text received so far, on the four core
paths (sync and async, stream and not), over loopback HTTP to the local server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from shapes import BODY_CHOICES, MODEL, POINTS, STREAM_CHOICES, body_reply, stream_reply

from r1v4 import AsyncR1V4Client, MalformedResponseError, R1V4Client
from r1v4.testing import LocalR1V4Server, Reply

KEY = "test-key"
USER = [{"role": "user", "content": "hello"}]


def _kw(server: LocalR1V4Server) -> dict[str, Any]:
    return {"api_key": KEY, "base_url": server.base_url, "backoff": 0.01}


def _stream(server: LocalR1V4Server, is_async: bool, seen: list[str]) -> None:
    """Stream to the end, putting each answer delta in ``seen`` as it comes."""

    def take(chunk: Any) -> None:
        seen.extend(c.delta.content for c in chunk.choices if c.delta.content)

    if not is_async:
        with R1V4Client(**_kw(server)) as client:
            for chunk in client.stream(model=MODEL, messages=USER):
                take(chunk)
        return

    async def go() -> None:
        async with AsyncR1V4Client(**_kw(server)) as client:
            async for chunk in client.stream(model=MODEL, messages=USER):
                take(chunk)

    asyncio.run(go())


def _create(server: LocalR1V4Server, is_async: bool) -> Any:
    if not is_async:
        with R1V4Client(**_kw(server)) as client:
            return client.create(model=MODEL, messages=USER)

    async def go() -> Any:
        async with AsyncR1V4Client(**_kw(server)) as client:
            return await client.create(model=MODEL, messages=USER)

    return asyncio.run(go())


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("shape", list(STREAM_CHOICES))
@pytest.mark.parametrize("point", list(POINTS))
def test_a_stream_chunk_of_a_wrong_shape(
    r1v4_server: LocalR1V4Server, is_async: bool, shape: str, point: str
) -> None:
    after, received = POINTS[point]
    r1v4_server.enqueue(stream_reply(shape, after))
    seen: list[str] = []
    with pytest.raises(MalformedResponseError) as info:
        _stream(r1v4_server, is_async, seen)
    assert info.value.partial_content == "".join(seen) == received
    assert "stream chunk has a choice" in str(info.value)
    assert len(r1v4_server.requests) == 1  # a server that says nonsense is not asked again


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("shape", list(BODY_CHOICES))
def test_a_body_of_a_wrong_shape(r1v4_server: LocalR1V4Server, is_async: bool, shape: str) -> None:
    r1v4_server.enqueue(body_reply(shape))
    with pytest.raises(MalformedResponseError) as info:
        _create(r1v4_server, is_async)
    assert info.value.partial_content == ""
    assert "response has a choice" in str(info.value)
    assert info.value.body is not None and "chatcmpl-shape" in info.value.body
    assert len(r1v4_server.requests) == 1


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_body_keeps_the_text_of_the_choices_before_the_wrong_one(
    r1v4_server: LocalR1V4Server, is_async: bool
) -> None:
    good = {
        "index": 0,
        "message": {"role": "assistant", "content": "first"},
        "finish_reason": "stop",
    }
    r1v4_server.enqueue(Reply(status=200, body={"id": "c", "choices": [good, None]}))
    with pytest.raises(MalformedResponseError) as info:
        _create(r1v4_server, is_async)
    assert info.value.partial_content == "first"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_body_with_no_choice_is_malformed(r1v4_server: LocalR1V4Server, is_async: bool) -> None:
    """``"choices": []`` in a whole reply: no message to give, so a typed error, not an
    ``IndexError`` on ``completion.message``."""
    usage = {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}
    r1v4_server.enqueue(Reply(status=200, body={"id": "c", "choices": [], "usage": usage}))
    with pytest.raises(MalformedResponseError, match="response has no choices") as info:
        _create(r1v4_server, is_async)
    assert info.value.partial_content == ""
    assert len(r1v4_server.requests) == 1
