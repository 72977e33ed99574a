"""ResponseParser.parse_event's contract for the usual chunk and every single change to it.

Every payload gives a chunk or a typed :class:`~r1v4.R1V4Error` (never another exception); what
the chunks deliver is what the parser reports as streamed, and what an error carries; plain text
arrives whole; and each field the parser reads is checked: a value of the wrong type is a
:class:`~r1v4.MalformedResponseError` naming that field, in every state of the choice.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r1v4 import MalformedResponseError, R1V4Error
from r1v4._streaming import ResponseParser
from r1v4._types import ChatCompletionChunk

# Text that takes the transcript through its states: mostly plain words and whitespace (what
# the transcript simply continues), sometimes tags, whole, split or stray.
_PLAIN = st.lists(
    st.sampled_from(["hello", " world ", "  ", "\n", "x > y", "é€", "ok"]), max_size=3
)
_TAGGY = st.lists(
    st.sampled_from(
        [
            "<think>",
            "</think>",
            "<answer>",
            "</answer>",
            "<thi",
            "nk>",
            "</ans",
            "<",
            "x < y",
            "<tool_call>",
            '{"name": "f", "arguments": {}}',
            "</tool_call>",
            "<observation>",
            "</observation>",
        ]
    ),
    min_size=1,
    max_size=2,
)
_TEXT = st.one_of(
    _PLAIN, _PLAIN, _PLAIN, st.tuples(_PLAIN, _TAGGY, _PLAIN).map(lambda t: t[0] + t[1] + t[2])
).map("".join)


# Values each check exists for, and well-formed ones, for each field the checked path reads.
_ODD: list[Any] = [None, 0, 1, -1, True, False, "", "x", 1.5, [], {}, [1], {"a": 1}]
_USAGE = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
_CALLS = [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]
_TWO = [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]
_VALUES: dict[tuple[str, str], list[Any]] = {
    ("chunk", "choices"): [*_ODD, _TWO],
    ("chunk", "usage"): [_USAGE, *_ODD],
    ("chunk", "id"): ["chatcmpl-2", *_ODD],
    ("chunk", "error"): [{"message": "boom"}],
    ("choice", "index"): [0, 1, 2, *_ODD],
    ("choice", "delta"): _ODD,
    ("choice", "finish_reason"): ["stop", "length", "tool_calls", *_ODD],
    ("choice", "logprobs"): [None],
    ("delta", "content"): ["hello", " <think>", *_ODD],
    ("delta", "role"): ["assistant", "user", *_ODD],
    ("delta", "reasoning_content"): ["why", *_ODD],
    ("delta", "reasoning"): ["so", *_ODD],
    ("delta", "tool_calls"): [_CALLS, *_ODD],
    ("delta", "refusal"): [None],
}
_DELETE = object()
# Every single change to the usual chunk: a field of the chunk, its choice or its delta set to
# one of its values, or deleted.
_MUTATIONS = [
    (where, key, value) for (where, key), values in _VALUES.items() for value in [*values, _DELETE]
]


def _usual(text: str, index: Any = 0, changes: list[Any] = []) -> str:  # noqa: B006
    """The usual chunk (``{"content": text}`` at ``index``) with ``changes`` applied."""
    delta: dict[str, Any] = {"content": text}
    choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": None}
    obj: dict[str, Any] = {"id": "chatcmpl-1", "model": "m", "created": 1, "choices": [choice]}
    for where, key, value in changes:
        target = {"chunk": obj, "choice": choice, "delta": delta}[where]
        if value is _DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return json.dumps(obj, ensure_ascii=False)


# Mostly the usual chunk unchanged, so runs of plain text (and the states they lead to) are
# common; the rest with one or two fields changed.
_PAYLOADS = st.lists(
    st.builds(
        _usual,
        _TEXT,
        st.sampled_from([0, 0, 0, 1, None]),
        st.just([]) | st.lists(st.sampled_from(_MUTATIONS), min_size=1, max_size=2),
    ),
    max_size=12,
)


def _run(parser: ResponseParser, payloads: list[str]) -> tuple[list[ChatCompletionChunk], Any]:
    """The chunks ``payloads`` give (the end's included), and the error that stopped them."""
    chunks: list[ChatCompletionChunk] = []
    for data in payloads:
        try:
            chunk = parser.parse_event(data)
        except R1V4Error as exc:
            return chunks, exc
        assert isinstance(chunk, ChatCompletionChunk)
        chunks.append(chunk)
    end = parser.finish()
    if end is not None:
        chunks.append(end)
    return chunks, None


def _joined(chunks: list[ChatCompletionChunk], field: str) -> str:
    """``field`` of every delta joined: the answer choice by choice (in the order the choices
    came), the reasoning in the order it came."""
    by_choice: dict[int, list[str]] = {}
    for ch in chunks:
        for c in ch.choices:
            index = c.index if field == "content" else 0
            by_choice.setdefault(index, []).append(getattr(c.delta, field) or "")
    return "".join("".join(pieces) for pieces in by_choice.values())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=_PAYLOADS, tools=st.sampled_from([frozenset(), frozenset({"f"})]))
