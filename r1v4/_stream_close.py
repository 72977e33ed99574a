"""How a stream's connection ends: closed where a cancellation cannot interrupt it
(:func:`open_stream`, encode/httpcore#1093), its body read without an unshielded close
(:func:`response_bytes`), and its tail after ``[DONE]`` read for a bounded time so the
connection can be reused (:func:`drain`, :func:`adrain`).

asyncio is imported where used: ``import r1v4`` stays cheap for a sync caller.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

__all__ = ["DONE_GRACE", "adrain", "drain", "open_stream", "response_bytes"]


@contextlib.asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> AsyncIterator[httpx.Response]:
    """``http.stream(...)`` with a close that a cancellation cannot interrupt.

    httpcore hands a connection back to its pool under a lock; a cancel landing there (asyncio's
    native cancellation gets through anyio's shields: encode/httpcore#1093, #1115) loses the
    pool slot for good, and a loop that cancels streams runs out of them. So the close runs in
    a task of its own that our cancellation cannot reach.
    """
    response = await http.send(
        http.build_request("POST", url, content=body, headers=headers), stream=True
    )
    try:
        yield response
    finally:
        import asyncio

        await asyncio.shield(asyncio.ensure_future(response.aclose()))


async def response_bytes(response: httpx.Response) -> AsyncIterator[bytes]:
    """``response.aiter_bytes()`` without its closing the response when the body ends (that
    close is the unshielded one :func:`open_stream` exists to avoid)."""
    stream = response.stream
    if response.headers.get("content-encoding", "identity") in ("", "identity") and isinstance(
        stream, httpx.AsyncByteStream
    ):
        async for data in stream:
            yield data
    else:
        async for data in response.aiter_bytes():
            yield data


DONE_GRACE = 0.5
"""Seconds a stream's body may take to end after ``data: [DONE]``. The caller already has every
chunk; only the connection waits: kept for reuse when the body ends in time, else closed, so a
server or proxy that holds the connection open cannot hold the caller."""


def drain(response: httpx.Response, rest: Iterator[bytes], grace: float = DONE_GRACE) -> None:
    """Read what is left of a stream's body (after ``[DONE]``) for at most ``grace`` seconds.

    A body that ends in time leaves its connection to the pool. Otherwise the read times out and
    httpcore closes the connection. The bound comes from the connection's own socket reads (the
    ``network_stream`` extension), for this thread only: the pool may hand the same connection
    to another thread the moment the body ends. With no network stream (a custom transport)
    nothing is read, and closing the response drops the connection.
    """
    stream = response.extensions.get("network_stream")
    read = getattr(stream, "read", None)
    if read is None:
        return
    deadline = time.monotonic() + grace
    me = threading.get_ident()

    def bounded(max_bytes: int, timeout: float | None = None) -> Any:
        if threading.get_ident() == me:
            timeout = max(0.001, deadline - time.monotonic())
        return read(max_bytes, timeout)

    try:
        stream.read = bounded  # type: ignore[union-attr]
        for _ in rest:
            pass
    except (httpx.HTTPError, AttributeError):
        pass  # the body did not end in time (or the stream cannot be bounded): closed
    finally:
        with contextlib.suppress(AttributeError):
            del stream.read  # type: ignore[union-attr]


async def adrain(rest: AsyncIterator[bytes], grace: float = DONE_GRACE) -> None:
    """:func:`drain` for the async client: the wait is bounded by a timeout around the reads; a
    body that does not end in time is left unread and :func:`open_stream`'s close drops the
    connection."""
    import asyncio

    async def consume() -> None:
        async for _ in rest:
            pass

    with contextlib.suppress(asyncio.TimeoutError, httpx.HTTPError):
        await asyncio.wait_for(consume(), grace)
