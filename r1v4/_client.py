"""``R1V4Client`` and ``AsyncR1V4Client``: one pooled httpx client each, one retry layer.

Everything that is not I/O (settings, the request body, tool-mode choice, error mapping, retry
decisions, chunk parsing) lives in :class:`_Settings`, :mod:`r1v4._retry` and
:mod:`r1v4._streaming`; the two clients differ only where one awaits and the other blocks.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import json
import logging
import os
import ssl
import threading
import time
import warnings
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from r1v4._errors import (
    BadRequestError,
    IncompleteStreamError,
    InvalidRequestError,
    MalformedResponseError,
    R1V4Error,
    error_from_body,
    error_from_response,
)
from r1v4._retry import RetryPolicy, transport_error
from r1v4._sse import SSEDecoder
from r1v4._streaming import ResponseParser
from r1v4._types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ImagePart,
    ImageURL,
    TextPart,
    ToolMode,
    build_request,
)

if TYPE_CHECKING:
    import asyncio

# asyncio and the image module are imported where used: ``import r1v4`` stays cheap for a
# sync caller that sends no image.
DEFAULT_MAX_IMAGE_BYTES = 10 * 1024 * 1024

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "HOSTED_HOSTS",
    "SECRET_HEADERS",
    "AsyncR1V4Client",
    "ClientSettings",
    "R1V4Client",
    "R1V4Clients",
    "cached_clients",
    "public_headers",
]

logger = logging.getLogger("r1v4")

DEFAULT_BASE_URL = "https://api.skyworkmodel.ai/api/v1"
DEFAULT_MODEL = "skywork/r1v4-lite"
DEFAULT_TIMEOUT = 600.0
DEFAULT_CONNECT_TIMEOUT = 10.0
HOSTED_HOSTS = frozenset({"api.skyworkmodel.ai"})

_USER_AGENT = "r1v4-python/0.1"
# httpx's default pool (100 connections, 20 kept alive) queues stream 101 behind streams that
# last minutes, and httpcore re-scans its whole queue on every request and release (quadratic):
# 1,000 concurrent streams on one loop stalled for good. The openai SDK's limits, measured with
# `python -m benchmarks` (figure 4).
_POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


# Headers that carry credentials as surely as api_key does; never serialised or shown.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"}
)


def public_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """``headers`` without the ones that carry credentials (for serialising a model)."""
    if headers is None:
        return None
    return {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr | None:
    """The key as given, else ``SKYWORK_API_KEY``, as a ``SecretStr`` (or ``None``)."""
    if isinstance(api_key, SecretStr):
        return api_key if api_key.get_secret_value() else None
    value = api_key if api_key is not None else os.environ.get("SKYWORK_API_KEY")
    return SecretStr(value) if value else None


def resolve_base_url(base_url: str | None) -> str:
    """The URL as given, else ``SKYWORK_BASE_URL``, else the hosted API."""
    url = base_url or os.environ.get("SKYWORK_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """A long read timeout (R1V4 thinks for minutes) with a short connect timeout, so an
    unreachable host fails fast instead of after ten minutes."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None, connect=DEFAULT_CONNECT_TIMEOUT)
    return httpx.Timeout(timeout, connect=min(DEFAULT_CONNECT_TIMEOUT, timeout))


