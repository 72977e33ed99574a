"""``R1V4Client`` and ``AsyncR1V4Client``: the I/O of one API call, and nothing else.

Configuration is :mod:`r1v4._config`, the body :mod:`r1v4._request`, every decision between
attempts :mod:`r1v4._call` (with :mod:`r1v4._retry`), the pools :mod:`r1v4._pools`, how a
stream's connection ends :mod:`r1v4._stream_close`. The two clients differ only where one awaits
and the other blocks.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from r1v4._accumulate import accumulate
from r1v4._call import Call, is_event_stream
from r1v4._config import ClientSettings
from r1v4._errors import R1V4Error
from r1v4._pools import LoopPools, SyncPool
from r1v4._request import coerce, has_images
from r1v4._retry import transport_error
from r1v4._stream_close import adrain, body_bytes, drain, open_stream, response_bytes
from r1v4._tool_loop import ToolLoop
from r1v4._types import ChatCompletion, ChatCompletionChunk, ChatRequest

if TYPE_CHECKING:
    from r1v4.tools import R1V4Tools

__all__ = ["AsyncR1V4Client", "R1V4Client"]


class R1V4Client:
    """Synchronous R1V4 client.

    One pooled ``httpx.Client`` serves every call and every thread. Pass ``http_client`` to use
    your own (it is used as given and never closed by r1v4).

    Examples:
        >>> with R1V4Client() as client:  # doctest: +SKIP
        ...     reply = client.create(model="skywork/r1v4-lite",
        ...                           messages=[{"role": "user", "content": "Hi"}])
        ...     print(reply.message.content)
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        settings: ClientSettings | None = None,
        **options: Any,
    ) -> None:
        self.settings = settings if settings is not None else ClientSettings(**options)
        self._pool = SyncPool(self.settings.timeout, http_client)

    def __repr__(self) -> str:
        return f"R1V4Client(base_url={self.settings.base_url!r})"

    @property
    def http_client(self) -> httpx.Client:
        return self._pool.client

    def close(self) -> None:
        """Close the pooled connections (only if r1v4 created the client)."""
        self._pool.close()

    def __enter__(self) -> R1V4Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ API

    def inline_images(self, request: ChatRequest) -> ChatRequest:
        """``request`` with every image a checked data URI, under the settings' rules of what
        a message may make the client read or fetch (``allow_file_paths``,
        ``allow_private_urls``); URLs are downloaded concurrently, and once per client.

        Raises:
            ImageError: an image refused or unreadable, naming its message and part.
        """
        if not has_images(request):
            return request
        return self.settings.image_inliner().inline(request)

    def create(
        self,
        request: ChatRequest | Mapping[str, Any] | None = None,
        *,
        builtin_tools: R1V4Tools | None = None,
        **fields: Any,
    ) -> ChatCompletion:
        """Send a non-stream request and return the parsed completion.

        Args:
            request: a :class:`ChatRequest`, or a mapping of its fields.
            builtin_tools: run R1V4's own tools where the server does not (a self-hosted
                model stops after each call of them): each call the reply ends in is run
                with these tools and the conversation continued with its observation, until
                the model answers or ``max_tool_rounds`` is reached. One reply comes back,
                shaped like a hosted one (see :class:`r1v4.tools.R1V4Tools`).
            **fields: request fields, set over ``request``'s.
        """
        request = self.inline_images(coerce(request, {"stream": False, **fields}))
        if builtin_tools is not None:
            return accumulate(self._continued(ToolLoop(self.settings, request, builtin_tools)))
        call = Call(self.settings, request)
        return call.completion(self._post(call))

    def stream(
        self,
        request: ChatRequest | Mapping[str, Any] | None = None,
        *,
        builtin_tools: R1V4Tools | None = None,
        **fields: Any,
    ) -> Generator[ChatCompletionChunk, None, None]:
        """Send a stream request and yield chunks as they arrive.

        Breaking out of the loop (or closing the generator) closes the connection at once.
        ``builtin_tools`` is as for :meth:`create`: the rounds stream as one reply.
        """
        request = self.inline_images(coerce(request, {"stream": True, **fields}))
        if builtin_tools is not None:
            yield from self._continued(ToolLoop(self.settings, request, builtin_tools))
        else:
            yield from self._stream(Call(self.settings, request))

    def _continued(self, loop: ToolLoop) -> Iterator[ChatCompletionChunk]:
        """The rounds of a reply the client continues (see :mod:`r1v4._tool_loop`)."""
        while True:
            call = loop.call()
            if call.prepared.request.stream:
                for chunk in self._stream(call):
                    out = loop.take(chunk)
                    if out is not None:
                        yield out
            else:
                out = loop.take(call.completion_chunk(self._post(call)))
                if out is not None:
                    yield out
            steps = loop.steps()
            if not steps:
                break
            for step in steps:
                yield loop.answered(step, loop.tools.run(*loop.run_args(step)))
            loop.next_round()
        yield from loop.end()

    def _post(self, call: Call) -> bytes:
        """The body of a non-stream call's successful attempt."""
        s = self.settings
        while True:
            try:
                response = self.http_client.post(
                    s.url, content=call.prepared.body, headers=s.headers(False)
                )
            except httpx.HTTPError as exc:
                time.sleep(call.delay_after_lost(exc))
                continue
            if response.status_code < 300:
                return response.content
            time.sleep(call.delay_after_rejected(response))

    def _stream(self, call: Call) -> Generator[ChatCompletionChunk, None, None]:
        """A stream call's chunks, across its attempts."""
        s = self.settings
        while True:
            reader = call.new_reader()
            headers: Mapping[str, str] | None = None
            try:
                with self.http_client.stream(
                    "POST", s.url, content=call.prepared.body, headers=s.headers(True)
                ) as response:
                    headers = response.headers
                    if response.status_code >= 300 or not is_event_stream(response):
                        call.raise_refused(response, response.read())
                    body = body_bytes(response)
                    for data in body:
                        yield from reader.feed(data)
                        if reader.parser.done:
                            break  # complete at [DONE], whatever the connection does next
                    yield from reader.end()
                    if reader.parser.done:
                        drain(response, body)
                    return
            except httpx.HTTPError as exc:
                if reader.parser.done:  # all arrived; only the connection's tail was lost
                    yield from reader.end()
                    return
                err, cause = reader.parser.fail(transport_error(exc)), exc
            except R1V4Error as exc:
                err, cause = exc, None
            time.sleep(call.delay_after_failure(err, cause, headers, reader.parser.delivered))


