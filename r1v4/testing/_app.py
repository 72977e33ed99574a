"""The ASGI application: routing, auth, validation, scripted replies and fault injection.

Written against raw ASGI rather than a framework's Response classes because the faults need
control of every write: drops mid-body, stalls, one-byte writes, and knowing the moment a client
goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any, Literal

from ._followups import Rounds, StoppedRound, whole
from ._rounds import scenario_rounds
from ._script import ImageInfo, RecordedRequest, Reply, Script
from ._transcripts import scenario_transcript
from ._validation import ChatRequest, decode_image, parse_body, validate_chat
from ._wire import (
    CODES,
    DONE,
    MALFORMED,
    Rejection,
    Resolved,
    dumps,
    error_body,
    error_event,
    hosted_error,
    injected_event,
    openai_error,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Shape = Literal["hosted", "openai"]
Scenario = Literal["echo", "agent", "self_hosted"]

CHAT_PATHS = frozenset({"/api/v1/chat/completions", "/v1/chat/completions"})
MODEL_PATHS = frozenset({"/api/v1/models", "/v1/models"})
DEFAULT_MODELS = ("skywork/r1v4-lite", "skywork/r1v4-vl-planner-lite", "Skywork/R1V4")

# Images above this many bytes in one request are decoded off the event loop, so one big upload
# does not stall every other stream the server is serving.
_DECODE_INLINE_LIMIT = 256 * 1024
# Events written back to back are joined into writes of about this size: far fewer syscalls when a
# reply has thousands of tiny deltas; the byte stream the client sees is the same.
_COALESCE_BYTES = 16 * 1024
_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


class ConnectionTracker:
    """Counts TCP connections and keeps each live transport, keyed by the client address."""

    def __init__(self) -> None:
        self.opened = 0
        self.transports: dict[tuple[str, int], asyncio.BaseTransport] = {}

    def made(self, key: tuple[str, int] | None, transport: asyncio.BaseTransport) -> None:
        self.opened += 1
        if key is not None:
            self.transports[key] = transport

    def lost(self, key: tuple[str, int] | None, transport: asyncio.BaseTransport) -> None:
        # Only forget this very transport: a new connection may already reuse the address.
        if key is not None and self.transports.get(key) is transport:
            del self.transports[key]

    def abort_all(self) -> None:
        for transport in list(self.transports.values()):
            transport.abort()  # type: ignore[attr-defined]


class _Exchange:
    """Per-request state shared by the producer and the disconnect watcher."""

    __slots__ = ("closing", "completed", "record", "transport")

    def __init__(self, record: RecordedRequest, transport: asyncio.BaseTransport | None) -> None:
        self.record = record
        self.transport = transport
        self.completed = False  # the last body message is being / has been sent
        self.closing = False  # the server itself is closing the connection


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def echo_text(images: list[ImageInfo], user_text: str) -> str:
    """The echo scenario's reply: proves what arrived, e.g. ``I saw 1 image(s): PNG 4x3. ...``."""
    seen = f": {', '.join(image.describe() for image in images)}" if images else ""
    return f"I saw {len(images)} image(s){seen}. You said: {user_text}"


