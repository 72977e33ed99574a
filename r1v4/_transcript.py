"""Incremental parser of R1V4's tagged transcript.

The hosted R1V4 API runs its own tools and streams the whole trajectory as tagged text in
``delta.content``::

    <think>…</think><tool_call>{"name": "code", "arguments": {…}}</tool_call>
    <observation>{"result": "…", "type": "code"}</observation><think>…</think><answer>…</answer>

Deep-research mode uses ``<text_search>query</text_search>``, ``<image_search>…</image_search>``,
``<web_content>url</web_content>`` and ``<code>…</code>``, each answered by ``<observation>``;
the planner sends ``<think>…</think><plan>[{"description", "tool_name", "parameters"}]</plan>``.
:class:`TranscriptParser` turns that text, fed one delta at a time, into typed events.

Rules:

* Structure is only ``think``, ``answer``, ``tool_call``, ``observation``, ``plan``,
  ``text_search``, ``image_search``, ``web_content`` and ``code``, spelled exactly (lower case, no
  attributes). Any other ``<…>`` (HTML, ``a < b``) is answer text verbatim. Text outside every
  tag is answer text, so ``<think>x</think>answer`` and replies with no tags at all just work.
* Inside ``<think>`` everything up to ``</think>`` is reasoning; inside ``<answer>`` everything up
  to ``</answer>`` is answer (even ``<b>``). Inside a tool, observation or plan tag everything up
  to its closing tag is the payload, which is held until that tag arrives.
* Reasoning and answer text stream as it arrives. Only a delta's tail that could begin a tag
  (``<`` plus a prefix of a tag name) and trailing whitespace are held back.
* Whitespace: each reasoning or answer segment (the text between two structural tags) loses
  its leading and trailing whitespace; trailing whitespace is held until more text of the same
  segment arrives. Segments of one kind are joined with ``"\\n\\n"``, emitted with the next
  segment's first non-whitespace text. Whitespace-only text between tags emits nothing.
* ``<tool_call>``: a call whose name is in ``client_tools`` and is *not* followed, after optional
  whitespace, by ``<observation>`` is a :class:`ClientToolCall` (or an
  :class:`InvalidClientToolCall` when its JSON or shape is bad). Anything else is a
  :class:`ServerToolCall`. A bound call is therefore held after ``</tool_call>`` until the next
  non-whitespace text arrives or the stream closes. A call whose name cannot be read is held the
  same way when ``client_tools`` is non-empty (client if no observation follows), else it is a
  server call named ``"unknown"``.
* ``<code>`` is also common HTML, so it is a server call only when ``<observation>`` follows;
  otherwise ``<code>…</code>`` is answer text verbatim.
* Server calls and client calls are numbered separately from 0 (invalid client calls share the
  client numbering). An observation answers the latest server call not yet answered.
* Sources: a ``text_search`` observation ``[{"title", "url", "snippet"}]`` gives web sources; an
  ``image_search`` one ``[{"title", "source", "link"}]`` gives image sources with ``url`` = the
  result page (``link``) and ``image_url`` = the image (``source``, as the published schema
  says; swapped back when ``link`` is plainly the image file); ``web_content`` gives one web
  source with the fetched URL. Lists wrapped as ``{"results": [...]}`` are accepted too.
* Text is never lost (``raw`` always holds everything fed):

  - unclosed ``<think>``/``<answer>`` at close: the text was already streamed; a
    ``TranscriptIssue("unclosed_tag")`` is added;
  - unclosed tool, observation or plan payload at close: emitted as :class:`AnswerDelta` of the
    raw text *including the opening tag* (a reply cut off by ``max_tokens`` shows what came),
    plus an ``unclosed_tag`` issue;
  - invalid JSON in a server ``<tool_call>``: a :class:`ServerToolCall` whose ``arguments`` is the
    raw payload, plus an ``invalid_json`` issue; an invalid ``<plan>``: ``Plan(steps=())`` with
    ``raw``, plus an ``invalid_json`` (or ``invalid_plan``) issue;
  - an observation that is not a JSON object, array or string keeps its text as ``content``;
  - a stray closing tag (``</think>`` with no opener, as when a chat template put ``<think>`` in
    the prompt) is answer text, plus a ``stray_closing_tag`` issue. Text before it was already
    streamed as answer: the parser never holds text back to reinterpret it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar

__all__ = [
    "AnswerDelta",
    "ClientToolCall",
    "InvalidClientToolCall",
    "Plan",
    "PlanStep",
    "ReasoningDelta",
    "ServerToolCall",
    "ServerToolResult",
    "Source",
    "TranscriptEvent",
    "TranscriptIssue",
    "TranscriptParser",
    "parse_transcript",
]


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning text (from ``<think>``)."""

    text: str


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """A piece of answer text (from ``<answer>`` or outside every tag)."""

    text: str


