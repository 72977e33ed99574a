"""The incremental transcript parser; its rules are in the package docstring."""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from r1v4._transcript._events import (
    TOOL_NAMES,
    AnswerDelta,
    ClientToolCall,
    GeneratedImage,
    InvalidClientToolCall,
    ReasoningDelta,
    ServerToolCall,
    ServerToolResult,
    TranscriptEvent,
    TranscriptIssue,
    server_call_id,
)
from r1v4._transcript._generated import check_image, cut_off, observation_content
from r1v4._transcript._image_uris import FoundUri
from r1v4._transcript._payloads import CallInfo, read_call, read_plan
from r1v4._transcript._search_results import SEARCH_HINTS, sources
from r1v4._transcript._segments import Payload, Segment

__all__ = ["HeldCall", "TranscriptParser", "parse_transcript", "unanswered_issue"]

# Tags whose body is a payload held until the closing tag.
_PAYLOAD_TAGS = frozenset(
    {"tool_call", "observation", "plan", "text_search", "image_search", "web_content", "code"}
)
_OPENERS = _PAYLOAD_TAGS | {"think", "answer"}
# </code> is everyday HTML, so it is never reported as stray.
_STRAY_CLOSERS = _OPENERS - {"code"}
_SEARCH_ARG = {"text_search": "query", "image_search": "query", "web_content": "url"}
_TAG_RE = re.compile(r"<(/?)([a-z_]+)>")


