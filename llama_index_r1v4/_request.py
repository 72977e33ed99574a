"""A LlamaIndex call (messages, call kwargs) -> the core's :class:`r1v4.ChatRequest`.

The LLM's fields set the request; ``additional_kwargs`` and then the call's kwargs override
them. Keywords the core knows by name become request fields (``None`` leaves a field unset);
any other keyword goes into the body as-is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole

from llama_index_r1v4._messages import to_wire_messages
from r1v4 import ChatRequest, build_request

if TYPE_CHECKING:
    from llama_index_r1v4.base import R1V4

__all__ = ["chat_request", "prompt_messages"]

_REQUEST_FIELDS = frozenset(
    {
        "model",
        "enable_search",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "stream_options",
        "tool_mode",
    }
)


def chat_request(
    llm: R1V4, messages: Sequence[ChatMessage], stream: bool, kwargs: dict[str, Any]
) -> ChatRequest:
    """The request for one call; raises :class:`r1v4.InvalidRequestError` before any I/O."""
    fields: dict[str, Any] = {
        "model": llm.model,
        "messages": to_wire_messages(messages, llm.history, llm.send_reasoning),
        "stream": stream,
    }
    if llm.enable_search is not None:
        fields["enable_search"] = llm.enable_search
    if llm.temperature is not None:
        fields["temperature"] = llm.temperature
    if llm.max_tokens is not None:
        fields["max_tokens"] = llm.max_tokens
    extra: dict[str, Any] = {}
    for key, value in {**llm.additional_kwargs, **kwargs}.items():
        if key in _REQUEST_FIELDS:
            if value is not None:
                fields[key] = value
        elif key != "stream":
            extra[key] = value
    if extra:
        fields["extra_body"] = extra
    return build_request(**fields)


def prompt_messages(prompt: str) -> list[ChatMessage]:
    """A completion prompt as the one user message it is sent as."""
    return [ChatMessage(role=MessageRole.USER, content=prompt)]