def test_chunks_deliver_what_the_parser_reports(payloads: list[str], tools: frozenset[str]) -> None:
    """Any run of usual and changed chunks: a chunk or a typed error each; the answer and the
    reasoning the chunks carry are what the parser (and its error) say was streamed."""
    parser = ResponseParser(tools)
    chunks, error = _run(parser, payloads)
    if error is not None:
        # Everything delivered is kept (a chunk refused for its usage, checked after its
        # choices, may add its own text).
        assert (
            error.partial_content.startswith(_joined(chunks, "content"))
            or len({c.index for ch in chunks for c in ch.choices}) > 1
        )
        assert error.partial_reasoning.startswith(_joined(chunks, "reasoning"))
        return
    assert parser.partial_content == _joined(chunks, "content")
    assert parser.partial_reasoning == _joined(chunks, "reasoning")
    assert parser.delivered == any(
        c.delta.content or c.delta.reasoning or c.delta.tool_calls or c.delta.events
        for ch in chunks
        for c in ch.choices
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(_PLAIN.map("".join), max_size=12))
def test_plain_text_arrives_whole(texts: list[str]) -> None:
    """Usual chunks of plain text: each chunk carries the text sent as its raw content, and the
    answer (the end's flush included) is every text joined."""
    parser = ResponseParser()
    chunks, error = _run(parser, [_usual(t) for t in texts])
    assert error is None
    for text, chunk in zip(texts, chunks[: len(texts)], strict=True):
        assert chunk.choices[0].delta.raw_content == (text or None)
    assert _joined(chunks, "content") == "".join(texts) == parser.partial_content
    assert parser.partial_reasoning == ""


# The states a choice can be in when a changed chunk comes: streaming its answer, streaming
# reasoning, holding a split tag, inside a payload, closed by its finish_reason.
_BEFORE = {
    "answer": [_usual("hello")],
    "reasoning": [_usual("<think>why")],
    "held": [_usual("hello <thi")],
    "payload": [_usual("<tool_call>{")],
    "closed": [_usual("done", 0, [("choice", "finish_reason", "stop")])],
}


def _verdict(where: str, key: str, value: Any) -> str | None:
    """What the usual chunk with ``where[key]`` changed to ``value`` must give: ``None`` for a
    chunk, else a piece of its :class:`MalformedResponseError`'s message."""
    kind = "null" if value is None else type(value).__name__
    gone = value is _DELETE
    if where == "chunk" and key == "choices":
        if gone or value is None:
            return "has no choices"
        if not isinstance(value, list):
            return f"has choices that is {kind}, not a list"
        return None if all(isinstance(c, dict) for c in value) else "a choice that is int"
    if where == "chunk" and key == "usage":
        if gone or not value or isinstance(value, dict):
            return None
        return f"has usage that is {kind}, not an object"
    if where == "choice" and key == "index":
        ok = gone or value is None or (type(value) is int and value >= 0)
        return None if ok else "not a count"
    if where == "choice" and key == "delta":
        if gone or value is None:
            return "has a choice without a delta"
        return None if isinstance(value, dict) else f"has delta that is {kind}, not an object"
    names = {
        ("choice", "finish_reason"): "finish_reason",
        ("delta", "content"): "delta.content",
        ("delta", "role"): "delta.role",
        ("delta", "reasoning_content"): "delta.reasoning",
        ("delta", "reasoning"): "delta.reasoning",
    }
    if (where, key) in names:
        # An empty reasoning_content gives way to reasoning (absent here).
        absent = gone or value is None or (key == "reasoning_content" and not value)
        if absent or isinstance(value, str):
            return None
        return f"has {names[where, key]} that is {kind}, not a string"
    if (where, key) == ("delta", "tool_calls"):
        if gone or not value or value == _CALLS:
            return None
        if not isinstance(value, list):
            return f"has tool_calls that is {kind}, not a list"
        return "has a tool call that is int, not an object"
    return None  # id, error, logprobs, refusal: not read from a later chunk


