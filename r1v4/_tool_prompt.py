"""Prompted tool calling: the request rewritten so a server without tool support can carry it.

R1V4 is a Qwen3-VL fine-tune, and its chat template is what a tool-aware server would apply to
``tools``, assistant ``tool_calls`` and ``tool`` messages before the model sees them. Here that
rendering is done on the client instead, producing plain ``system`` / ``user`` / ``assistant``
messages, so the model reads exactly the text it was trained on whichever server is in front of
it. Every string below follows the Qwen3-VL template; the ``tool_choice`` and
``parallel_tool_calls`` lines are the only additions (the template has no way to say them).

``tool_choice="none"``: the tools are not rendered at all (the model cannot call what it is not
shown), and when tools were bound a system line tells the model not to call any, since earlier
``<tool_call>`` turns in the history would otherwise invite another one.

The function is pure (no I/O), so the sync and async clients share it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from r1v4._errors import InvalidRequestError
from r1v4._types import ChatRequest, ContentPart, Message, TextPart, Tool, ToolCall

__all__ = ["to_prompted", "tools_section"]

_TOOLS_HEAD = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>"
)
_TOOLS_TAIL = (
    "\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)
# The template joins the caller's system text and the tools section with a blank line.
_SYSTEM_JOIN = "\n\n"

MUST_CALL = "You must call at least one function."
MUST_NOT_CALL = "Do not call any functions in this reply; answer directly."
AT_MOST_ONE = "Call at most one function in this reply."


def must_call_named(name: str) -> str:
    return f"You must call the function {name}."


def to_prompted(request: ChatRequest) -> ChatRequest:
    """The same request with its tools, tool calls and tool results written into the messages.

    The result has no ``tools``, ``tool_choice`` or ``parallel_tool_calls``, no assistant
    ``tool_calls`` and no ``tool`` role. ``request`` is not modified; image parts are shared
    with it, and stay where they were in their message.
    """
    messages = _rewrite_history(request.messages)
    section = _system_section(request)
    if section:
        first = messages[0]
        if first.role == "system":
            messages[0] = first.model_copy(update={"content": _append(first.content, section)})
        else:
            messages.insert(0, Message(role="system", content=section))
    return request.model_copy(
        update={
            "messages": messages,
            "tools": None,
            "tool_choice": None,
            "parallel_tool_calls": None,
        }
    )


def tools_section(tools: Sequence[Tool], instructions: Sequence[str] = ()) -> str:
    """The "# Tools" section of the system message, as the Qwen3-VL template writes it, with
    any ``instructions`` as lines after it."""
    lines = "".join("\n" + _tool_json(t) for t in tools)
    text = _TOOLS_HEAD + lines + _TOOLS_TAIL
    if instructions:
        text += _SYSTEM_JOIN + "\n".join(instructions)
    return text


# ----------------------------------------------------------------------------- system


def _system_section(request: ChatRequest) -> str:
    tools = request.tools or []
    if not tools:
        return ""
    choice = request.tool_choice
    if choice == "none":
        return MUST_NOT_CALL
    instructions: list[str] = []
    if choice == "required":
        instructions.append(MUST_CALL)
    elif isinstance(choice, dict):
        name = _chosen_name(choice)
        if name not in request.tool_names():
            raise InvalidRequestError(f"tool_choice names {name!r}, which is not among the tools")
        instructions.append(must_call_named(name))
    if request.parallel_tool_calls is False:
        instructions.append(AT_MOST_ONE)
    return tools_section(tools, instructions)


def _chosen_name(choice: dict[str, Any]) -> str:
    fn = choice.get("function")
    name = fn.get("name") if isinstance(fn, dict) else choice.get("name")
    if choice.get("type", "function") != "function" or not isinstance(name, str) or not name:
        raise InvalidRequestError(
            "tool_choice must be 'auto', 'none', 'required' or "
            f'{{"type": "function", "function": {{"name": ...}}}}, got {choice!r}'
        )
    return name


def _tool_json(tool: Tool) -> str:
    # The template's ``tool | tojson`` is json.dumps with its default separators and
    # non-ASCII kept, over the tool as the caller gave it (unset fields left out).
    fn = tool.function
    spec: dict[str, Any] = {"name": fn.name}
    if fn.description is not None:
        spec["description"] = fn.description
    spec["parameters"] = fn.parameters
    if fn.strict is not None:
        spec["strict"] = fn.strict
    return json.dumps({"type": tool.type, "function": spec}, ensure_ascii=False)


def _append(content: str | list[ContentPart] | None, section: str) -> str | list[ContentPart]:
    # The template writes the system text, then a blank line, then the section, even when the
    # system text is empty; a list keeps its parts (and any image) and gains one text part.
    if isinstance(content, list):
        return [*content, TextPart(text=_SYSTEM_JOIN + section)]
    return (content or "") + _SYSTEM_JOIN + section


# ---------------------------------------------------------------------------- history


def _rewrite_history(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    results: list[Message] = []  # consecutive tool messages, sent as one user message
    for m in messages:
        if m.role == "tool":
            results.append(m)
            continue
        if results:
            out.append(_tool_responses(results))
            results = []
        if m.role == "assistant" and m.tool_calls:
            out.append(_assistant_with_calls(m))
        else:
            out.append(m)
    if results:
        out.append(_tool_responses(results))
    return out


def _call_text(call: ToolCall) -> str:
    # The arguments string goes in as given, as the template does with a string.
    fn = call.function
    args = fn.arguments or "{}"
    return f'<tool_call>\n{{"name": "{fn.name}", "arguments": {args}}}\n</tool_call>'


def _assistant_with_calls(m: Message) -> Message:
    calls = [_call_text(c) for c in m.tool_calls or ()]
    # Calls are separated by a newline, and the first follows the content on a new line only
    # when there is content.
    text = "\n".join(calls)
    content: str | list[ContentPart]
    if isinstance(m.content, list):
        content = [*m.content, TextPart(text=("\n" if m.content else "") + text)]
    else:
        content = (m.content + "\n" + text) if m.content else text
    return Message(role="assistant", content=content, name=m.name)


def _tool_responses(results: list[Message]) -> Message:
    """One user message holding a ``<tool_response>`` block per result, in order."""
    parts: list[ContentPart] = []
    for i, m in enumerate(results):
        opening = ("\n" if i else "") + "<tool_response>\n"
        parts.append(TextPart(text=opening))
        if isinstance(m.content, list):
            parts.extend(m.content)
        else:
            parts.append(TextPart(text=m.content or ""))
        parts.append(TextPart(text="\n</tool_response>"))
    merged = _merge_text(parts)
    if len(merged) == 1 and isinstance(merged[0], TextPart):
        return Message(role="user", content=merged[0].text)
    return Message(role="user", content=merged)


def _merge_text(parts: list[ContentPart]) -> list[ContentPart]:
    """Adjacent text parts joined, so an all-text result becomes one string."""
    out: list[ContentPart] = []
    for p in parts:
        prev = out[-1] if out else None
        if isinstance(p, TextPart) and isinstance(prev, TextPart):
            out[-1] = TextPart(text=prev.text + p.text)
        elif not (isinstance(p, TextPart) and not p.text):
            out.append(p)
    return out