class R1V4App:
    """The ASGI app behind :class:`~r1v4.testing.LocalR1V4Server`."""

    def __init__(
        self,
        *,
        api_key: str | None,
        native_tools: bool,
        scenario: Scenario,
        models: Collection[str],
        script: Script,
        on_request: Callable[[RecordedRequest], None],
    ) -> None:
        self.api_key = api_key
        self.native_tools = native_tools
        self.scenario = scenario
        self.models = frozenset(models)
        self.script = script
        self.on_request = on_request
        self.tracker = ConnectionTracker()
        self.rounds = Rounds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        path: str = scope["path"]
        record = RecordedRequest(
            method=scope["method"], path=path, headers=_headers(scope), body=None, raw_body=raw
        )
        if raw:
            with contextlib.suppress(Rejection):
                record.body = parse_body(raw)
        self.on_request(record)
        client = scope.get("client")
        key = (client[0], client[1]) if client else None
        exchange = _Exchange(record, self.tracker.transports.get(key) if key else None)
        try:
            await self._supervise(exchange, scope, receive, send)
        finally:
            record._finished.set()

    async def _supervise(
        self, exchange: _Exchange, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the response while watching for the client going away; cancel it if it does."""

        async def watch() -> None:
            message = await receive()
            if (
                message["type"] == "http.disconnect"
                and not exchange.completed
                and not exchange.closing
            ):
                exchange.record.disconnected = True

        producer = asyncio.ensure_future(self._respond(exchange, scope, send))
        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait((producer, watcher), return_when=asyncio.FIRST_COMPLETED)
            if not producer.done():
                producer.cancel()
            try:
                await producer
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                # A server bug or a reply factory that raised: say so in the record, and answer
                # 500 when nothing was sent yet instead of leaving uvicorn to log and reply.
                exchange.record.error = "".join(traceback.format_exception(exc))
                if exchange.record.status is not None or exchange.closing:
                    raise
                shape: Shape = "hosted" if exchange.record.path.startswith("/api/") else "openai"
                message = f"local R1V4 server error: {exc!r}"
                await self._send_json(exchange, send, 500, error_body(500, shape, message))
            if exchange.closing:
                # Wait for the transport to report the close, so the server never sees a response
                # that was abandoned while the connection looked alive (and logs no error).
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(watcher), 5.0)
        except asyncio.CancelledError:
            # Only at server shutdown: end quietly; the connection is aborted already.
            producer.cancel()
        finally:
            watcher.cancel()

    async def _respond(self, exchange: _Exchange, scope: Scope, send: Send) -> None:
        record = exchange.record
        shape: Shape = "hosted" if record.path.startswith("/api/") else "openai"
        try:
            if record.path not in CHAT_PATHS and record.path not in MODEL_PATHS:
                raise Rejection(404, CODES["not_found"], f"No route for {record.path}")
            expected = "POST" if record.path in CHAT_PATHS else "GET"
            if record.method != expected:
                raise Rejection(
                    405, CODES["method_not_allowed"], f"Method {record.method} not allowed"
                )
            self._check_auth(record)
            if record.path in MODEL_PATHS:
                await self._send_json(exchange, send, 200, self._model_list())
                return
            body = parse_body(record.raw_body)
            request = validate_chat(body, models=self.models, native_tools=self.native_tools)
            record.images = await self._decode_images(request)
            # A follow-up of a self-hosted round is checked before it may take a reply.
            if len(record.raw_body) > _DECODE_INLINE_LIMIT:
                followed = await asyncio.to_thread(self.rounds.follow, record)
            else:
                followed = self.rounds.follow(record)
        except Rejection as rejection:
            await self._send_json(exchange, send, rejection.status, rejection.body(shape))
            return
        stopped: StoppedRound | None = None
        try:
            rest: tuple[Reply, ...] = ()
            cache: dict[str, Any] = {}
            if followed is not None and followed.rest:
                # The scenario's conversation goes on: its next round answers the follow-up.
                reply, rest = followed.rest[0], followed.rest[1:]
            else:
                entry = self.script.pop()
                cache = entry.cache if entry else {}
                if entry is None:
                    reply, rest = await self._default_reply(record, request)
                elif isinstance(entry.source, Reply):
                    reply = entry.source
                else:
                    reply = entry.source(record)
            record.reply = reply
            if reply.followup is not None and whole(reply):
                round_ = followed.round + 1 if followed is not None else 0
                stopped = self.rounds.stop(record, reply, round_, rest)
            await self._play(exchange, send, reply, request, shape, cache)
        finally:
            if not (record.completed and record.reply is not None and whole(record.reply)):
                # The client did not get this reply whole: the round it stops waits for
                # nothing, and the round it answers waits again for the client's retry.
                if stopped is not None:
                    self.rounds.forget(stopped)
                if followed is not None:
                    self.rounds.restore(followed)

    def _check_auth(self, record: RecordedRequest) -> None:
        if self.api_key is None:
            return
        scheme, _, token = record.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.api_key:
            raise Rejection(401, CODES["invalid_api_key"], "Invalid API key")

    def _model_list(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": model, "object": "model", "created": 0, "owned_by": "skywork"}
                for model in sorted(self.models)
            ],
        }

    async def _decode_images(self, request: ChatRequest) -> list[ImageInfo]:
        def decode_all() -> list[ImageInfo]:
            return [
                decode_image(data, mime, f"image {i}")
                for i, (data, mime) in enumerate(
                    zip(request.images, request.mime_types, strict=True)
                )
            ]

        if sum(len(data) for data in request.images) > _DECODE_INLINE_LIMIT:
            return await asyncio.to_thread(decode_all)
        return decode_all()

    async def _default_reply(
        self, record: RecordedRequest, request: ChatRequest
    ) -> tuple[Reply, tuple[Reply, ...]]:
        """The scenario's reply, and the rounds that follow it (self-hosted scenario)."""
        if self.scenario == "self_hosted" and record.path == "/v1/chat/completions":
            first, *rest = scenario_rounds(
                request.model, request.enable_search, record.last_user_text, record.images
            )
            return first, tuple(rest)
        if self.scenario in ("agent", "self_hosted"):
            # The hosted API runs its tools itself: on /api/v1 the trajectory comes whole.
            args = (request.model, request.enable_search, record.last_user_text, request.images)
            # The general transcript crops the first image with Pillow: off the loop when large.
            if request.images and len(request.images[0]) > _DECODE_INLINE_LIMIT:
                return Reply(content=await asyncio.to_thread(scenario_transcript, *args)), ()
            return Reply(content=scenario_transcript(*args)), ()
        return Reply(content=echo_text(record.images, record.last_user_text)), ()

    # -- sending -------------------------------------------------------------------------------

    async def _start(
        self,
        exchange: _Exchange,
        send: Send,
        status: int,
        headers: list[tuple[bytes, bytes]],
        extra: dict[str, str] | None = None,
    ) -> None:
        if extra:
            names = {name.lower().encode("latin-1") for name in extra}
            headers = [h for h in headers if h[0] not in names]
            headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()
            ]
        exchange.record.status = status
        exchange.record.responded_at = time.monotonic()
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _finish(self, exchange: _Exchange, send: Send, body: bytes = b"") -> None:
        exchange.completed = True
        await send({"type": "http.response.body", "body": body, "more_body": False})
        exchange.record.completed_at = time.monotonic()
        exchange.record.completed = True

    async def _send_json(
        self,
        exchange: _Exchange,
        send: Send,
        status: int,
        payload: Any,
        extra: dict[str, str] | None = None,
    ) -> None:
        body = dumps(payload)
        headers = [_JSON, (b"content-length", str(len(body)).encode())]
        await self._start(exchange, send, status, headers, extra)
        await self._finish(exchange, send, body)

    async def _drop(self, exchange: _Exchange, mode: str) -> None:
        """Close the TCP connection without finishing the HTTP message."""
        exchange.closing = True
        transport = exchange.transport
        if transport is None:  # not served through LocalR1V4Server's protocol: nothing to close
            raise RuntimeError("drop faults need the connection tracking of LocalR1V4Server")
        if mode == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0 makes close() send RST instead of FIN: a real "connection reset".
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()  # type: ignore[attr-defined]
        else:
            # close() flushes what was written, then FIN: the client gets every event before the
            # drop and then an incomplete body.
            transport.close()

    async def _play(
        self,
        exchange: _Exchange,
        send: Send,
        reply: Reply,
        request: ChatRequest,
        shape: Shape,
        cache: dict[str, Any],
    ) -> None:
        if reply.first_byte_delay > 0:
            await asyncio.sleep(reply.first_byte_delay)
        if reply.drop_before_headers:
            await self._drop(exchange, reply.drop_mode)
            return
        if reply.status != 200 or (reply.body is not None and reply.error_event_after is None):
            await self._send_error(exchange, send, reply, shape)
            return
        resolved = Resolved.make(
            reply,
            model=request.model,
            prompt_tokens=request.prompt_words + 85 * len(request.images),
            created=int(time.time()),
        )
        exchange.record.response_id = resolved.completion_id
        request_id = {"x-request-id": f"req-{uuid.uuid4().hex[:16]}"}
        if not request.stream:
            body = dumps(resolved.completion())
            headers = [_JSON, (b"content-length", str(len(body)).encode())]
            await self._start(exchange, send, 200, headers, {**request_id, **reply.headers})
            if reply.drop_after is not None:
                if reply.drop_after > 0:
                    await send(
                        {
                            "type": "http.response.body",
                            "body": body[: len(body) // 2],
                            "more_body": True,
                        }
                    )
                await self._drop(exchange, reply.drop_mode)
                return
            await self._finish(exchange, send, body)
            return
        include_usage = shape == "hosted" or request.include_usage
        events = resolved.events(cache, include_usage=include_usage)
        await self._start(exchange, send, 200, list(_SSE_HEADERS), {**request_id, **reply.headers})
        await self._stream(exchange, send, reply, events, shape)

    async def _send_error(
        self, exchange: _Exchange, send: Send, reply: Reply, shape: Shape
    ) -> None:
        payload = reply.body if reply.body is not None else error_body(reply.status, shape)
        if isinstance(payload, (dict, list)):
            await self._send_json(exchange, send, reply.status, payload, reply.headers)
            return
        if isinstance(payload, str):
            body = payload.encode()
            kind = (
                b"text/html; charset=utf-8" if payload.lstrip().startswith("<") else b"text/plain"
            )
        else:
            body = bytes(payload)
            kind = b"application/octet-stream"
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await self._start(exchange, send, reply.status, headers, reply.headers)
        await self._finish(exchange, send, body)

    async def _stream(
        self, exchange: _Exchange, send: Send, reply: Reply, events: list[bytes], shape: Shape
    ) -> None:
        if reply.no_done and events[-1] == DONE:
            events = events[:-1]
        pending: list[bytes] = []
        pending_size = 0

        async def write(data: bytes) -> None:
            if reply.trickle:
                for i in range(len(data)):
                    await send(
                        {"type": "http.response.body", "body": data[i : i + 1], "more_body": True}
                    )
                    # Yield so each byte leaves in its own write rather than one burst.
                    await asyncio.sleep(0)
            else:
                await send({"type": "http.response.body", "body": data, "more_body": True})

        async def flush() -> None:
            nonlocal pending_size
            if pending:
                data = b"".join(pending)
                pending.clear()
                pending_size = 0
                await write(data)

        # Every fault point flushes first: the good events leave in their own write, as from a
        # real server, so a client can show them before it meets the fault.
        for index, event in enumerate(events):
            if index == reply.malformed_after:
                await flush()
                pending.append(MALFORMED)
            if index == reply.inject_after:
                await flush()
                pending.append(injected_event(reply))
            if index == reply.error_event_after:
                await flush()
                pending.append(error_event(reply, shape))
                if not reply.no_done:
                    pending.append(DONE)
                break
            if index == reply.drop_after:
                await flush()
                await self._drop(exchange, reply.drop_mode)
                return
            if index == reply.stall_after:
                await flush()
                await asyncio.sleep(reply.stall_seconds)
            if reply.chunk_delay > 0 and index:
                await flush()
                await asyncio.sleep(reply.chunk_delay)
            pending.append(event)
            pending_size += len(event)
            if pending_size >= _COALESCE_BYTES or reply.chunk_delay > 0:
                await flush()
        else:
            count = len(events)
            if reply.malformed_after is not None and reply.malformed_after >= count:
                await flush()
                pending.append(MALFORMED)
            if reply.inject_after is not None and reply.inject_after >= count:
                await flush()
                pending.append(injected_event(reply))
            if reply.error_event_after is not None and reply.error_event_after >= count:
                await flush()
                pending.append(error_event(reply, shape))
            if reply.drop_after is not None and reply.drop_after >= count:
                await flush()
                await self._drop(exchange, reply.drop_mode)
                return
        await flush()
        if reply.hold_after_done > 0:
            await asyncio.sleep(reply.hold_after_done)
        await self._finish(exchange, send)


__all__ = [
    "CHAT_PATHS",
    "DEFAULT_MODELS",
    "MODEL_PATHS",
    "ConnectionTracker",
    "R1V4App",
    "echo_text",
    "hosted_error",
    "openai_error",
]
