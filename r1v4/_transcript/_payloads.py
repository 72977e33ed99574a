"""Reading the JSON payloads of ``<tool_call>`` and ``<plan>``, leniently."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from r1v4._transcript._events import Plan, PlanStep, TranscriptEvent, TranscriptIssue

__all__ = ["CallInfo", "read_call", "read_plan"]

_NAME_RE = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a ``<tool_call>`` payload says, and what is wrong with it."""

    name: str | None
    arguments: Any
    call_id: str | None
    json_error: str | None
    shape_error: str | None


def read_call(payload: str) -> CallInfo:
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
        return CallInfo(name, None, None, f"invalid JSON in <tool_call>: {exc}", None)
    if not isinstance(obj, dict):
        return CallInfo(None, obj, None, None, "<tool_call> is not a JSON object")
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
            return CallInfo(name, arguments, call_id, None, "arguments string is not valid JSON")
    shape_error = None
    if name is None:
        shape_error = '<tool_call> has no "name"'
    elif not isinstance(arguments, dict):
        shape_error = "arguments is not a JSON object"
    return CallInfo(name, arguments, call_id, None, shape_error)


def read_plan(payload: str, out: list[TranscriptEvent]) -> None:
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