@dataclass(frozen=True, slots=True)
class ServerToolCall:
    """A tool the hosted agent ran itself (a trace, never for the caller to execute).

    ``tag`` is ``"tool_call"`` or the deep-research tag; ``arguments`` is the parsed JSON
    ``arguments`` of a ``<tool_call>``, ``{"query": …}``/``{"url": …}``/``{"code": …}`` for the
    deep-research tags; ``index`` counts server calls from 0.
    """

    name: str
    arguments: Any
    raw: str
    tag: str
    index: int


@dataclass(frozen=True, slots=True)
class Source:
    """A web page or image a search returned."""

    title: str | None
    url: str | None
    snippet: str | None
    image_url: str | None
    kind: Literal["web", "image"]


@dataclass(frozen=True, slots=True)
class ServerToolResult:
    """An ``<observation>``: parsed JSON ``content`` (else its text) and the call it answers."""

    content: Any
    raw: str
    call_index: int | None = None
    name: str | None = None
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One planner step; ``parameters`` parsed from its JSON string when possible."""

    description: str
    tool_name: str
    parameters: Any
    raw_parameters: Any


@dataclass(frozen=True, slots=True)
class Plan:
    """A ``<plan>`` block."""

    steps: tuple[PlanStep, ...]
    raw: str


@dataclass(frozen=True, slots=True)
class ClientToolCall:
    """A call of a tool the caller bound: ``arguments`` is compact JSON text of an object."""

    name: str
    arguments: str
    index: int
    id: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidClientToolCall:
    """A call meant for the caller's tools that could not be read."""

    name: str | None
    raw: str
    error: str
    index: int


@dataclass(frozen=True, slots=True)
class TranscriptIssue:
    """Something malformed in the transcript; ``text`` is the raw text concerned."""

    kind: str
    text: str
    detail: str


TranscriptEvent: TypeAlias = (
    ReasoningDelta
    | AnswerDelta
    | ServerToolCall
    | ServerToolResult
    | Plan
    | ClientToolCall
    | InvalidClientToolCall
    | TranscriptIssue
)

