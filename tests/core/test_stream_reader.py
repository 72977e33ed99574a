"""StreamReader: the chunks of one read before a bad event reach the caller before its error."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest

from r1v4 import IncompleteStreamError, MalformedResponseError, R1V4Error, ServerError
from r1v4._call import StreamReader
from r1v4._streaming import ResponseParser
from r1v4._types import ChatCompletionChunk


def _event(payload: str) -> bytes:
    return b"data: " + payload.encode() + b"\n\n"


def _text(text: str) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    return _event(json.dumps({"id": "c", "model": "m", "created": 1, "choices": [choice]}))


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (_event("{not json"), MalformedResponseError),
        (_event(json.dumps({"choices": [{"delta": 5}]})), MalformedResponseError),
        (_event(json.dumps({"error": {"message": "overloaded", "code": 500}})), ServerError),
    ],
)
def test_good_chunks_of_a_read_come_before_its_error(bad: bytes, error: type[R1V4Error]) -> None:
    reader = StreamReader(ResponseParser())
    assert [c.choices[0].delta.content for c in reader.feed(_text("one"))] == ["one"]
    seen: list[str | None] = []
    with pytest.raises(error) as info:
        # One read: two good events, the bad one, then one the reader must not reach.
        for chunk in reader.feed(_text(" two") + _text(" three") + bad + _text(" four")):
            seen.append(chunk.choices[0].delta.content)
    assert seen == [" two", " three"]
    assert info.value.partial_content == "one two three"


def test_a_read_after_done_gives_nothing() -> None:
    reader = StreamReader(ResponseParser())
    assert len(list(reader.feed(_text("a") + b"data: [DONE]\n\n" + _text("b")))) == 1
    assert list(reader.feed(_text("c"))) == []
    assert list(reader.end()) == []


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _event(json.dumps({"id": "c", "model": "m", "created": 1, "choices": [choice]}))


def _contents(chunks: Iterable[ChatCompletionChunk]) -> list[tuple[str | None, str | None]]:
    return [(c.choices[0].delta.role, c.choices[0].delta.raw_content) for c in chunks]


def test_chunks_wait_until_the_attempt_delivers_then_come_in_order() -> None:
    """Until an attempt has delivered it may be retried, so nothing of it reaches the caller;
    its first text releases everything before it, and then each chunk passes straight on."""
    reader = StreamReader(ResponseParser())
    assert list(reader.feed(_chunk({"role": "assistant", "content": ""}))) == []
    assert list(reader.feed(_text("\n<thi"))) == []  # whitespace, then maybe a tag: held
    assert not reader.parser.delivered
    released = list(reader.feed(_text("nk>why")))
    assert _contents(released) == [("assistant", None), (None, "\n<thi"), (None, "nk>why")]
    assert released[-1].choices[0].delta.reasoning == "why"
    assert _contents(reader.feed(_text(" so"))) == [(None, " so")]


def test_an_attempt_that_failed_before_delivering_hands_over_nothing() -> None:
    reader = StreamReader(ResponseParser())
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(MalformedResponseError) as info:
        for feed in (_chunk({"role": "assistant"}), _text("<tool_ca"), _event("{not json")):
            seen.extend(reader.feed(feed))
    assert seen == [] and info.value.partial_content == ""


def test_an_attempt_that_delivered_nothing_is_released_when_complete() -> None:
    reader = StreamReader(ResponseParser())
    body = _chunk({"role": "assistant", "content": ""}) + _chunk({}, "stop")
    assert list(reader.feed(body)) == []
    released = list(reader.feed(b"data: [DONE]\n\n"))
    assert [c.choices[0].finish_reason for c in released] == [None, "stop"]
    assert list(reader.end()) == []


def test_an_incomplete_stream_hands_over_what_it_delivered_before_its_error() -> None:
    reader = StreamReader(ResponseParser())
    assert list(reader.feed(_chunk({"role": "assistant"}) + _text("  "))) == []
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(IncompleteStreamError) as info:
        seen.extend(reader.end())  # the held whitespace is the answer after all
    assert info.value.partial_content == "  "
    assert "".join(c.choices[0].delta.content or "" for c in seen) == "  "
