"""StreamReader: the chunks of one read before a bad event reach the caller before its error."""

from __future__ import annotations

import json

import pytest

from r1v4 import MalformedResponseError, R1V4Error, ServerError
from r1v4._call import StreamReader


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
    reader = StreamReader(frozenset())
    assert [c.choices[0].delta.content for c in reader.feed(_text("one"))] == ["one"]
    seen: list[str | None] = []
    with pytest.raises(error) as info:
        # One read: two good events, the bad one, then one the reader must not reach.
        for chunk in reader.feed(_text(" two") + _text(" three") + bad + _text(" four")):
            seen.append(chunk.choices[0].delta.content)
    assert seen == [" two", " three"]
    assert info.value.partial_content == "one two three"


def test_a_read_after_done_gives_nothing() -> None:
    reader = StreamReader(frozenset())
    assert len(list(reader.feed(_text("a") + b"data: [DONE]\n\n" + _text("b")))) == 1
    assert list(reader.feed(_text("c"))) == []
    assert list(reader.end()) == []
