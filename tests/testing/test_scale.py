"""The local R1V4 server: scale: thousands of chunks and many concurrent streams."""

from __future__ import annotations

import asyncio

import httpx

from r1v4.testing import LocalR1V4Server, Reply
from testing.support import AUTH, chat_body, deltas, parse_sse, post_stream, url


def test_thousands_of_one_character_chunks(r1v4_server: LocalR1V4Server) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(5000))
    r1v4_server.enqueue(Reply(content=text, chunk_size=1, repeat=2))
    pieces: list[bytes] = []
    with (
        httpx.Client() as client,
        client.stream("POST", url(r1v4_server), json=chat_body(stream=True), headers=AUTH) as r,
    ):
        pieces.extend(r.iter_raw())
    events = parse_sse(b"".join(pieces))
    assert len(events) == 5004  # role, 5000 deltas, finish, usage, [DONE]
    # Not one write per event: the server joins back-to-back events into large writes, which
    # is what keeps thousands of deltas cheap (the client reads them in a few dozen pieces).
    assert len(pieces) < len(events) // 10
    assert deltas(events, "content") == text
    assert deltas(post_stream(r1v4_server), "content") == text  # the cached deltas serve again


async def test_many_concurrent_streams(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="concurrent " * 20, repeat=100))
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(headers=AUTH, limits=limits, timeout=30) as client:

        async def one(i: int) -> str:
            response = await client.post(url(r1v4_server), json=chat_body(str(i), stream=True))
            return deltas(parse_sse(response.content), "content")

        results = await asyncio.gather(*(one(i) for i in range(100)))
    assert results == ["concurrent " * 20] * 100
    assert len(r1v4_server.requests) == 100