# Tags whose body is a payload held until the closing tag.
_PAYLOAD_TAGS = frozenset(
    {"tool_call", "observation", "plan", "text_search", "image_search", "web_content", "code"}
)
_OPENERS = _PAYLOAD_TAGS | {"think", "answer"}
# </code> is everyday HTML, so it is never reported as stray.
_STRAY_CLOSERS = _OPENERS - {"code"}
_SEARCH_ARG = {"text_search": "query", "image_search": "query", "web_content": "url"}
_TAG_RE = re.compile(r"<(/?)([a-z_]+)>")
_NAME_RE = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _proper_prefixes(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(t[:i] for t in tags for i in range(1, len(t)))


# Tails of a delta that may still become a tag in the "outside" state.
_OUTSIDE_PREFIXES = _proper_prefixes(
    [f"<{n}>" for n in _OPENERS] + [f"</{n}>" for n in _STRAY_CLOSERS]
)
_MAX_PREFIX = max(map(len, _OUTSIDE_PREFIXES))
_OBSERVATION = "<observation>"

_OUTSIDE, _THINK, _ANSWER, _PAYLOAD, _PENDING, _CLOSED = range(6)
_SLOW, _FAST_ANSWER, _FAST_REASON, _FAST_PAYLOAD = range(4)
_D = TypeVar("_D", AnswerDelta, ReasoningDelta)
_new = object.__new__
# The slots' own setters: a frozen dataclass only blocks ``setattr``, not the descriptor.
_SET_TEXT: dict[type, Callable[[Any, str], None]] = {
    cls: cls.__dict__["text"].__set__ for cls in (AnswerDelta, ReasoningDelta)
}


def _delta(cls: type[_D], text: str) -> _D:
    """``cls(text)`` at half the cost: a frozen dataclass's ``__init__`` is slow and this runs
    once per streamed chunk."""
    delta: _D = _new(cls)
    _SET_TEXT[cls](delta, text)
    return delta


@dataclass(frozen=True, slots=True)
class _CallInfo:
    name: str | None
    arguments: Any
    call_id: str | None
    json_error: str | None
    shape_error: str | None


class TranscriptParser:
    """Feed content deltas, get :data:`TranscriptEvent` lists; see the module docstring."""

    __slots__ = (
        "_a_any",
        "_a_open",
        "_a_ws",
        "_client_count",
        "_client_tools",
        "_held",
        "_last_call",
        "_mode",
        "_open_at",
        "_parts",
        "_pclose",
        "_pend_info",
        "_pend_payload",
        "_pparts",
        "_ptag",
        "_ptail",
        "_r_any",
        "_r_open",
        "_r_ws",
        "_raw_len",
        "_server_count",
        "_state",
    )

    def __init__(self, *, client_tools: Collection[str] = ()) -> None:
        self._client_tools = frozenset(client_tools)
        self._parts: list[str] = []
        self._raw_len = 0
        self._state = _OUTSIDE
        # Which fast path feed() may take; refreshed after every slow feed.
        self._mode = _FAST_ANSWER
        # Tail of the text fed so far not yet interpreted; always a suffix of ``raw``.
        self._held = ""
        # Answer / reasoning segment state: open (has emitted text), held whitespace, any ever.
        self._a_open = False
        self._a_ws = ""
        self._a_any = False
        self._r_open = False
        self._r_ws = ""
        self._r_any = False
        # Open payload tag: name, closing tag, body pieces and the last few characters, so the
        # closing tag is found across deltas without rescanning the body.
        self._ptag = ""
        self._pclose = ""
        self._pparts: list[str] = []
        self._ptail = ""
        self._open_at = 0
        # Held call awaiting the observation lookahead (_PENDING): payload and, for tool_call,
        # the parsed call (None means a <code> block).
        self._pend_payload = ""
        self._pend_info: _CallInfo | None = None
        self._server_count = 0
        self._client_count = 0
        self._last_call: ServerToolCall | None = None

    @property
    def raw(self) -> str:
        """The whole transcript fed so far."""
        parts = self._parts
        if len(parts) > 1:
            self._parts = parts = ["".join(parts)]
        return parts[0] if parts else ""

    def feed(self, text: str) -> list[TranscriptEvent]:
        """Parse one content delta and return the events it completes."""
        mode = self._mode
        if mode == _FAST_PAYLOAD:
            if ">" not in text:
                # Inside a payload a delta without ">" cannot complete the closing tag.
                self._parts.append(text)
                self._raw_len += len(text)
                self._pparts.append(text)
                self._ptail = (self._ptail + text)[-len(self._pclose) + 1 :]
                return []
        elif mode and "<" not in text:
            # Fast path (most deltas): plain text in answer or reasoning, nothing held.
            self._parts.append(text)
            self._raw_len += len(text)
            if mode == _FAST_ANSWER:
                if self._a_open:
                    body = text.rstrip()
                    if body:
                        ws = self._a_ws
                        self._a_ws = text[len(body) :]
                        return [_delta(AnswerDelta, ws + body if ws else body)]
                    self._a_ws += text
                    return []
            elif self._r_open:
                body = text.rstrip()
                if body:
                    ws = self._r_ws
                    self._r_ws = text[len(body) :]
                    return [_delta(ReasoningDelta, ws + body if ws else body)]
                self._r_ws += text
                return []
            out: list[TranscriptEvent] = []
            (self._answer if mode == _FAST_ANSWER else self._reason)(text, out)
            return out
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
                text = self._inside(text, "</think>", self._reason, out)
            elif state == _ANSWER:
                text = self._inside(text, "</answer>", self._answer, out)
            elif state == _PAYLOAD:
                text = self._payload(text, out)
            else:
                text = self._pending(text, out)
        state = self._state
        if self._held:
            self._mode = _SLOW
        elif state in (_OUTSIDE, _ANSWER):
            self._mode = _FAST_ANSWER
        elif state == _THINK:
            self._mode = _FAST_REASON
        else:
            self._mode = _FAST_PAYLOAD if state == _PAYLOAD else _SLOW
        return out

    def close(self) -> list[TranscriptEvent]:
        """End of stream: flush held text and report unclosed tags."""
        state = self._state
        if state == _CLOSED:
            return []
        out: list[TranscriptEvent] = []
        held, self._held = self._held, ""
        if state == _OUTSIDE:
            self._answer(held, out)
        elif state in (_THINK, _ANSWER):
            tag = "think" if state == _THINK else "answer"
            (self._reason if state == _THINK else self._answer)(held, out)
            out.append(
                TranscriptIssue(
                    "unclosed_tag",
                    self.raw[self._open_at :],
                    f"<{tag}> was never closed; its text was streamed as "
                    f"{'reasoning' if state == _THINK else 'answer'}",
                )
            )
        elif state == _PAYLOAD:
            text = f"<{self._ptag}>" + "".join(self._pparts)
            self._answer(text, out)
            out.append(
                TranscriptIssue(
                    "unclosed_tag", text, f"<{self._ptag}> was never closed; emitted as answer text"
                )
            )
        else:
            self._resolve(False, out)
            self._answer(held, out)
        self._state = _CLOSED
        self._mode = _SLOW
        return out

    # -- text emission -------------------------------------------------------------------------

    def _answer(self, text: str, out: list[TranscriptEvent]) -> None:
        if self._a_open:
            body = text.rstrip()
            if body:
                ws = self._a_ws
                out.append(AnswerDelta(ws + body if ws else body))
                self._a_ws = text[len(body) :]
            else:
                self._a_ws += text
            return
        text = text.lstrip()
        if text:
            body = text.rstrip()
            self._a_ws = text[len(body) :]
            self._a_open = True
            if self._a_any:
                body = "\n\n" + body
            self._a_any = True
            out.append(AnswerDelta(body))

    def _reason(self, text: str, out: list[TranscriptEvent]) -> None:
        if self._r_open:
            body = text.rstrip()
            if body:
                ws = self._r_ws
                out.append(ReasoningDelta(ws + body if ws else body))
                self._r_ws = text[len(body) :]
            else:
                self._r_ws += text
            return
        text = text.lstrip()
        if text:
            body = text.rstrip()
            self._r_ws = text[len(body) :]
            self._r_open = True
            if self._r_any:
                body = "\n\n" + body
            self._r_any = True
            out.append(ReasoningDelta(body))

    def _end_answer(self) -> None:
        self._a_open = False
        self._a_ws = ""

    # -- states --------------------------------------------------------------------------------

    def _outside(self, text: str, out: list[TranscriptEvent]) -> str:
        start = 0
        n = len(text)
        i = text.find("<")
        while i >= 0:
            m = _TAG_RE.match(text, i)
            if m is None:
                if n - i <= _MAX_PREFIX and text[i:] in _OUTSIDE_PREFIXES:
                    self._answer(text[start:i], out)
                    self._held = text[i:]
                    return ""
            elif m.group(1):
                if m.group(2) in _STRAY_CLOSERS:
                    end = m.end()
                    self._answer(text[start:end], out)
                    out.append(
                        TranscriptIssue(
                            "stray_closing_tag",
                            m.group(0),
                            f"{m.group(0)} without an opening tag; kept as answer text",
                        )
                    )
                    start = end
            elif m.group(2) in _OPENERS:
                self._answer(text[start:i], out)
                self._open(m.group(2), self._raw_len - n + i)
                return text[m.end() :]
            i = text.find("<", i + 1)
        self._answer(text[start:] if start else text, out)
        return ""

    def _open(self, name: str, at: int) -> None:
        self._open_at = at
        if name == "think":
            self._end_answer()
            self._r_open = False
            self._r_ws = ""
            self._state = _THINK
        elif name == "answer":
            self._end_answer()
            self._state = _ANSWER
        else:
            # The answer segment is left open: an unclosed payload or a <code> block that turns
            # out to be HTML continues it as text.
            self._ptag = name
            self._pclose = f"</{name}>"
            self._pparts = []
            self._ptail = ""
            self._state = _PAYLOAD

    def _inside(
        self,
        text: str,
        close: str,
        emit: Callable[[str, list[TranscriptEvent]], None],
        out: list[TranscriptEvent],
    ) -> str:
        j = text.find(close)
        if j >= 0:
            emit(text[:j], out)
            if self._state == _THINK:
                self._r_open = False
                self._r_ws = ""
            else:
                self._end_answer()
            self._state = _OUTSIDE
            return text[j + len(close) :]
        k = text.rfind("<", max(0, len(text) - len(close) + 1))
        if k >= 0 and close.startswith(text[k:]):
            emit(text[:k], out)
            self._held = text[k:]
        else:
            emit(text, out)
        return ""

    def _payload(self, text: str, out: list[TranscriptEvent]) -> str:
        close = self._pclose
        tail = self._ptail
        probe = tail + text if tail else text
        j = probe.find(close)
        if j < 0:
            self._pparts.append(text)
            self._ptail = probe[-(len(close) - 1) :]
            return ""
        cut = j - len(tail)  # where the closing tag starts in ``text``; < 0 if in earlier parts
        if cut >= 0:
            self._pparts.append(text[:cut])
            payload = "".join(self._pparts)
        else:
            payload = "".join(self._pparts)[:cut]
        self._pparts = []
        self._ptail = ""
        self._finish(payload, out)
        return text[cut + len(close) :]

    def _pending(self, text: str, out: list[TranscriptEvent]) -> str:
        s = text.lstrip()
        if not s or (len(s) < len(_OBSERVATION) and _OBSERVATION.startswith(s)):
            self._held = text
            return ""
        self._resolve(s.startswith(_OBSERVATION), out)
        return text

    # -- payloads ------------------------------------------------------------------------------

    def _finish(self, payload: str, out: list[TranscriptEvent]) -> None:
        tag = self._ptag
        self._state = _OUTSIDE
        if tag == "tool_call":
            self._end_answer()
            info = _read_call(payload)
            if info.name in self._client_tools or (info.name is None and self._client_tools):
                self._pend_payload = payload
                self._pend_info = info
                self._state = _PENDING
            else:
                self._server_from_call(payload, info, out)
        elif tag == "code":
            self._pend_payload = payload
            self._pend_info = None
            self._state = _PENDING
        elif tag == "observation":
            self._end_answer()
            out.append(self._result(payload))
        elif tag == "plan":
            self._end_answer()
            _read_plan(payload, out)
        else:
            self._end_answer()
            body = payload.strip()
            arguments: Any = None
            if body.startswith("{"):
                with contextlib.suppress(ValueError):
                    arguments = json.loads(body)
            if not isinstance(arguments, dict):
                arguments = {_SEARCH_ARG[tag]: body}
            self._server(tag, arguments, payload, tag, out)

    def _resolve(self, server: bool, out: list[TranscriptEvent]) -> None:
        """Settle a held call: server trace if an observation follows, else client call/text."""
        payload, info = self._pend_payload, self._pend_info
        self._pend_payload = ""
        self._pend_info = None
        self._state = _OUTSIDE
        if info is None:  # a <code> block
            if server:
                self._end_answer()
                self._server("code", {"code": payload.strip("\r\n")}, payload, "code", out)
            else:
                self._answer(f"<code>{payload}</code>", out)
        elif server:
            self._server_from_call(payload, info, out)
        else:
            index = self._client_count
            self._client_count += 1
            error = info.json_error or info.shape_error
            if error is not None or info.name is None:
                out.append(InvalidClientToolCall(info.name, payload, error or "no name", index))
            else:
                arguments = json.dumps(info.arguments, ensure_ascii=False, separators=(",", ":"))
                out.append(ClientToolCall(info.name, arguments, index, info.call_id))

    def _server_from_call(self, payload: str, info: _CallInfo, out: list[TranscriptEvent]) -> None:
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

    def _result(self, payload: str) -> ServerToolResult:
        body = payload.strip()
        content: Any = body
        if body[:1] in ("{", "[", '"'):
            with contextlib.suppress(ValueError):
                content = json.loads(body)
        call, self._last_call = self._last_call, None
        hint = call.name if call is not None else None
        if hint is None and isinstance(content, dict) and isinstance(content.get("type"), str):
            hint = content["type"]
        sources = _sources(hint, content, call.arguments if call is not None else None)
        if call is None:
            return ServerToolResult(content, payload, None, None, sources)
        return ServerToolResult(content, payload, call.index, call.name, sources)


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


# -- helpers -----------------------------------------------------------------------------------


def _read_call(payload: str) -> _CallInfo:
    """Read ``{"name", "arguments", "id"?}``; ``arguments`` may be a JSON string."""
    try:
        obj = json.loads(payload)
    except ValueError as exc:
        m = _NAME_RE.search(payload)
        name: str | None = None
        if m is not None:
            try:
                name = json.loads(f'"{m.group(1)}"')
            except ValueError:
                name = m.group(1)
        return _CallInfo(name, None, None, f"invalid JSON in <tool_call>: {exc}", None)
    if not isinstance(obj, dict):
        return _CallInfo(None, obj, None, None, "<tool_call> is not a JSON object")
    raw_name = obj.get("name")
    name = raw_name if isinstance(raw_name, str) and raw_name else None
    call_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    arguments = obj.get("arguments", obj.get("parameters"))
    if arguments is None:
        arguments = {}
    elif isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return _CallInfo(name, arguments, call_id, None, "arguments string is not valid JSON")
    shape_error = None
    if name is None:
        shape_error = '<tool_call> has no "name"'
    elif not isinstance(arguments, dict):
        shape_error = "arguments is not a JSON object"
    return _CallInfo(name, arguments, call_id, None, shape_error)


def _read_plan(payload: str, out: list[TranscriptEvent]) -> None:
    try:
        data = json.loads(payload)
    except ValueError as exc:
        out.append(Plan((), payload))
        out.append(TranscriptIssue("invalid_json", payload, f"invalid JSON in <plan>: {exc}"))
        return
    if isinstance(data, dict):
        data = data.get("steps", data.get("plan"))
    if not isinstance(data, list):
        out.append(Plan((), payload))
        out.append(TranscriptIssue("invalid_plan", payload, "<plan> is not a list of steps"))
        return
    steps: list[PlanStep] = []
    bad: list[Any] = []
    for item in data:
        if not isinstance(item, dict):
            bad.append(item)
            continue
        raw_params = item.get("parameters")
        params = raw_params
        if isinstance(raw_params, str):
            with contextlib.suppress(ValueError):
                params = json.loads(raw_params)
        description = item.get("description")
        tool_name = item.get("tool_name", item.get("tool"))
        steps.append(
            PlanStep(
                description if isinstance(description, str) else "",
                tool_name if isinstance(tool_name, str) else "",
                params,
                raw_params,
            )
        )
    out.append(Plan(tuple(steps), payload))
    if bad:
        text = json.dumps(bad, ensure_ascii=False)
        out.append(TranscriptIssue("invalid_plan", text, "plan steps that are not objects"))


_WEB_HINTS = frozenset({"text_search", "web_search", "search"})
_IMAGE_HINTS = frozenset({"image_search"})
_PAGE_HINTS = frozenset({"web_content"})
_LIST_KEYS = ("results", "result", "data", "items")
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".svg")


