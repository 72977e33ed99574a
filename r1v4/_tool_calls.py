"""The wire shape of the caller's tools that both adapters write: the ``tool_choice`` a
framework's spelling becomes, and an assistant message's ``tool_calls`` entry."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["tool_choice", "wire_tool_call"]


def tool_choice(
    choice: Mapping[str, Any] | str | bool, names: Collection[str] | None = None
) -> dict[str, Any] | str:
    """The OpenAI ``tool_choice`` for ``choice``.

    ``"auto"`` and ``"none"`` stay; ``True``, ``"any"`` and ``"required"`` are ``"required"``
    (must call a tool); any other string names the one tool to call, and must be one of
    ``names`` when they are given; a dict is already the wire form.

    Raises:
        ValueError: ``choice`` names none of ``names``.
    """
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice is True or choice in ("any", "required"):
        return "required"
    if choice in ("auto", "none"):
        return str(choice)
    if isinstance(choice, str) and (names is None or choice in names):
        return {"type": "function", "function": {"name": choice}}
    raise ValueError(
        f"tool_choice {choice!r} is neither 'auto', 'none', 'any', 'required' nor one of the "
        f"bound tools {list(names or ())}"
    )


def wire_tool_call(
    call_id: str, name: str, arguments: Mapping[str, Any] | str | None
) -> dict[str, Any]:
    """One entry of an assistant message's ``tool_calls``; arguments a dict are sent as JSON,
    a string as written, and none at all as ``{}``."""
    if isinstance(arguments, Mapping):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments or "{}"},
    }