class AsyncR1V4Client:
    """Asynchronous R1V4 client, safe to use from any number of event loops.

    Each event loop gets its own pooled ``httpx.AsyncClient``, closed when that loop shuts down
    (``asyncio.run`` finalises it), so a client made once can serve successive ``asyncio.run``
    calls without "Event loop is closed" errors or stale-connection retries. Pass
    ``http_async_client`` to use your own: it belongs to the loop you created it in, is used as
    given and is never closed by r1v4.
    """

    def __init__(
        self,
        *,
        http_async_client: httpx.AsyncClient | None = None,
        settings: ClientSettings | None = None,
        **options: Any,
    ) -> None:
        self.settings = settings if settings is not None else ClientSettings(**options)
        self._by_loop = LoopPools(self.settings.timeout, http_async_client)

    def __repr__(self) -> str:
        return f"AsyncR1V4Client(base_url={self.settings.base_url!r})"

    async def http_client(self) -> httpx.AsyncClient:
        """The client for the running event loop (created on first use in that loop)."""
        return await self._by_loop.get()

    async def aclose(self) -> None:
        """Close the running loop's pooled connections (only if r1v4 created them)."""
        await self._by_loop.close_running()

    async def __aenter__(self) -> AsyncR1V4Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ API

    async def inline_images(self, request: ChatRequest) -> ChatRequest:
        """Async :meth:`R1V4Client.inline_images`: downloads on the event loop, reading and
        encoding in a worker thread."""
        if not has_images(request):
            return request
        return await self.settings.image_inliner().ainline(request)

    async def create(
        self,
        request: ChatRequest | Mapping[str, Any] | None = None,
        *,
        builtin_tools: R1V4Tools | None = None,
        **fields: Any,
    ) -> ChatCompletion:
        """Send a non-stream request and return the parsed completion.

        ``builtin_tools`` is as for :meth:`R1V4Client.create`; the tools run without blocking
        the event loop (the sandbox in a subprocess, awaited).
        """
        request = await self.inline_images(coerce(request, {"stream": False, **fields}))
        if builtin_tools is not None:
            loop = ToolLoop(self.settings, request, builtin_tools)
            return accumulate([chunk async for chunk in self._continued(loop)])
        call = Call(self.settings, request)
        return call.completion(await self._post(call))

    async def stream(
        self,
        request: ChatRequest | Mapping[str, Any] | None = None,
        *,
        builtin_tools: R1V4Tools | None = None,
        **fields: Any,
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Send a stream request and yield chunks as they arrive.

        Cancelling the task, or closing the generator, closes the connection at once (and,
        while one of ``builtin_tools`` runs, kills it). ``builtin_tools`` is as for
        :meth:`R1V4Client.create`.
        """
        request = await self.inline_images(coerce(request, {"stream": True, **fields}))
        chunks = (
            self._continued(ToolLoop(self.settings, request, builtin_tools))
            if builtin_tools is not None
            else self._stream(Call(self.settings, request))
        )
        async for chunk in chunks:
            yield chunk

    async def _continued(self, loop: ToolLoop) -> AsyncIterator[ChatCompletionChunk]:
        """The rounds of a reply the client continues (see :mod:`r1v4._tool_loop`)."""
        while True:
            call = loop.call()
            if call.prepared.request.stream:
                async for chunk in self._stream(call):
                    out = loop.take(chunk)
                    if out is not None:
                        yield out
            else:
                out = loop.take(call.completion_chunk(await self._post(call)))
                if out is not None:
                    yield out
            steps = loop.steps()
            if not steps:
                break
            for step in steps:
                yield loop.answered(step, await loop.tools.arun(*loop.run_args(step)))
            loop.next_round()
        for chunk in loop.end():
            yield chunk

    async def _post(self, call: Call) -> bytes:
        """The body of a non-stream call's successful attempt."""
        s = self.settings
        http = await self.http_client()
        while True:
            try:
                response = await http.post(
                    s.url, content=call.prepared.body, headers=s.headers(False)
                )
            except httpx.HTTPError as exc:
                await _sleep(call.delay_after_lost(exc))
                continue
            if response.status_code < 300:
                return response.content
            await _sleep(call.delay_after_rejected(response))

    async def _stream(self, call: Call) -> AsyncGenerator[ChatCompletionChunk, None]:
        """A stream call's chunks, across its attempts."""
        s = self.settings
        http = await self.http_client()
        while True:
            reader = call.new_reader()
            headers: Mapping[str, str] | None = None
            try:
                async with open_stream(
                    http, s.url, call.prepared.body, s.headers(True)
                ) as response:
                    headers = response.headers
                    if response.status_code >= 300 or not is_event_stream(response):
                        call.raise_refused(response, await response.aread())
                    body = response_bytes(response)
                    async for data in body:
                        for chunk in reader.feed(data):
                            yield chunk
                        if reader.parser.done:
                            break  # complete at [DONE], whatever the connection does next
                    for chunk in reader.end():
                        yield chunk
                    if reader.parser.done:
                        await adrain(body)
                    return
            except httpx.HTTPError as exc:
                if reader.parser.done:  # all arrived; only the connection's tail was lost
                    for chunk in reader.end():
                        yield chunk
                    return
                err, cause = reader.parser.fail(transport_error(exc)), exc
            except R1V4Error as exc:
                err, cause = exc, None
            await _sleep(call.delay_after_failure(err, cause, headers, reader.parser.delivered))


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
