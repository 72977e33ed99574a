"""The ``FunctionCallingLLM`` tool plumbing: the chat arguments for a call with tools, and the
calls of those tools read back from a response.

``R1V4``'s ``_prepare_chat_with_tools``, ``_validate_chat_with_tools_response`` and
``get_tool_calls_from_response`` are these functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from llama_index_r1v4._messages import legacy_tool_call
from r1v4._integrations import tool_choice as wire_tool_choice

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["chat_with_tools_kwargs", "keep_first_tool_call", "tool_selections"]


def chat_with_tools_kwargs(
    tools: Sequence[BaseTool],
    user_msg: str | ChatMessage | None,
    chat_history: list[ChatMessage] | None,
    *,
    allow_parallel_tool_calls: bool,
    tool_required: bool,
    tool_choice: str | dict[str, Any] | None,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Chat arguments with ``tools``, ``tool_choice`` and the messages to send."""
    specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
    messages = list(chat_history or [])  # never grow the caller's list
    if isinstance(user_msg, str):
        user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
    if user_msg is not None:
        messages.append(user_msg)
    out: dict[str, Any] = {"messages": messages, **kwargs}
    if specs:
        if tool_choice is None:
            tool_choice = "required" if tool_required else "auto"
        out["tools"] = specs
        out["tool_choice"] = wire_tool_choice(tool_choice)
        if not allow_parallel_tool_calls:
            out["parallel_tool_calls"] = False
    return out


def keep_first_tool_call(response: ChatResponse) -> ChatResponse:
    """``response`` with its first tool call only, the other blocks untouched."""
    blocks = response.message.blocks
    calls = [b for b in blocks if isinstance(b, ToolCallBlock)]
    if len(calls) > 1:
        first = calls[0]
        response.message.blocks = [
            b for b in blocks if not isinstance(b, ToolCallBlock) or b is first
        ]
    return response


def tool_selections(response: ChatResponse, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The calls of the caller's tools in ``response``, arguments parsed as far as they go."""
    selections = [
        ToolSelection(
            tool_id=block.tool_call_id or "",
            tool_name=block.tool_name,
            tool_kwargs=_arguments(block.tool_kwargs),
        )
        for block in response.message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    if not selections:
        # Messages built elsewhere may carry OpenAI-style calls instead of blocks.
        for call in response.message.additional_kwargs.get("tool_calls") or ():
            wire = legacy_tool_call(call)
            selections.append(
                ToolSelection(
                    tool_id=wire["id"],
                    tool_name=wire["function"]["name"],
                    tool_kwargs=_arguments(wire["function"]["arguments"]),
                )
            )
    if not selections and error_on_no_tool_call:
        raise ValueError("Expected at least one tool call, but got 0 tool calls.")
    return selections


def _arguments(arguments: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        value = _partial_json(arguments)
    return value if isinstance(value, dict) else {}


def _partial_json(text: str) -> Any:
    """As much of a half-streamed JSON object as can be read; ``{}`` when nothing can."""
    try:
        return parse_partial_json(text)
    except (ValueError, TypeError):
        pass
    # A key whose colon has not arrived yet ('{"a": 6, "b"') trips the parser: drop it.
    cut = text.rfind(",")
    if cut > 0:
        try:
            return parse_partial_json(text[:cut])
        except (ValueError, TypeError):
            pass
    return {}