def _first_str(d: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = d.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _items(content: Any) -> list[Any]:
    """The result list of a search observation: a list, or one wrapped in a dict."""
    if isinstance(content, dict):
        for key in _LIST_KEYS:
            value = content.get(key)
            if isinstance(value, str) and value.lstrip().startswith("["):
                try:
                    value = json.loads(value)
                except ValueError:
                    continue
            if isinstance(value, list):
                return value
        return []
    return content if isinstance(content, list) else []


def _is_url(value: str | None) -> bool:
    return value is not None and value.startswith(("http://", "https://", "//", "data:"))


def _is_image_url(value: str | None) -> bool:
    return (
        value is not None
        and _is_url(value)
        and value.split("?", 1)[0].lower().endswith(_IMAGE_EXTS)
    )


def _sources(hint: str | None, content: Any, call_arguments: Any) -> tuple[Source, ...]:
    if hint in _WEB_HINTS:
        found: list[Source] = []
        for item in _items(content):
            if isinstance(item, dict):
                title = _first_str(item, ("title", "name"))
                url = _first_str(item, ("url", "link", "href"))
                if title or url:
                    snippet = _first_str(item, ("snippet", "content", "description", "summary"))
                    found.append(Source(title, url, snippet, None, "web"))
        return tuple(found)
    if hint in _IMAGE_HINTS:
        found = []
        for item in _items(content):
            if isinstance(item, dict):
                # The published schema: "source" is the image's URL, "link" the result page.
                title = _first_str(item, ("title", "name"))
                page = _first_str(item, ("link", "url", "page_url"))
                source = _first_str(item, ("source",))
                image = source if _is_url(source) else None
                image = image or _first_str(
                    item, ("image_url", "image", "original", "thumbnail", "img_url")
                )
                if _is_image_url(page) and not _is_image_url(image):
                    page, image = image, page  # the two keys were swapped
                if title or page or image:
                    found.append(Source(title, page, None, image, "image"))
        return tuple(found)
    if hint in _PAGE_HINTS:
        url = call_arguments.get("url") if isinstance(call_arguments, dict) else None
        title = None
        if isinstance(content, list) and content and isinstance(content[0], dict):
            content = content[0]  # some servers wrap the page summary in a list
        if isinstance(content, dict):
            url = url or _first_str(content, ("url", "link"))
            title = _first_str(content, ("title",))
        if isinstance(url, str) and url:
            return (Source(title, url, None, None, "web"),)
    return ()
