"""Wire JSON -> typed chunks and completions.

One :class:`ResponseParser` per response does it, for streams and non-stream replies alike: the
non-stream body is parsed as a single chunk through the same code and then aggregated (by
``_accumulate``), so ``create()`` and ``accumulate(stream())`` cannot drift apart.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from r1v4._accumulate import accumulate
from r1v4._call_ids import invalid_call_id, native_call_id, text_tool_call_id
from r1v4._errors import MalformedResponseError, R1V4Error, error_from_body
from r1v4._transcript import (
    AnswerDelta,
    ClientToolCall,
    InvalidClientToolCall,
    ReasoningDelta,
    TranscriptEvent,
    TranscriptIssue,
    TranscriptParser,
)
from r1v4._transcript._events import TOOL_NAMES
from r1v4._transcript._image_uris import without_images
from r1v4._transcript._parser import HeldCall, unanswered_issue
from r1v4._types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    InvalidToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["Continuation", "ResponseParser", "ToolStep", "max_rounds_issue"]

# json.loads() wraps raw_decode() in type checks and two whitespace regex matches; on a 200-byte
# chunk that wrapper is a quarter of parse_event(). Payloads that are not one bare JSON value go
# through json.loads() after all, for its exact errors and whitespace rules.
_raw_decode = json.JSONDecoder().raw_decode


class _ChoiceState:
    __slots__ = (
        "answer",
        "closed",
        "native_base",
        "native_seen",
        "next_index",
        "text_calls",
        "transcript",
        "unanswered",
    )

    def __init__(self, client_tools: frozenset[str]) -> None:
        self.transcript = TranscriptParser(client_tools=client_tools)
        self.answer: list[str] = []  # the answer streamed so far, for errors and the end
        self.next_index = 0  # first index free for a call written as text
        self.text_calls = 0
        self.native_seen: set[int] = set()
        # Native calls of R1V4's own tools the caller did not bind: index -> [name, arguments
        # pieces]. Nobody runs them, so they are reported as unanswered when the choice ends.
        self.unanswered: dict[int, list[Any]] = {}
        self.closed = False
        # A reply the client continues: a later round's native calls (indexed from 0 by their
        # server) come after the earlier rounds' calls.
        self.native_base = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> _ChoiceState:
        # As the transcript's (TranscriptParser.__deepcopy__): the answer so far is immutable
        # pieces, so a copy gets a new list of the same pieces, not a copy of each.
        new = _ChoiceState.__new__(_ChoiceState)
        for name in _ChoiceState.__slots__:
            value = getattr(self, name)
            setattr(new, name, value[:] if name == "answer" else copy.deepcopy(value, memo))
        return new

    @property
    def has_calls(self) -> bool:
        """Whether the caller gets tool calls (written as text, or native and bound)."""
        return bool(self.text_calls or len(self.native_seen) > len(self.unanswered))


@dataclass(slots=True)
class Continuation:
    """A reply the client continues over rounds (it runs R1V4's tools between them): what a
    round's parser starts from, and how many tool calls the reply may still make.

    The first round starts from nothing (``state`` is ``None``); each later one from the state
    of the round before, fed the observations since (one transcript across rounds), under the
    first round's id.
    """

    calls_left: int
    state: _ChoiceState | None = None
    id: str = ""
    model: str = ""
    created: int = 0
    reasoning: list[str] = field(default_factory=list)

    def for_attempt(self) -> Continuation:
        """A copy for one attempt of a round: an attempt that fails and is retried must leave
        the state as it found it. (The transcript's text is shared, not copied: the lists of
        its pieces are, at a few nanoseconds a piece.)"""
        return Continuation(
            self.calls_left,
            copy.deepcopy(self.state),
            self.id,
            self.model,
            self.created,
            list(self.reasoning),
        )


@dataclass(frozen=True, slots=True)
class ToolStep:
    """A call of R1V4's own tool a round ended in, for the client to run: ``text`` is the call
    as the transcript has it (or, for a native call, as it is written into the transcript)."""

    name: str
    arguments: Any
    text: str
    native: bool


class ResponseParser:
    """Parses one response's SSE data payloads (or its whole JSON body) into typed objects.

    It also remembers what was delivered, so a failure can report the partial answer. Given a
    :class:`Continuation`, it parses one round of a reply the client continues: a round that
    ends in calls of R1V4's own tools (:attr:`steps`) does not end the reply (no finish, no
    ``unanswered_tool_call``), and :meth:`carry` hands its state to the next round.
    """

    __slots__ = (
        "_choices",
        "_client_tools",
        "_reasoning",
        "_round_raw",
        "_rounds",
        "_wire_reasoning",
        "created",
        "delivered",
        "done",
        "id",
        "model",
        "steps",
    )

    def __init__(
        self, client_tools: frozenset[str] = frozenset(), continues: Continuation | None = None
    ) -> None:
        self._client_tools = client_tools
        self._choices: dict[int, _ChoiceState] = {}
        self._reasoning: list[str] = []
        self.id = ""
        self.model = ""
        self.created = 0
        self.done = False
        self.delivered = False
        self._rounds = continues
        self.steps: list[ToolStep] = []
        self._round_raw: list[str] = []  # this round's content and wire reasoning, as sent
        self._wire_reasoning: list[str] = []
        if continues is not None and continues.state is not None:
            self._choices[0] = continues.state
            self._reasoning = continues.reasoning
            self.id, self.model, self.created = continues.id, continues.model, continues.created

    @property
    def partial_content(self) -> str:
        return "".join(piece for st in self._choices.values() for piece in st.answer)

    @property
    def partial_reasoning(self) -> str:
        return "".join(self._reasoning)

    def fail(self, exc: R1V4Error) -> R1V4Error:
        """Attach what was already streamed to ``exc`` and return it."""
        exc.partial_content = self.partial_content
        exc.partial_reasoning = self.partial_reasoning
        return exc

    # ------------------------------------------------------------------ stream

    def parse_event(self, data: str) -> ChatCompletionChunk | None:
        """One SSE ``data`` payload -> a chunk (``None`` for ``[DONE]`` or an empty payload).

        Any payload that is not a chunk (not JSON, or JSON of another shape) raises a typed
        :class:`~r1v4.R1V4Error` carrying the payload and what was already streamed.
        """
        if data == "[DONE]":
            self.done = True
            return None
        try:
            obj, end = _raw_decode(data)
        except ValueError:
            end = -1
        if end != len(data) or type(obj) is not dict:
            obj = self._load(data)
        try:
            if not self.id:
                self._remember(obj)
            return self._event(obj)
        except _Shape as exc:
            raise self.fail(_malformed(f"stream chunk {exc}", data)) from None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # A shape no check above foresaw: still a typed error, never a bare one.
            raise self.fail(_malformed(f"stream chunk not understood ({exc})", data)) from None

    def _event(self, obj: dict[str, Any]) -> ChatCompletionChunk:
        # Nearly every chunk is one choice with a piece of text, and this runs for each: every
        # field read is checked with an inline type test, and only a value that fails it goes
        # to the helper that names what is wrong (a helper call per field was half of the
        # core's own cost per chunk).
        choices = obj.get("choices")
        if type(choices) is not list:
            if choices is None and _is_error(obj):
                raise self.fail(error_from_body(200, obj))
            if choices is None and "usage" not in obj:
                raise _Shape("has no choices")
            choices = _items(choices, "choices")
        out: list[ChunkChoice] = []
        for c in choices:
            if type(c) is not dict:
                c = _choice(c)
            d = c.get("delta")
            if type(d) is not dict:
                d = _obj(_part(c, "delta"), "delta")
            index = c.get("index")
            if index is None:
                index = 0
            elif type(index) is not int or index < 0:
                index = _index(index, 0)
            # "" on every chunk (some gateways) is no finish: only a reason ends the choice.
            finish = c.get("finish_reason")
            if finish is not None and type(finish) is not str:
                _text(finish, "finish_reason")
            finish = finish or None
            role = d.get("role")
            if role is not None and type(role) is not str:
                _text(role, "delta.role")
            content = d.get("content")
            if content is not None and type(content) is not str:
                _text(content, "delta.content")
            reasoning = d.get("reasoning_content") or d.get("reasoning")
            if reasoning is not None and type(reasoning) is not str:
                _text(reasoning, "delta.reasoning")
            delta = self._delta(
                index, role, content, reasoning, d.get("tool_calls"), finish is not None
            )
            if finish is not None:
                # A round that waits for R1V4's tools is not the reply's end.
                finish = None if self.steps else _finish_reason(self._choices[index], finish)
            out.append(ChunkChoice(index, delta, finish))
        usage = obj.get("usage")
        return ChatCompletionChunk(
            self.id, self.model, self.created, out, _usage(usage) if usage else None
        )

    def finish(self) -> ChatCompletionChunk | None:
        """End of stream: flush transcripts still open (a server that sent no finish_reason)."""
        out = [
            ChunkChoice(i, self._delta(i, None, None, None, None, True))
            for i, st in self._choices.items()
            if not st.closed
        ]
        out = [c for c in out if _has_payload(c.delta)]
        return ChatCompletionChunk(self.id, self.model, self.created, out) if out else None

    # -------------------------------------------------------------- non-stream

    def parse_completion(self, body: bytes | str) -> ChatCompletion:
        """A whole non-stream JSON body -> :class:`ChatCompletion`, via the stream path."""
        return accumulate([self.parse_completion_chunk(body)])

    def parse_completion_chunk(self, body: bytes | str) -> ChatCompletionChunk:
        """A whole non-stream JSON body -> the one chunk that holds it all."""
        obj = self._load(body)
        try:
            return self._completion(obj, body)
        except _Shape as exc:
            raise self.fail(_malformed(f"response {exc}", body)) from None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise self.fail(_malformed(f"response not understood ({exc})", body)) from None

    def _completion(self, obj: dict[str, Any], body: bytes | str) -> ChatCompletionChunk:
        if not self.id:
            self._remember(obj)
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices:
            if not isinstance(choices, list) and _is_error(obj):
                raise error_from_body(200, obj)
            # A stream may end in a usage chunk with no choices; a whole reply without one
            # has no message to give (``completion.message`` would be an IndexError).
            raise _Shape("has no choices")
        out: list[ChunkChoice] = []
        for pos, c in enumerate(choices):
            c = _choice(c)
            m = _obj(_part(c, "message"), "message")
            index = _index(c.get("index"), pos)
            calls = m.get("tool_calls")
            if calls:
                calls = [
                    {"index": i, **_obj(tc, "a tool call")}
                    for i, tc in enumerate(_items(calls, "tool_calls"))
                ]
            delta = self._delta(
                index,
                _text(m.get("role"), "message.role"),
                _text(m.get("content"), "message.content"),
                _text(m.get("reasoning_content") or m.get("reasoning"), "message.reasoning"),
                calls,
                True,
            )
            finish = _text(c.get("finish_reason"), "finish_reason") or None
            if self.steps:
                finish = None
            elif finish == "tool_calls":
                finish = _finish_reason(self._choices[index], finish)
            out.append(ChunkChoice(index, delta, finish))
        return self._chunk(out, _usage(obj.get("usage")))

    # ------------------------------------------------------------------ shared

    def _load(self, data: bytes | str) -> dict[str, Any]:
        try:
            obj = json.loads(data)
        except ValueError:
            raise self.fail(
                MalformedResponseError(
                    f"the server sent something that is not JSON: {_preview(data)!r}",
                    body=_preview(data),
                )
            ) from None
        if not isinstance(obj, dict):
            raise self.fail(MalformedResponseError(f"expected a JSON object: {_preview(data)!r}"))
        return obj

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None) -> ChatCompletionChunk:
        return ChatCompletionChunk(self.id, self.model, self.created, choices, usage)

    def _remember(self, obj: dict[str, Any]) -> None:
        # Before any delta is built: generated call ids derive from the response id.
        rid, model, created = obj.get("id"), obj.get("model"), obj.get("created")
        self.id = rid if isinstance(rid, str) else ""
        self.model = model if isinstance(model, str) else ""
        self.created = created if type(created) is int else 0

    def _delta(
        self,
        index: int,
        role: str | None,
        content: str | None,
        reasoning: str | None,
        tool_calls: list[dict[str, Any]] | None,
        last: bool,
    ) -> Delta:
        st = self._choices.get(index)
        if st is None:
            st = self._choices[index] = _ChoiceState(self._client_tools)
        if self._rounds is not None and (content or reasoning):
            # The round as the model wrote it, for the request that continues it.
            if reasoning:
                self._wire_reasoning.append(reasoning)
            if content:
                self._round_raw.append(content)
        calls: list[ToolCallDelta] | None = None
        if tool_calls:
            calls = []
            for tc in _items(tool_calls, "tool_calls"):
                tc = _obj(tc, "a tool call")
                fn = _obj(tc.get("function"), "a tool call's function")
                i = _index(tc.get("index"), 0) + st.native_base
                call_id = _text(tc.get("id"), "a tool call's id")
                name = _text(fn.get("name"), "a tool call's name")
                arguments = _arguments(fn.get("arguments"))
                if i >= st.next_index:
                    st.next_index = i + 1
                if i not in st.native_seen:
                    st.native_seen.add(i)
                    if name in TOOL_NAMES and name not in self._client_tools:
                        # A server's tool parser made R1V4's own call a native one: it is not
                        # the caller's to run.
                        st.unanswered[i] = [name, [arguments]]
                        continue
                    if not call_id:
                        call_id = native_call_id(self.id, i)
                elif i in st.unanswered:
                    st.unanswered[i][1].append(arguments)
                    continue
                calls.append(ToolCallDelta(i, call_id, name, arguments))
            calls = calls or None
        answer: str | None = None
        events: list[TranscriptEvent] | None = None
        invalid: list[InvalidToolCall] | None = None
        closing = False
        if content and st.closed:
            raise _Shape(f"has content after its choice's finish_reason: {content[:100]!r}")
        if content or (last and not st.closed):
            tp = st.transcript
            # The common case, kept cheap: a piece of answer or reasoning, no events built.
            inline = tp.feed_plain(content) if content and not last else None
            if inline is not None:
                if tp.streaming is AnswerDelta:
                    answer = inline
                elif inline:
                    reasoning = reasoning + inline if reasoning else inline
            else:
                evs = tp.feed(content) if content else []
                if last:
                    st.closed = closing = True
                    natives = st.unanswered
                    if self._rounds is not None and index == 0:
                        closing, evs = self._end_round(st, evs)
                        natives = {}  # run, or reported by _end_round
                    if closing:
                        evs = evs + tp.close() if evs else tp.close()
                        if natives:
                            evs = evs + _unanswered_native(natives)
                if evs:
                    answer, inline, calls, events, invalid = self._route(st, evs, calls)
                    if inline:
                        reasoning = reasoning + inline if reasoning else inline
        if answer:
            st.answer.append(answer)
            self.delivered = True
        else:
            answer = None
        transcript = self._transcript(st) if closing else None
        if reasoning:
            self._reasoning.append(reasoning)
            self.delivered = True
        if calls or events or invalid:
            self.delivered = True
        return Delta(
            role, answer, reasoning or None, calls, events, content or None, invalid, transcript
        )

    # ------------------------------------------------------------ rounds

    def _end_round(
        self, st: _ChoiceState, evs: list[TranscriptEvent]
    ) -> tuple[bool, list[TranscriptEvent]]:
        """A round of a continued reply ends: the calls of R1V4's tools it ended in become
        :attr:`steps` (the reply goes on; returns ``False``), or, past the reply's limit, issues
        of kind ``max_tool_rounds`` (the reply ends; returns ``True``)."""
        assert self._rounds is not None
        tp = st.transcript
        steps: list[ToolStep] = []
        held: HeldCall | None = tp.held_call
        if held is not None:
            steps.append(ToolStep(held.name, held.arguments, held.text, False))
        for i in sorted(st.unanswered):
            name, pieces = st.unanswered[i]
            arguments = "".join(pieces) or "{}"
            steps.append(ToolStep(name, arguments, _native_text(name, arguments), True))
        if not steps:
            return True, evs
        if len(steps) <= self._rounds.calls_left:
            self.steps = steps
            return False, evs
        # All or none: a round's calls answered in part would leave the model a transcript
        # with a call no observation follows.
        tp.drop_held_call()
        return True, evs + [max_rounds_issue(step.name, step.text) for step in steps]

    def carry(self) -> Continuation:
        """After a round that ended in :attr:`steps`: where the next round starts (feed it the
        observations first, with :meth:`local`)."""
        assert self._rounds is not None and self.steps
        st = self._choices[0]
        st.closed = False
        st.native_seen = set()
        st.unanswered = {}
        st.native_base = st.next_index
        calls_left = self._rounds.calls_left - len(self.steps)
        return Continuation(calls_left, st, self.id, self.model, self.created, self._reasoning)

    @property
    def round_text(self) -> str:
        """This round as the model wrote it: reasoning a server split off put back in
        ``<think>`` tags, then the content, then the native calls of :attr:`steps` as text."""
        think = "".join(self._wire_reasoning)
        text = f"<think>{think}</think>" if think else ""
        text += "".join(self._round_raw)
        return text + "".join(step.text for step in self.steps if step.native)

    def local(self, text: str) -> ChatCompletionChunk:
        """``text`` the client adds to the transcript (a native call written out, an
        observation), parsed like content the server sent: the chunk of its events."""
        return self._chunk([ChunkChoice(0, self._delta(0, None, text, None, None, False))], None)

    @staticmethod
    def _transcript(st: _ChoiceState) -> str | None:
        """A closed choice's raw transcript, when it is not just its answer (its generated
        images left out: they are in the events)."""
        raw = st.transcript.raw
        return without_images(raw) if raw and raw != "".join(st.answer) else None

    def _route(
        self,
        st: _ChoiceState,
        evs: list[TranscriptEvent],
        calls: list[ToolCallDelta] | None,
    ) -> tuple[
        str | None,
        str | None,
        list[ToolCallDelta] | None,
        list[TranscriptEvent] | None,
        list[InvalidToolCall] | None,
    ]:
        answer: list[str] = []
        reasoning: list[str] = []
        events: list[TranscriptEvent] = []
        invalid: list[InvalidToolCall] = []
        for ev in evs:
            t = type(ev)
            if t is AnswerDelta:
                answer.append(ev.text)  # type: ignore[union-attr]
            elif t is ReasoningDelta:
                reasoning.append(ev.text)  # type: ignore[union-attr]
            elif t is ClientToolCall:
                assert isinstance(ev, ClientToolCall)
                if calls is None:
                    calls = []
                call_id = ev.id or text_tool_call_id(self.id, st.text_calls)
                st.text_calls += 1
                calls.append(ToolCallDelta(st.next_index, call_id, ev.name, ev.arguments))
                st.next_index += 1
            elif t is InvalidClientToolCall:
                assert isinstance(ev, InvalidClientToolCall)
                invalid.append(
                    InvalidToolCall(invalid_call_id(self.id, ev.index), ev.name, ev.raw, ev.error)
                )
            else:
                events.append(ev)
        return (
            "".join(answer) or None,
            "".join(reasoning) or None,
            calls,
            events or None,
            invalid or None,
        )


def _finish_reason(st: _ChoiceState, finish: str) -> str:
    """``finish`` as the caller sees it: ``"tool_calls"`` exactly when they get tool calls
    (some written as text, or a server that ends native calls with ``"stop"``, as the
    aggregate says too); ``"stop"`` when every call was R1V4's own, reported unanswered."""
    if finish == "stop" and st.has_calls:
        return "tool_calls"
    if finish == "tool_calls" and st.unanswered and not st.has_calls:
        return "stop"
    return finish


