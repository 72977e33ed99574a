"""What tests script (:class:`Reply`) and what the server records (:class:`RecordedRequest`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Followup",
    "FollowupCheck",
    "ImageInfo",
    "RecordedRequest",
    "Reply",
    "ReplyFactory",
    "Script",
]

ReasoningField = Literal["reasoning_content", "reasoning", "inline"]
ErrorShape = Literal["hosted", "openai"]
DropMode = Literal["close", "reset"]


@dataclass(frozen=True)
class Followup:
    """What the request after a self-hosted round must carry: set it as ``Reply(followup=...)``.

    A reply with a ``followup`` is a round that stops at an R1V4 tool call, as a bare inference
    server's reply does: nobody ran the call, so the client must run it and send the next
    request, its follow-up: the round's request messages, then ``{"role": "assistant",
    "content": <the round's text>}``, then the observation message ``{"role": "user",
    "content": [{"type": "text", "text": "<observation>…</observation>"}, <image parts>]}``
    (the format of ``r1v4.tools``' tool loop). The server refuses a follow-up that does not
    carry that (400, the message saying what is missing or wrong) and consumes nothing for it;
    the follow-up that does gets the next queued reply. Every field narrows the check further;
    ``Followup()`` checks only what every follow-up must carry.

    Attributes:
        type: the tool the observation answers: its JSON's ``"type"``, or the shape of its
            results (``text_search``: a list of ``{"title", "url", "snippet"}``,
            ``image_search``: of ``{"title", "source", "link"}``, ``web_content``: of
            ``{"url", "title", "content"}``; ``{"result": <text>, "type": <tool>}``, a call that
            could not run, fits every tool). ``None``: the tool the round's call names.
        contains: text (or texts) the observation's JSON text must contain.
        images: how many images the observation message must carry, as image parts.
        image_sizes: their ``(width, height)`` as Pillow decodes them, in order (sets
            ``images`` when that is ``None``).
        image_format: the format Pillow reads in each of them (``"PNG"``).
    """

    type: str | None = None
    contains: str | tuple[str, ...] = ()
    images: int | None = None
    image_sizes: tuple[tuple[int, int], ...] | None = None
    image_format: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.contains, str):
            object.__setattr__(self, "contains", (self.contains,))
        if self.image_sizes is not None:
            sizes = tuple((int(w), int(h)) for w, h in self.image_sizes)
            object.__setattr__(self, "image_sizes", sizes)
            if self.images is None:
                object.__setattr__(self, "images", len(sizes))
            elif self.images != len(sizes):
                raise ValueError(f"images={self.images} but {len(sizes)} image_sizes")
        if self.images is not None and self.images < 0:
            raise ValueError("images must be >= 0")


@dataclass
class Reply:
    """One scripted answer of the local server; queued with ``server.enqueue(...)``.

    Content and reasoning:
        content: the answer text (may hold R1V4 transcript tags such as ``<think>``, ``<answer>``).
        reasoning: reasoning text, sent before the content.
        reasoning_field: how reasoning goes on the wire: ``"reasoning_content"`` (DeepSeek/SGLang),
            ``"reasoning"`` (newer vLLM) or ``"inline"`` (``"<think>" + reasoning + "</think>"``
            prefixed to ``content``, nothing added in between).
        tool_calls: native tool calls, each ``{"name": str, "arguments": dict | str, "id": str?}``;
            a missing id becomes ``call_<n>``.
        finish_reason: defaults to ``"tool_calls"`` when there are tool calls, else ``"stop"``.
        usage: replaces the computed usage dict entirely.
        chunk_size: characters per content/reasoning/arguments delta when streaming (>= 1).
        id: the completion id the reply carries (default: a fresh ``chatcmpl-<hex>`` for each
            response), so a test can tell which attempt a result came from.

    Faults and timing (stream events are counted from 0: the role chunk is event 0, ``[DONE]`` is
    the last event):
        status, body, headers: an HTTP error. ``body`` (dict -> JSON, str/bytes sent as-is) is
            sent with ``status`` whenever it is set, even with status 200 (except that with
            ``error_event_after`` a dict body is the error event instead); a non-200 status
            without a body gets a default error body in the path's shape. ``headers`` are added
            to every response of this reply, errors and streams alike.
        first_byte_delay: seconds to wait before the status line is sent.
        chunk_delay: seconds between SSE events.
        stall_after / stall_seconds: after N events stop sending (connection stays open) for
            ``stall_seconds``, then carry on.
        drop_after: close the connection after N events without ending the chunked body, so the
            client sees a protocol error (0 = right after the headers). On a non-stream reply any
            value closes the connection after the headers and half of the body.
        drop_mode: ``"close"`` (FIN after all sent bytes: httpx raises ``RemoteProtocolError``)
            or ``"reset"`` (TCP RST via SO_LINGER 0: httpx raises ``ReadError`` or
            ``RemoteProtocolError``; bytes still in flight may be lost).
        drop_before_headers: close the connection without sending any response at all.
        no_done: end the stream cleanly but without ``data: [DONE]``.
        malformed_after: insert the line ``data: {not json`` after N events (the stream goes on).
        inject_after / inject: insert ``inject`` as one more event after N events, a dict, list
            or ``None`` as JSON, a str as it is (the stream goes on): a chunk of a wrong shape,
            such as ``{"choices": [None]}``.
        error_event_after: after N events send an error object as an SSE event, then ``[DONE]``
            (unless ``no_done``) -- how vLLM reports a failure after the 200. The object is ``body``
            when it is a dict, else an error in ``error_shape`` (default: the path's shape).
        trickle: write the stream one byte at a time.
        hold_after_done: after the last event (``[DONE]``), keep the connection open this many
            seconds before ending the body, as a proxy that holds the stream does.
        chunk_finish_reason: sent as ``finish_reason`` on every chunk instead of ``null`` (some
            OpenAI-compatible gateways send ``""``); the last chunk still has the real one.
        repeat: how many requests this reply serves before the next queued one.

    Self-hosted rounds:
        followup: this reply is a round that stops at a tool call (the call ends ``content``,
            or is the last of ``tool_calls``), and the request after it must be the client's
            follow-up carrying the observation (see :class:`Followup`). Only a reply that
            reaches the client whole waits for a follow-up (an error status, a drop or an
            error event does not).
    """

    content: str = ""
    reasoning: str = ""
    reasoning_field: ReasoningField = "reasoning_content"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    chunk_size: int = 8
    id: str | None = None
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    stall_after: int | None = None
    stall_seconds: float = 30.0
    drop_after: int | None = None
    drop_mode: DropMode = "close"
    drop_before_headers: bool = False
    no_done: bool = False
    malformed_after: int | None = None
    inject_after: int | None = None
    inject: Any = None
    error_event_after: int | None = None
    error_shape: ErrorShape | None = None
    trickle: bool = False
    hold_after_done: float = 0.0
    chunk_finish_reason: str | None = None
    repeat: int = 1
    followup: Followup | None = None

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if self.repeat < 1:
            raise ValueError("repeat must be >= 1")
        if self.reasoning_field not in ("reasoning_content", "reasoning", "inline"):
            raise ValueError(f"unknown reasoning_field {self.reasoning_field!r}")
        if self.drop_mode not in ("close", "reset"):
            raise ValueError(f"unknown drop_mode {self.drop_mode!r}")
        for call in self.tool_calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise ValueError(f"each tool call needs a string 'name': {call!r}")
        if self.followup is not None and not isinstance(self.followup, Followup):
            raise TypeError(f"followup must be a Followup, got {type(self.followup).__name__}")


@dataclass(frozen=True)
class ImageInfo:
    """What the server decoded from one image part."""

    format: str
    width: int
    height: int
    mode: str
    byte_size: int
    sha256: str
    mime_type: str

    def describe(self) -> str:
        """``PNG 4x3``: how the default reply names the image."""
        return f"{self.format} {self.width}x{self.height}"


@dataclass(frozen=True)
class FollowupCheck:
    """What the server found in a follow-up of a self-hosted round (``RecordedRequest.followup``).

    Attributes:
        round: the round the request asks for: 1 after the conversation's first tool call.
        tool: the tool of the call it answers (``None`` when the round's call names none).
        assistant: the text of the assistant message it carried (``""`` when none).
        observation: the observation's JSON, parsed (``None`` when absent or not JSON).
        observation_text: the text between ``<observation>`` and ``</observation>``.
        images: the images of the observation message, decoded, in order.
        error: why the request was refused, or ``None`` when it was accepted.
    """

    round: int
    tool: str | None
    assistant: str = ""
    observation: Any = None
    observation_text: str = ""
    images: tuple[ImageInfo, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the follow-up carried everything and got the next round."""
        return self.error is None


@dataclass
class RecordedRequest:
    """One request as the server saw it, and what became of it.

    ``headers`` are lower-cased (repeated headers joined with ``", "``); ``body`` is the decoded
    JSON (``None`` if the body was not JSON). ``status`` is the HTTP status sent (``None`` if none
    was); ``response_id`` the id of the completion sent (``None`` if none was: an error
    reply). ``disconnected`` turns true when the client went away before the response was
    complete; ``completed`` when the whole response was sent; ``finished`` when the server is
    done with the request. ``error`` holds the traceback when handling it raised (e.g. a reply
    factory failed; the client then got a 500). ``received_at``, ``responded_at`` (status line
    and headers sent) and ``completed_at`` (last body byte sent) are the server's
    ``time.monotonic()``, so a test can see a scripted delay from the server's side without
    timing the client. ``followup`` is what the server found in a request that continues a
    self-hosted round (``None`` for any other request): the observation it carried, its
    images, and why it was refused if it was.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes = b""
    images: list[ImageInfo] = field(default_factory=list)
    status: int | None = None
    response_id: str | None = None
    reply: Reply | None = None
    disconnected: bool = False
    completed: bool = False
    error: str | None = None
    received_at: float = field(default_factory=time.monotonic)
    responded_at: float | None = None
    completed_at: float | None = None
    followup: FollowupCheck | None = None
    _finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Whether the server has stopped handling this request (sent, failed or abandoned)."""
        return self._finished.is_set()

    def wait_finished(self, timeout: float = 5.0) -> bool:
        """Block until the server is done with this request; ``False`` on timeout."""
        return self._finished.wait(timeout)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's ``messages`` (empty when absent)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            messages: list[dict[str, Any]] = self.body["messages"]
            return messages
        return []

    @property
    def last_user_text(self) -> str:
        """Text of the last user message, its text parts joined by a space."""
        for message in reversed(self.messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return message_text(message)
        return ""


def message_text(message: dict[str, Any]) -> str:
    """The text of a message: its string content or its text parts joined by a space."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


ReplyFactory = Callable[[RecordedRequest], Reply]
"""A reply made from the request it answers (queue one with ``enqueue``)."""


class _Entry:
    """A queued reply with its remaining uses and its pre-encoded stream pieces."""

    __slots__ = ("cache", "remaining", "source")

    def __init__(self, source: Reply | ReplyFactory) -> None:
        self.source = source
        self.remaining = source.repeat if isinstance(source, Reply) else 1
        self.cache: dict[str, Any] = {}


class Script:
    """The FIFO of scripted replies; thread-safe (tests enqueue, the server's loop pops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Entry] = []

    def enqueue(self, *replies: Reply | ReplyFactory) -> None:
        """Append replies (or ``callable(request) -> Reply``) to the queue."""
        for reply in replies:
            if not isinstance(reply, Reply) and not callable(reply):
                raise TypeError(f"expected a Reply or a callable, got {type(reply).__name__}")
        with self._lock:
            self._queue.extend(_Entry(reply) for reply in replies)

    def pop(self) -> _Entry | None:
        """Take one use of the head entry, or ``None`` when nothing is queued."""
        with self._lock:
            if not self._queue:
                return None
            entry = self._queue[0]
            entry.remaining -= 1
            if entry.remaining <= 0:
                self._queue.pop(0)
            return entry

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        """Requests the queue will still serve."""
        with self._lock:
            return sum(entry.remaining for entry in self._queue)