_ssl_lock = threading.Lock()
_ssl_ctx: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process, with the transport modules imported.

    Building a context loads the CA bundle (tens of milliseconds) and httpx imports httpcore
    (and trio, when installed) on its first client: up to 200 ms. The async client makes one
    httpx client per event loop, inside that loop, where this would block every other task; so
    it is paid once, when an r1v4 client is constructed. Contexts are safe to share.
    """
    global _ssl_ctx
    if _ssl_ctx is None:
        with _ssl_lock:
            if _ssl_ctx is None:
                import certifi
                import httpcore  # noqa: F401

                for lazy in ("httpcore._backends.anyio", "anyio._backends._asyncio"):
                    with contextlib.suppress(ImportError):  # only a warm-up: never required
                        importlib.import_module(lazy)
                _ssl_ctx = ssl.create_default_context(cafile=certifi.where())
    return _ssl_ctx


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class _Prepared:
    body: bytes
    client_tools: frozenset[str]
    native_tools: bool  # the body carries OpenAI ``tools``: a 400 may mean "no tool parser"
    request: ChatRequest


class ClientSettings:
    """What both clients share: configuration, request building, and response checks."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        tool_mode: ToolMode = "auto",
        stream_usage: bool = True,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        max_image_pixels: int | None = None,
        backoff: float = 0.5,
    ) -> None:
        if tool_mode not in ("auto", "native", "prompted"):
            raise InvalidRequestError(
                f"tool_mode must be 'auto', 'native' or 'prompted', not {tool_mode!r}"
            )
        self.api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.url = f"{self.base_url}/chat/completions"
        self.timeout = make_timeout(timeout)
        self.retry = RetryPolicy(max_retries, backoff)
        self.tool_mode: ToolMode = tool_mode
        self.stream_usage = stream_usage
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self._fell_back = False  # auto mode saw a server without tool support
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequestError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        self.hosted = parts.hostname in HOSTED_HOSTS
        if parts.scheme == "http" and self.api_key and not _is_loopback(parts.hostname):
            warnings.warn(
                f"r1v4: the API key will be sent unencrypted to {parts.hostname} over plain "
                "http; use https unless this network is trusted",
                UserWarning,
                stacklevel=3,
            )
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        headers.update(default_headers or {})
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        self._headers = headers
        self._stream_headers = {**headers, "Accept": "text/event-stream"}

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"

    # -------------------------------------------------------------- requests

    def effective_tool_mode(self, request: ChatRequest) -> Literal["native", "prompted"]:
        mode = request.tool_mode or self.tool_mode
        if mode == "auto":
            return "prompted" if self.hosted or self._fell_back else "native"
        return mode

    def coerce(self, request: ChatRequest | None, fields: dict[str, Any]) -> ChatRequest:
        if request is None:
            return build_request(**fields)
        if fields:
            return request.model_copy(update=fields)
        return request

    def images_to_inline(self, request: ChatRequest) -> list[str]:
        """Image URLs to turn into data URIs (or to validate, when they already are)."""
        return [
            part.image_url.url
            for message in request.messages
            if isinstance(message.content, list)
            for part in message.content
            if isinstance(part, ImagePart)
        ]

    def with_images(self, request: ChatRequest, uris: list[str]) -> ChatRequest:
        """A copy of ``request`` with its images replaced, in order; the caller's is untouched."""
        it = iter(uris)

        def swap(part: TextPart | ImagePart) -> TextPart | ImagePart:
            if isinstance(part, TextPart):
                return part
            return ImagePart(image_url=ImageURL(url=next(it), detail=part.image_url.detail))

        messages = [
            m.model_copy(update={"content": [swap(p) for p in m.content]})
            if isinstance(m.content, list)
            else m
            for m in request.messages
        ]
        return request.model_copy(update={"messages": messages})

    def prepare(self, request: ChatRequest) -> _Prepared:
        """The final body. Images must already be inlined."""
        client_tools = request.tool_names()
        mode = self.effective_tool_mode(request)
        if mode == "prompted" and _uses_tools(request):
            from r1v4._tool_prompt import to_prompted

            request = to_prompted(request)
        body = request.to_body()
        if request.stream and self.stream_usage and "stream_options" not in body:
            body["stream_options"] = {"include_usage": True}
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return _Prepared(data, client_tools, bool(body.get("tools")), request)

    def headers(self, stream: bool) -> dict[str, str]:
        return self._stream_headers if stream else self._headers

    # ------------------------------------------------------------- responses

    def status_error(
        self, status: int, headers: Mapping[str, str], body: bytes, prepared: _Prepared
    ) -> R1V4Error:
        return error_from_response(status, headers, body)

    def falls_back(self, err: R1V4Error, prepared: _Prepared) -> bool:
        """Whether ``err`` is a server refusing native tools in auto mode: then the request is
        resent prompted, and this client stays prompted."""
        if not (
            isinstance(err, BadRequestError)
            and prepared.native_tools
            and (prepared.request.tool_mode or self.tool_mode) == "auto"
            and _refuses_tools(err)
        ):
            return False
        # Every native request refused this way is resent, including ones already in flight
        # when an earlier refusal switched the client; only the switch itself is logged.
        if not self._fell_back:
            self._fell_back = True
            logger.info(
                "r1v4: %s refused a request with tools (%s); switching this client to "
                "tool_mode='prompted'",
                self.base_url,
                err.message,
            )
        return True

    def retry_delay(
        self, exc: R1V4Error, attempt: int, headers: Mapping[str, str] | None
    ) -> float | None:
        delay = self.retry.delay(exc, attempt, headers)
        if delay is not None:
            logger.debug("r1v4: %s; retry %d in %.2fs", exc, attempt + 1, delay)
        return delay

    def check_stream_response(self, response: httpx.Response, body: bytes) -> NoReturn:
        """Raise for a 2xx reply to a stream request that is not an event stream."""
        parsed: Any = None
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
        if isinstance(parsed, dict) and "choices" not in parsed:
            raise error_from_body(response.status_code, parsed)
        ctype = response.headers.get("content-type", "")
        raise MalformedResponseError(
            f"expected an event stream but the server sent {ctype or 'no content type'}: "
            f"{body[:200].decode('utf-8', 'replace')!r}",
            status_code=response.status_code,
            body=body[:200].decode("utf-8", "replace"),
        )