def _after_close(where: str, key: str, value: Any, text: str) -> bool:
    """Whether the changed chunk still sends choice 0 content (refused once it is closed)."""
    if where == "chunk" and key == "choices":
        return value == _TWO
    if where == "choice" and key == "index" and value not in (_DELETE, None, 0):
        return False
    if where == "delta" and key == "content":
        return isinstance(value, str) and bool(value)
    if where == "choice" and key == "delta":
        return False  # the delta replaced: the text is gone
    return bool(text)


@pytest.mark.parametrize("before", list(_BEFORE))
def test_every_single_change_gives_its_chunk_or_its_error(before: str) -> None:
    """Each field of the usual chunk changed in turn, in each state of the choice: a wrong type
    is a MalformedResponseError naming the field, whatever the state; anything else a chunk
    (content after the choice's finish_reason excepted)."""
    first = _usual("", 0, [("delta", "role", "assistant")])
    for where, key, value in _MUTATIONS:
        for text in ("more", " more ", ""):
            parser = ResponseParser()
            for data in (first, *_BEFORE[before]):
                parser.parse_event(data)
            streamed = parser.partial_content, parser.partial_reasoning
            expected = _verdict(where, key, value)
            # Content after the finish is refused before the usage (read last) is checked.
            closed_first = before == "closed" and _after_close(where, key, value, text)
            if closed_first and (expected is None or key == "usage"):
                expected = "has content after its choice's finish_reason"
            case = (before, where, key, value, text)
            try:
                chunk = parser.parse_event(_usual(text, 0, [(where, key, value)]))
            except MalformedResponseError as exc:
                assert expected is not None and expected in str(exc), (case, str(exc))
                if key != "usage":  # checked after the choices, whose text then counts
                    assert (exc.partial_content, exc.partial_reasoning) == streamed, case
            else:
                assert expected is None, (case, expected)
                assert isinstance(chunk, ChatCompletionChunk), case


def test_usual_chunks() -> None:
    """Plain text chunks give their text as answer or reasoning, as the transcript goes."""

    def usual(text: str, index: Any = 0) -> str:
        choice = {"index": index, "delta": {"content": text}, "finish_reason": None}
        return json.dumps({"id": "c", "model": "m", "created": 1, "choices": [choice]})

    parser = ResponseParser()
    first = json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    payloads = [first, usual("a"), usual("b "), usual("<think>"), usual("why"), usual(" c")]
    chunks = [parser.parse_event(p) for p in payloads]
    assert [c.choices[0].delta.content for c in chunks if c is not None] == [
        None,
        "a",
        "b",
        None,
        None,
        None,
    ]
    assert [c.choices[0].delta.reasoning for c in chunks if c is not None] == [
        None,
        None,
        None,
        None,
        "why",
        " c",
    ]
    assert parser.partial_content == "ab" and parser.partial_reasoning == "why c"
    # An index given as a bool, or a negative one, is never taken for choice 0 or 1.
    for bad in (False, True, -1):
        parser = ResponseParser()
        parser.parse_event(first)
        with pytest.raises(MalformedResponseError, match="not a count"):
            parser.parse_event(usual("a", bad))
        assert parser.partial_content == ""
