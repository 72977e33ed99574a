"""How a stream's connection ends: closed where a cancellation cannot interrupt it
(:func:`open_stream`, encode/httpcore#1093), its body read without an unshielded close
(:func:`response_bytes`), and its tail after ``[DONE]`` read for a bounded time so the
connection can be reused (:func:`drain`, :func:`adrain`).

asyncio is imported where used: ``import r1v4`` stays cheap for a sync caller.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import httpx

__all__ = ["DONE_GRACE", "adrain", "body_bytes", "drain", "open_stream", "response_bytes"]


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
    if _identity(response) and isinstance(stream, httpx.AsyncByteStream):
        async for data in stream:
            yield data
    else:
        async for data in response.aiter_bytes():
            yield data


DONE_GRACE = 0.5
"""Seconds a stream's body may take to end after ``data: [DONE]``. The caller already has every
chunk; only the connection waits: kept for reuse when the body ends in time, else closed, so a
server or proxy that holds the connection open cannot hold the caller."""


def body_bytes(response: httpx.Response) -> Iterator[bytes]:
    """The sync client's body reader: the raw stream when nothing is to be decoded, so the
    response is closed by its ``with`` block, never by the end of the body (see :func:`drain`);
    else ``iter_bytes()``."""
    stream = response.stream
    if _identity(response) and isinstance(stream, httpx.SyncByteStream):
        return iter(stream)
    return response.iter_bytes()


def drain(response: httpx.Response, rest: Iterator[bytes], grace: float = DONE_GRACE) -> None:
    """Read what is left of a stream's body (after ``[DONE]``) for at most ``grace`` seconds.

    A body that ends in time leaves its connection to the pool when the caller's ``with`` block
    closes the response. One that does not is cut: a timer shuts the socket down (the
    ``network_stream`` response extension's ``get_extra_info("socket")``, public API of httpx
    and httpcore), the read in progress fails, and the close drops the connection. The timer
    and the end of the read agree under a lock, and the connection goes back to the pool only
    at the close, after this returns: the timer can never reach a connection another thread
    has taken. Without a raw stream and a socket (a custom transport, an encoded body) nothing
    is read, and the close drops the connection.
    """
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is None or not _identity(response):
        return
    lock = threading.Lock()
    ended = False

    def cut() -> None:
        with lock:
            if not ended:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(grace, cut)
    timer.daemon = True
    timer.start()
    try:
        for _ in rest:
            pass
    except httpx.HTTPError:
        pass  # cut, or the server closed it: the close drops the connection
    finally:
        with lock:
            ended = True
        timer.cancel()


def _identity(response: httpx.Response) -> bool:
    return response.headers.get("content-encoding", "identity") in ("", "identity")


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