def _proper_prefixes(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(t[:i] for t in tags for i in range(1, len(t)))


# Tails of a delta that may still become a tag in the "outside" state.
_OUTSIDE_PREFIXES = _proper_prefixes(
    [f"<{n}>" for n in _OPENERS] + [f"</{n}>" for n in _STRAY_CLOSERS]
)
_MAX_PREFIX = max(map(len, _OUTSIDE_PREFIXES))
_OBSERVATION = "<observation>"

_OUTSIDE, _THINK, _ANSWER, _PAYLOAD, _PENDING, _CLOSED = range(6)


class TranscriptParser:
    """Feed content deltas, get :data:`TranscriptEvent` lists; see the module docstring."""

    __slots__ = (
        "_answer",
        "_client_count",
        "_client_tools",
        "_fast",
        "_held",
        "_images",
        "_last_call",
        "_open_at",
        "_parts",
        "_payload",
        "_pend_info",
        "_pend_payload",
        "_pend_tag",
        "_raw_len",
        "_reasoning",
        "_seen",
        "_seen_images",
        "_server_count",
        "_state",
    )

    def __init__(self, *, client_tools: Collection[str] = ()) -> None:
        self._client_tools = frozenset(client_tools)
        self._parts: list[str] = []
        self._raw_len = 0
        self._state = _OUTSIDE
        # Tail of the text fed so far not yet interpreted; always a suffix of ``raw``.
        self._held = ""
        self._answer = Segment(AnswerDelta, verbatim=True)
        self._reasoning = Segment(ReasoningDelta)
        # The segment a delta without "<" simply continues (nothing held), else None.
        self._fast: Segment | None = self._answer
        self._payload: Payload | None = None  # the open payload tag, in state _PAYLOAD
        self._open_at = 0
        # Held call awaiting the observation lookahead (_PENDING): its tag, payload and, for a
        # <tool_call>, the parsed call.
        self._pend_payload = ""
        self._pend_info: CallInfo | None = None
        self._pend_tag = "code"
        self._server_count = 0
        self._client_count = 0
        self._last_call: ServerToolCall | None = None
        self._images = 0  # generated images so far
        # The open observation's image URIs as its raw text gave them.
        self._seen: list[FoundUri] = []
        self._seen_images: list[GeneratedImage | None] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> TranscriptParser:
        """A parser that goes on from here independently (each attempt of a round of a reply
        the client continues starts from one). The text fed so far is immutable pieces: the
        copy gets a new list of the same pieces, not a copy of each, so copying costs the
        parser's state, not the transcript's length in pieces."""
        new = TranscriptParser.__new__(TranscriptParser)
        for name in TranscriptParser.__slots__:
            value = getattr(self, name)
            setattr(new, name, value[:] if name == "_parts" else copy.deepcopy(value, memo))
        return new

    @property
    def raw(self) -> str:
        """The whole transcript fed so far."""
        parts = self._parts
        if len(parts) > 1:
            self._parts = parts = ["".join(parts)]
        return parts[0] if parts else ""

    def feed(self, text: str) -> list[TranscriptEvent]:
        """Parse one content delta and return the events it completes."""
        seg = self._fast
        piece = self.feed_plain(text)
        if piece is None:
            return self._feed(text)
        assert seg is not None  # feed_plain() takes text only while a segment streams
        return [seg.kind(piece)] if piece else []

    def feed_plain(self, text: str) -> str | None:
        """The per-chunk fast path, for callers that route text themselves: when ``text`` only
        continues the answer or reasoning being streamed (it has no ``<`` and nothing is held),
        take it and return the text it adds (of kind :attr:`streaming`; may be ``""``).
        Otherwise take nothing and return ``None``: :meth:`feed` it."""
        seg = self._fast
        if seg is None or "<" in text:
            return None
        self._parts.append(text)
        self._raw_len += len(text)
        return seg.text(text)

    @property
    def streaming(self) -> type[AnswerDelta] | type[ReasoningDelta] | None:
        """The kind of text :meth:`feed_plain` takes now, or ``None`` when it takes none."""
        seg = self._fast
        return seg.kind if seg is not None else None

    def _feed(self, text: str) -> list[TranscriptEvent]:
        payload = self._payload
        if payload is not None and ">" not in text:
            # Inside a payload a delta without ">" cannot complete the closing tag.
            self._parts.append(text)
            self._raw_len += len(text)
            payload.add(text)
            if payload.found:
                out: list[TranscriptEvent] = []
                self._take_images(payload, out)
                return out
            return []
        if self._state == _CLOSED:
            raise RuntimeError("TranscriptParser.feed() after close()")
        if not text:
            return []
        self._parts.append(text)
        self._raw_len += len(text)
        out = []
        if self._held:
            text = self._held + text
            self._held = ""
        while text:
            state = self._state
            if state == _OUTSIDE:
                text = self._outside(text, out)
            elif state == _THINK:
                text = self._inside(text, "</think>", self._reasoning, out)
            elif state == _ANSWER:
                text = self._inside(text, "</answer>", self._answer, out)
            elif state == _PAYLOAD:
                text = self._in_payload(text, out)
            else:
                text = self._pending(text, out)
        state = self._state
        if self._held or state in (_PAYLOAD, _PENDING):
            self._fast = None
        else:
            self._fast = self._reasoning if state == _THINK else self._answer
        return out

    def close(self) -> list[TranscriptEvent]:
        """End of stream: flush held text and report unclosed tags."""
        state = self._state
        if state == _CLOSED:
            return []
        out: list[TranscriptEvent] = []
        held, self._held = self._held, ""
        if state == _OUTSIDE:
            self._answer.emit(held, out)
            self._answer.flush(out)
        elif state in (_THINK, _ANSWER):
            seg = self._reasoning if state == _THINK else self._answer
            seg.emit(held, out)
            tag, kind = ("think", "reasoning") if state == _THINK else ("answer", "answer")
            out.append(
                TranscriptIssue(
                    "unclosed_tag",
                    self.raw[self._open_at :],
                    f"<{tag}> was never closed; its text was streamed as {kind}",
                )
            )
        elif state == _PAYLOAD:
            payload = self._payload
            assert payload is not None
            tag = payload.tag
            last = payload.scanner.close(at_end=False) if payload.scanner is not None else None
            if last is not None and last.base64:
                out.append(cut_off(last))
            text = f"<{tag}>" + payload.body()
            self._answer.emit(text, out)
            out.append(
                TranscriptIssue(
                    "unclosed_tag", text, f"<{tag}> was never closed; emitted as answer text"
                )
            )
        else:
            self._resolve(False, out)
            self._answer.emit(held, out)
        self._state = _CLOSED
        self._fast = None
        self._payload = None
        return out

    # -- a call the client answers -----------------------------------------------------------

    @property
    def held_call(self) -> HeldCall | None:
        """The call of one of R1V4's own tools the text fed so far ends in, not answered yet
        (an inference server stops there): what a client that runs R1V4's tools runs before
        it feeds the observation. ``None`` when the transcript does not end in one, or the
        call names a tool the caller bound (it is theirs) or no tool at all."""
        if self._state != _PENDING:
            return None
        tag, info, payload = self._pend_tag, self._pend_info, self._pend_payload
        if tag in _SEARCH_ARG:
            return HeldCall(tag, _search_arguments(tag, payload), f"<{tag}>{payload}</{tag}>")
        if info is None or info.name not in TOOL_NAMES or info.name in self._client_tools:
            return None
        # Arguments that do not read as an object go to the tool as written: its observation
        # says what is wrong, and the model can write the call again.
        ok = info.json_error is None and info.shape_error is None
        return HeldCall(
            info.name, info.arguments if ok else payload, f"<tool_call>{payload}</tool_call>"
        )

    def drop_held_call(self) -> None:
        """Forget :attr:`held_call` without an event (the client reports why it did not run)."""
        if self._state == _PENDING:
            self._pend_payload = ""
            self._pend_info = None
            self._state = _OUTSIDE

    # -- states --------------------------------------------------------------------------------

    def _outside(self, text: str, out: list[TranscriptEvent]) -> str:
        start = 0
        n = len(text)
        i = text.find("<")
        while i >= 0:
            m = _TAG_RE.match(text, i)
            if m is None:
                if n - i <= _MAX_PREFIX and text[i:] in _OUTSIDE_PREFIXES:
                    self._answer.emit(text[start:i], out)
                    self._held = text[i:]
                    return ""
            elif m.group(1):
                if m.group(2) in _STRAY_CLOSERS:
                    end = m.end()
                    self._answer.emit(text[start:end], out)
                    out.append(
                        TranscriptIssue(
                            "stray_closing_tag",
                            m.group(0),
                            f"{m.group(0)} without an opening tag; kept as answer text",
                        )
                    )
                    start = end
            elif m.group(2) in _OPENERS:
                self._answer.emit(text[start:i], out)
                self._open(m.group(2), self._raw_len - n + i)
                return text[m.end() :]
            i = text.find("<", i + 1)
        self._answer.emit(text[start:] if start else text, out)
        return ""

    def _open(self, name: str, at: int) -> None:
        self._open_at = at
        if name == "think":
            self._answer.end()
            self._reasoning.end()
            self._state = _THINK
        elif name == "answer":
            self._answer.end()
            self._state = _ANSWER
        else:
            # The answer segment is left open: an unclosed payload or a <code> block that turns
            # out to be HTML continues it as text.
            self._payload = Payload(name)
            self._state = _PAYLOAD

    def _inside(self, text: str, close: str, seg: Segment, out: list[TranscriptEvent]) -> str:
        j = text.find(close)
        if j >= 0:
            seg.emit(text[:j], out)
            seg.end()
            self._state = _OUTSIDE
            return text[j + len(close) :]
        k = text.rfind("<", max(0, len(text) - len(close) + 1))
        if k >= 0 and close.startswith(text[k:]):
            seg.emit(text[:k], out)
            self._held = text[k:]
        else:
            seg.emit(text, out)
        return ""

    def _in_payload(self, text: str, out: list[TranscriptEvent]) -> str:
        payload = self._payload
        assert payload is not None
        after = payload.take(text)
        if payload.found:
            self._take_images(payload, out)
        if after is None:
            return ""
        if payload.scanner is not None:  # an image may end where the observation does
            last = payload.scanner.close()
            if last is not None:
                payload.found = [last]
                self._take_images(payload, out)
        self._payload = None
        self._finish(payload.tag, payload.body(), out)
        return text[after:]

    def _pending(self, text: str, out: list[TranscriptEvent]) -> str:
        s = text.lstrip()
        if not s or (len(s) < len(_OBSERVATION) and _OBSERVATION.startswith(s)):
            self._held = text
            return ""
        self._resolve(s.startswith(_OBSERVATION), out)
        return text

    # -- payloads ------------------------------------------------------------------------------

    def _finish(self, tag: str, payload: str, out: list[TranscriptEvent]) -> None:
        self._state = _OUTSIDE
        if tag == "observation":
            self._answer.end()
            self._result(payload, out)
            return
        if tag == "plan":
            self._answer.end()
            read_plan(payload, out)
            return
        if tag != "code":
            self._answer.end()
        # Every call is held until the next non-whitespace text: only an observation makes it
        # a call the server ran (see _resolve).
        self._pend_payload = payload
        self._pend_info = read_call(payload) if tag == "tool_call" else None
        self._pend_tag = tag
        self._state = _PENDING

    def _resolve(self, server: bool, out: list[TranscriptEvent]) -> None:
        """Settle a held call: server trace if an observation follows, else client call, text
        (a ``<code>`` block) or an unanswered call."""
        payload, info, tag = self._pend_payload, self._pend_info, self._pend_tag
        self._pend_payload = ""
        self._pend_info = None
        self._state = _OUTSIDE
        if tag == "code":
            if server:
                self._answer.end()
                self._server("code", {"code": payload.strip("\r\n")}, payload, "code", out)
            else:
                self._answer.emit(f"<code>{payload}</code>", out)
        elif info is None:  # a deep-research search or page tag
            if server:
                self._server(tag, _search_arguments(tag, payload), payload, tag, out)
            else:
                out.append(_unanswered(tag, tag, payload))
        elif server:
            self._server_from_call(payload, info, out)
        elif info.name in self._client_tools or (info.name is None and self._client_tools):
            index = self._client_count
            self._client_count += 1
            error = info.json_error or info.shape_error
            if error is not None or info.name is None:
                out.append(InvalidClientToolCall(info.name, payload, error or "no name", index))
            else:
                arguments = json.dumps(info.arguments, ensure_ascii=False, separators=(",", ":"))
                out.append(ClientToolCall(info.name, arguments, index, info.call_id))
        else:
            out.append(_unanswered(info.name, "tool_call", payload))
            if info.json_error is not None:
                out.append(TranscriptIssue("invalid_json", payload, info.json_error))

    def _server_from_call(self, payload: str, info: CallInfo, out: list[TranscriptEvent]) -> None:
        name = info.name or "unknown"
        if info.json_error is not None:
            self._server(name, payload, payload, "tool_call", out)
            out.append(TranscriptIssue("invalid_json", payload, info.json_error))
        else:
            self._server(name, info.arguments, payload, "tool_call", out)

    def _server(
        self, name: str, arguments: Any, raw: str, tag: str, out: list[TranscriptEvent]
    ) -> None:
        call = ServerToolCall(name, arguments, raw, tag, self._server_count)
        self._server_count += 1
        self._last_call = call
        out.append(call)

    def _result(self, payload: str, out: list[TranscriptEvent]) -> None:
        seen, self._seen = self._seen, []
        seen_images, self._seen_images = self._seen_images, []
        content, book = observation_content(payload, seen, seen_images)
        call, self._last_call = self._last_call, None
        hint = call.name if call is not None else None
        if hint is None and isinstance(content, dict) and isinstance(content.get("type"), str):
            hint = content["type"]
        searched = content
        if book is not None and book.cut and hint in SEARCH_HINTS:
            searched = observation_content(payload, [], [])[0]  # with its images' URIs
        found = sources(hint, searched, call.arguments if call is not None else None)
        if book is not None:
            # JSON nested deeper than Python recurses keeps its text: never an exception.
            with contextlib.suppress(RecursionError):
                content = book.replace(content, lambda uri: self._image(uri, call))
            out.extend(book.new)
        if call is None:
            out.append(ServerToolResult(content, payload, None, None, found))
        else:
            out.append(ServerToolResult(content, payload, call.index, call.name, found))

    # -- generated images ----------------------------------------------------------------------

    def _take_images(self, payload: Payload, out: list[TranscriptEvent]) -> None:
        for uri in payload.found:
            event = self._image(uri, self._last_call)
            out.append(event)
            self._seen.append(uri)
            self._seen_images.append(event if isinstance(event, GeneratedImage) else None)
        payload.found = []

    def _image(
        self, uri: FoundUri, call: ServerToolCall | None
    ) -> GeneratedImage | TranscriptIssue:
        call_id = server_call_id(call.index) if call is not None else None
        event = check_image(uri, self._images, call_id)
        if isinstance(event, GeneratedImage):
            self._images += 1
        return event


@dataclass(frozen=True, slots=True)
class HeldCall:
    """A call of R1V4's tool ``name`` that no observation answered yet (see
    :attr:`TranscriptParser.held_call`): its ``arguments`` as read (the payload's text when
    they do not read as an object) and the call as the transcript wrote it."""

    name: str
    arguments: Any
    text: str


def _search_arguments(tag: str, payload: str) -> Any:
    """A deep-research tag's arguments: its JSON object, else ``{<argument>: its text}``."""
    body = payload.strip()
    arguments: Any = None
    if body.startswith("{"):
        with contextlib.suppress(ValueError):
            arguments = json.loads(body)
    if not isinstance(arguments, dict):
        arguments = {_SEARCH_ARG[tag]: body}
    return arguments


def unanswered_issue(name: str | None, text: str) -> TranscriptIssue:
    """The issue for a call of R1V4's tool ``name`` that no observation answered: nobody ran
    it, so it is no server call (``text`` is the call as written)."""
    what = f"tool {name!r}" if name else "a tool"
    return TranscriptIssue(
        "unanswered_tool_call",
        text,
        f"R1V4 called {what} and no observation answered: nothing ran it (an inference "
        "server does not run R1V4's tools; the call is not a server tool call)",
    )


def _unanswered(name: str | None, tag: str, payload: str) -> TranscriptIssue:
    return unanswered_issue(name, f"<{tag}>{payload}</{tag}>")


def parse_transcript(text: str, *, client_tools: Collection[str] = ()) -> list[TranscriptEvent]:
    """Parse a whole transcript; adjacent reasoning and answer deltas are merged."""
    parser = TranscriptParser(client_tools=client_tools)
    events = parser.feed(text) + parser.close()
    merged: list[TranscriptEvent] = []
    pieces: list[str] = []
    kind: type[ReasoningDelta] | type[AnswerDelta] | None = None
    for event in events:
        if isinstance(event, ReasoningDelta | AnswerDelta):
            if type(event) is not kind:
                if kind is not None:
                    merged.append(kind("".join(pieces)))
                kind, pieces = type(event), []
            pieces.append(event.text)
            continue
        if kind is not None:
            merged.append(kind("".join(pieces)))
            kind = None
        merged.append(event)
    if kind is not None:
        merged.append(kind("".join(pieces)))
    return merged