def _unanswered_native(calls: dict[int, list[Any]]) -> list[TranscriptEvent]:
    out: list[TranscriptEvent] = []
    for i in sorted(calls):
        name, pieces = calls[i]
        arguments = "".join(pieces) or "{}"
        out.append(
            unanswered_issue(name, f'{{"name": {json.dumps(name)}, "arguments": {arguments}}}')
        )
    return out


def _native_text(name: str, arguments: str) -> str:
    """A native call of R1V4's tool as its transcripts write one."""
    return f'<tool_call>{{"name": {json.dumps(name)}, "arguments": {arguments}}}</tool_call>'


def max_rounds_issue(name: str, text: str) -> TranscriptIssue:
    """The issue that ends a reply at ``R1V4Tools(max_tool_rounds=...)``: ``text`` is the call
    the client did not run."""
    return TranscriptIssue(
        "max_tool_rounds",
        text,
        f"R1V4 called tool {name!r} after the reply had made as many tool calls as "
        "R1V4Tools(max_tool_rounds=...) allows: it was not run and the reply ends here",
    )


class _Shape(Exception):
    """Valid JSON of a shape that is not a chat completion (chunk); its text ends the message
    of the :class:`MalformedResponseError` raised for it."""


def _malformed(what: str, data: bytes | str) -> MalformedResponseError:
    preview = _preview(data)
    return MalformedResponseError(f"the server's {what}: {preview!r}", body=preview)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _obj(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Shape(f"has {what} that is {_kind(value)}, not an object")
    return value


def _choice(value: Any) -> dict[str, Any]:
    # Not _obj(): a null choice is no choice at all, not an empty one.
    if not isinstance(value, dict):
        raise _Shape(f"has a choice that is {_kind(value)}, not an object")
    return value


def _part(choice: dict[str, Any], key: str) -> Any:
    """A choice's ``delta`` or ``message``: without it a choice says nothing, so a server
    that sent none (or null) sent something wrong, never an empty reply."""
    value = choice.get(key)
    if value is None:
        raise _Shape(f"has a choice without a {key}")
    return value


def _items(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Shape(f"has {what} that is {_kind(value)}, not a list")
    return value


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Shape(f"has {what} that is {_kind(value)}, not a string")


def _index(value: Any, default: int) -> int:
    if value is None:
        return default
    if type(value) is not int or value < 0:
        raise _Shape(f"has an index that is {value!r}, not a count")
    return value


def _arguments(value: Any) -> str:
    """A tool call's arguments: JSON text, as OpenAI sends them; an object some servers send
    as it is becomes that text."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    raise _Shape(f"has tool call arguments that are {_kind(value)}, not JSON text")


def _usage(value: Any) -> Usage | None:
    if not value:
        return None
    usage = _obj(value, "usage")
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        n = usage.get(key)
        if n is not None and (type(n) is not int or n < 0):
            raise _Shape(f"has usage.{key} that is {n!r}, not a count")
    return Usage.from_wire(usage)


def _is_error(obj: dict[str, Any]) -> bool:
    if "error" in obj:
        return True
    return "code_msg" in obj or obj.get("code") not in (None, 0, 200, "0", "200", "success")


def _has_payload(d: Delta) -> bool:
    return bool(
        d.content or d.reasoning or d.tool_calls or d.events or d.invalid_tool_calls or d.transcript
    )


def _preview(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[:200]
