"""The wire shapes of the caller's tools that both adapters write."""

from __future__ import annotations

import json
from typing import Any

import pytest

from r1v4._integrations import tool_choice, wire_tool_call


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        (True, "required"),
        ("add", {"type": "function", "function": {"name": "add"}}),
        (
            {"type": "function", "function": {"name": "mul"}},
            {"type": "function", "function": {"name": "mul"}},
        ),
    ],
)
def test_tool_choice_spellings(choice: dict[str, Any] | str | bool, wire: object) -> None:
    assert tool_choice(choice, ["add", "mul"]) == wire


def test_a_name_is_taken_as_is_without_the_bound_names() -> None:
    assert tool_choice("anything") == {"type": "function", "function": {"name": "anything"}}


def test_a_name_not_bound_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'sub'.*\['add'\]"):
        tool_choice("sub", ["add"])
    with pytest.raises(ValueError, match="False"):
        tool_choice(False, ["add"])


def test_wire_tool_call_arguments() -> None:
    as_dict = wire_tool_call("c1", "add", {"a": 1, "city": "Zürich"})
    assert as_dict == {
        "id": "c1",
        "type": "function",
        "function": {"name": "add", "arguments": as_dict["function"]["arguments"]},
    }
    assert json.loads(as_dict["function"]["arguments"]) == {"a": 1, "city": "Zürich"}
    assert "Zürich" in as_dict["function"]["arguments"]  # sent as written, not \u-escaped
    assert wire_tool_call("c2", "f", '{"a": ')["function"]["arguments"] == '{"a": '
    assert wire_tool_call("c3", "f", "")["function"]["arguments"] == "{}"
    assert wire_tool_call("c4", "f", None)["function"]["arguments"] == "{}"
    assert wire_tool_call("c5", "f", {})["function"]["arguments"] == "{}"
