"""ResponseParser's fast path for plain text chunks gives exactly what its checked path gives.

``parse_event`` takes the usual chunk (one choice, a delta of text) without its per-field
checks; these tests feed the same payloads to a parser and to one whose fast path always
declines, and require the same chunks, the same errors and the same state after them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r1v4 import R1V4Error
from r1v4._streaming import ResponseParser
from r1v4._types import ChatCompletionChunk


class CheckedOnly(ResponseParser):
    """A parser that takes every chunk through the checked path."""

    def _plain_event(self, obj: dict[str, Any]) -> ChatCompletionChunk | None:
        return None


class Counting(ResponseParser):
    """A parser that counts the chunks its fast path built."""

    def __init__(self, client_tools: frozenset[str] = frozenset()) -> None:
        super().__init__(client_tools)
        self.fast = 0

    def _plain_event(self, obj: dict[str, Any]) -> ChatCompletionChunk | None:
        out = super()._plain_event(obj)
        self.fast += out is not None
        return out


# Text that takes the transcript through its states: mostly plain words and whitespace (what
# the fast path takes), sometimes tags, whole, split or stray (what it must leave alone).
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


def _run(parser: ResponseParser, payloads: list[str]) -> list[Any]:
    """What the parser gives for each payload, then at the end, with its state after each."""
    out: list[Any] = []
    for data in payloads:
        try:
            result: Any = parser.parse_event(data)
        except R1V4Error as exc:
            result = (type(exc), str(exc), exc.partial_content, exc.partial_reasoning)
            out.append(result)
            return out
        out.append((result, parser.partial_content, parser.partial_reasoning, parser.delivered))
    out.append(parser.finish())
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=_PAYLOADS, tools=st.sampled_from([frozenset(), frozenset({"f"})]))
def test_fast_path_gives_what_the_checked_path_gives(
    payloads: list[str], tools: frozenset[str]
) -> None:
    assert _run(ResponseParser(tools), payloads) == _run(CheckedOnly(tools), payloads)


# The states a choice can be in when a changed chunk comes: streaming its answer, streaming
# reasoning, holding a split tag, inside a payload, closed by its finish_reason.
_BEFORE = {
    "answer": [_usual("hello")],
    "reasoning": [_usual("<think>why")],
    "held": [_usual("hello <thi")],
    "payload": [_usual("<tool_call>{")],
    "closed": [_usual("done", 0, [("choice", "finish_reason", "stop")])],
}


@pytest.mark.parametrize("before", list(_BEFORE))
def test_every_single_change_gives_what_the_checked_path_gives(before: str) -> None:
    """Each field of the usual chunk changed in turn, in each state of the choice: what the
    generated sequences above may miss."""
    first = _usual("", 0, [("delta", "role", "assistant")])
    for change in _MUTATIONS:
        for text in ("more", " more ", ""):
            payloads = [first, *_BEFORE[before], _usual(text, 0, [change]), _usual("end")]
            got = _run(ResponseParser(), payloads)
            assert got == _run(CheckedOnly(), payloads), (before, change, text)


def test_usual_chunks_take_the_fast_path() -> None:
    """The equality above is not vacuous: plain text chunks after the first are fast."""

    def usual(text: str, index: Any = 0) -> str:
        choice = {"index": index, "delta": {"content": text}, "finish_reason": None}
        return json.dumps({"id": "c", "model": "m", "created": 1, "choices": [choice]})

    parser = Counting()
    first = json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    payloads = [first, usual("a"), usual("b "), usual("<think>"), usual("why"), usual(" c")]
    chunks = [parser.parse_event(p) for p in payloads]
    # The first builds the choice's state; "<think>" has a tag: both take the checked path.
    assert parser.fast == 4
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
        parser = Counting()
        parser.parse_event(first)
        try:
            parser.parse_event(usual("a", bad))
        except R1V4Error as exc:
            assert "not a count" in str(exc)
        else:
            raise AssertionError(f"index {bad!r} was accepted")
        assert parser.fast == 0
