"""``ToolCallMerger``: streamed tool-call pieces joined by index, the one rule every consumer uses."""

from __future__ import annotations

from r1v4._accumulate import ToolCallMerger
from r1v4._call_ids import native_call_id
from r1v4._types import ToolCall, ToolCallDelta, ToolCallFunction


def test_pieces_join_by_index_in_index_order_whatever_order_they_came_in() -> None:
    merger = ToolCallMerger()
    assert not merger and merger.calls("r") == []
    merger.add([ToolCallDelta(1, "call_b", "lookup", '{"q": '), ToolCallDelta(0, "call_a", "add")])
    assert merger
    merger.add([ToolCallDelta(1, None, None, '"x"}'), ToolCallDelta(0, arguments='{"a": 1}')])
    # A later piece naming the call again does not rename it.
    merger.add([ToolCallDelta(0, "call_other", "other", "")])
    assert merger.calls("r") == [
        ToolCall(id="call_a", function=ToolCallFunction(name="add", arguments='{"a": 1}')),
        ToolCall(id="call_b", function=ToolCallFunction(name="lookup", arguments='{"q": "x"}')),
    ]


def test_a_call_without_arguments_or_id_is_still_whole() -> None:
    merger = ToolCallMerger()
    merger.add([ToolCallDelta(0, None, None, "")])
    merger.add([ToolCallDelta(0, None, "ping", "")])
    # The id is the stable one the stream parser gives too: the same reply, the same id.
    assert merger.calls("chatcmpl-1") == [
        ToolCall(
            id=native_call_id("chatcmpl-1", 0),
            function=ToolCallFunction(name="ping", arguments="{}"),
        )
    ]
    # Asking does not consume: the calls so far, again, after more pieces.
    merger.add([ToolCallDelta(0, arguments='{"n": 2}')])
    assert merger.calls("chatcmpl-1")[0].function.arguments == '{"n": 2}'