def _refuses_tools(err: R1V4Error) -> bool:
    """Whether a 400 is about tool support (vLLM: '"auto" tool choice requires
    --enable-auto-tool-choice ...'; others name 'tools' or 'tool_choice'), not, say, a too long
    prompt: only then is resending the tools as a prompt the cure."""
    text = f"{err.message} {err.code or ''}".lower()
    return "tool" in text


@contextlib.asynccontextmanager
async def _open_stream(
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


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    """``response.aiter_bytes()`` without its closing the response when the body ends (that
    close is the unshielded one :func:`_open_stream` exists to avoid)."""
    stream = response.stream
    if response.headers.get("content-encoding", "identity") in ("", "identity") and isinstance(
        stream, httpx.AsyncByteStream
    ):
        async for data in stream:
            yield data
    else:
        async for data in response.aiter_bytes():
            yield data


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _uses_tools(request: ChatRequest) -> bool:
    return bool(request.tools) or any(m.role == "tool" or m.tool_calls for m in request.messages)


def _is_event_stream(response: httpx.Response) -> bool:
    ctype: str = response.headers.get("content-type", "")
    return ctype.startswith("text/event-stream")


class _StreamReader:
    """Raw response bytes -> chunks, for one attempt of one stream."""

    __slots__ = ("decoder", "parser")

    def __init__(self, client_tools: frozenset[str]) -> None:
        self.decoder = SSEDecoder()
        self.parser = ResponseParser(client_tools)

    # Generators, not lists: when one event of a read fails (a malformed chunk, an error
    # event), the good chunks before it still reach the caller before the error does, so the
    # caller has seen exactly the ``partial_content`` the error carries.
    def feed(self, data: bytes) -> Generator[ChatCompletionChunk, None, None]:
        parser = self.parser
        if parser.done:
            return  # draining after [DONE] so the connection can go back to the pool
        for _event, payload in self.decoder.feed(data):
            if parser.done:
                break
            chunk = parser.parse_event(payload)
            if chunk is not None:
                yield chunk

    def end(self) -> Generator[ChatCompletionChunk, None, None]:
        if not self.parser.done:
            for _event, payload in self.decoder.close():
                chunk = self.parser.parse_event(payload)
                if chunk is not None:
                    yield chunk
        last = self.parser.finish()
        if last is not None:
            yield last
        if not self.parser.done:
            raise self.parser.fail(
                IncompleteStreamError("the stream ended before the server sent [DONE]")
            )


# Clients whose pooled connections must not be shared with a forked child.
_LIVE_CLIENTS: weakref.WeakSet[_HTTPOwner] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _MAKE_LOCK
    _MAKE_LOCK = threading.Lock()  # a parent thread may have held it at fork time
    for owner in list(_LIVE_CLIENTS):
        owner._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _HTTPOwner:
    def _forget_connections(self) -> None:
        raise NotImplementedError


class R1V4Client(_HTTPOwner):
    """Synchronous R1V4 client.

    One pooled ``httpx.Client`` serves every call and every thread. Pass ``http_client`` to use
    your own (it is used as given and never closed by r1v4).

    Example:
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
        self._own_http = http_client is None
        self._http_client = http_client
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()
        if self._own_http:
            shared_ssl_context()  # paid here, once per process, not on the first request
        _LIVE_CLIENTS.add(self)

    def __repr__(self) -> str:
        return f"R1V4Client(base_url={self.settings.base_url!r})"

    @property
    def http_client(self) -> httpx.Client:
        client = self._http_client
        if client is None:
            with self._lock:
                client = self._http_client
                if client is None:
                    client = self._http_client = httpx.Client(
                        timeout=self.settings.timeout,
                        follow_redirects=False,
                        verify=shared_ssl_context(),
                        limits=_POOL_LIMITS,
                    )
                    # Closed at garbage collection or interpreter exit, whichever comes first,
                    # so an object nobody closed leaves no socket behind.
                    self._finalizer = weakref.finalize(self, client.close)
        return client

    def _forget_connections(self) -> None:
        if self._own_http:
            self._http_client = None
            if self._finalizer is not None:
                self._finalizer.detach()  # the parent's sockets are the parent's to close
                self._finalizer = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the pooled connections (only if r1v4 created the client)."""
        if self._own_http and self._http_client is not None:
            self._http_client.close()
            self._http_client = None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None

    def __enter__(self) -> R1V4Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ API

    def inline_images(self, request: ChatRequest) -> ChatRequest:
        s = self.settings
        urls = s.images_to_inline(request)
        if not urls:
            return request
        from r1v4._images import image_to_data_uri

        uris = [
            image_to_data_uri(
                url,
                max_bytes=s.max_image_bytes,
                max_pixels=s.max_image_pixels,
                http_client=self.http_client,
            )
            for url in urls
        ]
        return s.with_images(request, uris)

    def create(self, request: ChatRequest | None = None, **fields: Any) -> ChatCompletion:
        """Send a non-stream request and return the parsed completion."""
        s = self.settings
        call = _Call(s, self.inline_images(s.coerce(request, {"stream": False, **fields})))
        while True:
            try:
                response = self.http_client.post(
                    s.url, content=call.prepared.body, headers=s.headers(False)
                )
            except httpx.HTTPError as exc:
                time.sleep(call.failed(transport_error(exc), exc))
                continue
            if response.status_code < 300:
                return call.completion(response.content)
            err = call.status_error(response, response.content)
            time.sleep(call.failed(err, None, response.headers))

    def stream(
        self, request: ChatRequest | None = None, **fields: Any
    ) -> Generator[ChatCompletionChunk, None, None]:
        """Send a stream request and yield chunks as they arrive.

        Breaking out of the loop (or closing the generator) closes the connection at once.
        """
        s = self.settings
        call = _Call(s, self.inline_images(s.coerce(request, {"stream": True, **fields})))
        while True:
            reader = call.new_reader()
            headers: Mapping[str, str] | None = None
            try:
                with self.http_client.stream(
                    "POST", s.url, content=call.prepared.body, headers=s.headers(True)
                ) as response:
                    headers = response.headers
                    if response.status_code >= 300 or not _is_event_stream(response):
                        call.refuse(response, response.read())
                    for data in response.iter_bytes():
                        yield from reader.feed(data)
                    yield from reader.end()
                    return
            except httpx.HTTPError as exc:
                if reader.parser.done:  # all arrived; only the connection's tail was lost
                    yield from reader.end()
                    return
                err, cause = reader.parser.fail(transport_error(exc)), exc
            except R1V4Error as exc:
                err, cause = exc, None
            time.sleep(call.failed(err, cause, headers, reader.parser.delivered))


class _Call:
    """One API call across its attempts: the body to send now, and after a failure, how long
    to wait before the next attempt (or the error to raise). Shared by the four I/O loops."""

    __slots__ = ("attempt", "prepared", "settings")

    def __init__(self, settings: ClientSettings, request: ChatRequest) -> None:
        self.settings = settings
        self.prepared = settings.prepare(request)
        self.attempt = 0

    def new_reader(self) -> _StreamReader:
        return _StreamReader(self.prepared.client_tools)

    def completion(self, body: bytes) -> ChatCompletion:
        return ResponseParser(self.prepared.client_tools).parse_completion(body)

    def status_error(self, response: httpx.Response, body: bytes) -> R1V4Error:
        return self.settings.status_error(
            response.status_code, response.headers, body, self.prepared
        )

    def refuse(self, response: httpx.Response, body: bytes) -> NoReturn:
        """Raise for a stream request answered with an error status or not as an event stream."""
        if response.status_code >= 300:
            raise self.status_error(response, body)
        self.settings.check_stream_response(response, body)

    def failed(
        self,
        err: R1V4Error,
        cause: BaseException | None,
        headers: Mapping[str, str] | None = None,
        delivered: bool = False,
    ) -> float:
        """Seconds to wait before trying again; raises ``err`` when it is final."""
        if self.settings.falls_back(err, self.prepared):
            # Resent at once without native tools; a fallback does not use up a retry.
            self.prepared = self.settings.prepare(self.prepared.request)
            return 0.0
        delay = None if delivered else self.settings.retry_delay(err, self.attempt, headers)
        if delay is None:
            raise err from cause
        self.attempt += 1
        return delay


class AsyncR1V4Client(_HTTPOwner):
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
        self._given = http_async_client
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop,
            tuple[httpx.AsyncClient, AsyncGenerator[None, None], list[bool]],
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        if http_async_client is None:
            shared_ssl_context()  # built now rather than inside the first event loop
        _LIVE_CLIENTS.add(self)

    def __repr__(self) -> str:
        return f"AsyncR1V4Client(base_url={self.settings.base_url!r})"

    def _forget_connections(self) -> None:
        self._by_loop = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    async def http_client(self) -> httpx.AsyncClient:
        """The client for the running event loop (created on first use in that loop)."""
        if self._given is not None:
            return self._given
        import asyncio

        loop = asyncio.get_running_loop()
        entry = self._by_loop.get(loop)
        if entry is not None:
            return entry[0]
        self._forget_closed_loops()
        client = httpx.AsyncClient(
            timeout=self.settings.timeout,
            follow_redirects=False,
            verify=shared_ssl_context(),
            limits=_POOL_LIMITS,
        )
        abandoned: list[bool] = []
        keeper = self._close_with_loop(client, abandoned)
        # Starting the generator registers it with the loop; asyncio.run() closes live
        # generators before it closes the loop, which is how the pool gets closed in time.
        await keeper.__anext__()
        with self._lock:
            self._by_loop[loop] = (client, keeper, abandoned)
        return client

    def _forget_closed_loops(self) -> None:
        """Drop the pools of loops closed without ``shutdown_asyncgens`` (a hand-made loop's
        ``close()``): nothing can close them any more, and the map must not keep them alive."""
        with self._lock:
            dead = [(lp, e) for lp, e in self._by_loop.items() if lp.is_closed()]
            for lp, _ in dead:
                del self._by_loop[lp]
        for _, (_client, keeper, abandoned) in dead:
            abandoned.append(True)
            # Finish the keeper here, so no finaliser later asks the closed loop to do it.
            closing = keeper.aclose()
            with contextlib.suppress(StopIteration):
                closing.send(None)

    async def _close_with_loop(
        self, client: httpx.AsyncClient, abandoned: list[bool]
    ) -> AsyncGenerator[None, None]:
        # Holds no reference to its loop: the map is keyed weakly by the loop.
        try:
            yield
        finally:
            with self._lock:
                for lp, entry in list(self._by_loop.items()):
                    if entry[0] is client:
                        del self._by_loop[lp]
            if not abandoned:
                await client.aclose()

    async def aclose(self) -> None:
        """Close the running loop's pooled connections (only if r1v4 created them)."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._by_loop.pop(loop, None)
        if entry is not None:
            await entry[1].aclose()

    async def __aenter__(self) -> AsyncR1V4Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ API

    async def inline_images(self, request: ChatRequest) -> ChatRequest:
        s = self.settings
        urls = s.images_to_inline(request)
        if not urls:
            return request
        from r1v4._images import aimage_to_data_uri

        http = await self.http_client()
        uris = [
            await aimage_to_data_uri(
                url, max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels, http_client=http
            )
            for url in urls
        ]
        return s.with_images(request, uris)

    async def create(self, request: ChatRequest | None = None, **fields: Any) -> ChatCompletion:
        """Send a non-stream request and return the parsed completion."""
        s = self.settings
        call = _Call(s, await self.inline_images(s.coerce(request, {"stream": False, **fields})))
        http = await self.http_client()
        while True:
            try:
                response = await http.post(
                    s.url, content=call.prepared.body, headers=s.headers(False)
                )
            except httpx.HTTPError as exc:
                await _sleep(call.failed(transport_error(exc), exc))
                continue
            if response.status_code < 300:
                return call.completion(response.content)
            err = call.status_error(response, response.content)
            await _sleep(call.failed(err, None, response.headers))

    async def stream(
        self, request: ChatRequest | None = None, **fields: Any
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Send a stream request and yield chunks as they arrive.

        Cancelling the task, or closing the generator, closes the connection at once.
        """
        s = self.settings
        call = _Call(s, await self.inline_images(s.coerce(request, {"stream": True, **fields})))
        http = await self.http_client()
        while True:
            reader = call.new_reader()
            headers: Mapping[str, str] | None = None
            try:
                async with _open_stream(
                    http, s.url, call.prepared.body, s.headers(True)
                ) as response:
                    headers = response.headers
                    if response.status_code >= 300 or not _is_event_stream(response):
                        call.refuse(response, await response.aread())
                    async for data in _body(response):
                        for chunk in reader.feed(data):
                            yield chunk
                    for chunk in reader.end():
                        yield chunk
                    return
            except httpx.HTTPError as exc:
                if reader.parser.done:  # all arrived; only the connection's tail was lost
                    for chunk in reader.end():
                        yield chunk
                    return
                err, cause = reader.parser.fail(transport_error(exc)), exc
            except R1V4Error as exc:
                err, cause = exc, None
            await _sleep(call.failed(err, cause, headers, reader.parser.delivered))


class R1V4Clients(_HTTPOwner):
    """The sync and async client of one model object, each made on first use.

    Both share one :class:`ClientSettings`, so what one learns (a server that refuses native
    tools) the other knows too. Framework adapters hold one of these per model object.
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        self.settings = ClientSettings(**options)
        self._http_client = http_client
        self._http_async_client = http_async_client
        self._sync: R1V4Client | None = None
        self._async: AsyncR1V4Client | None = None
        self._lock = threading.Lock()
        _LIVE_CLIENTS.add(self)

    def _forget_connections(self) -> None:
        # The clients reset their own pools; a lock held by a thread of the parent at fork
        # time would never be released in the child.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"R1V4Clients(base_url={self.settings.base_url!r})"

    @property
    def sync(self) -> R1V4Client:
        client = self._sync
        if client is None:
            with self._lock:
                client = self._sync
                if client is None:
                    client = self._sync = R1V4Client(
                        http_client=self._http_client, settings=self.settings
                    )
        return client

    @property
    def async_(self) -> AsyncR1V4Client:
        client = self._async
        if client is None:
            with self._lock:
                client = self._async
                if client is None:
                    client = self._async = AsyncR1V4Client(
                        http_async_client=self._http_async_client, settings=self.settings
                    )
        return client

    def close(self) -> None:
        """Close the sync pool now (async pools close with their event loops)."""
        if self._sync is not None:
            self._sync.close()


_MAKE_LOCK = threading.Lock()


def cached_clients(owner: object, attr: str, make: Callable[[], R1V4Clients]) -> R1V4Clients:
    """``owner.<attr>``, set to ``make()`` on first use: once, even when threads race.

    For framework model objects that keep their :class:`R1V4Clients` in a private attribute
    (``None`` until first use, and again in copies and pickles, which must build their own).
    """
    clients: R1V4Clients | None = getattr(owner, attr)
    if clients is None:
        with _MAKE_LOCK:
            clients = getattr(owner, attr)
            if clients is None:
                clients = make()
                setattr(owner, attr, clients)
    return clients
