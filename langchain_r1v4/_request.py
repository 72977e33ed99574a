"""A LangChain call (messages, ``stop``, call kwargs) -> the core's :class:`r1v4.ChatRequest`.

Call kwargs override the model's fields; whatever else the caller passed goes into the body, as
``ChatOpenAI``'s kwargs do (server-specific fields such as ``top_k`` or ``chat_template_kwargs``).
The model's ``model_kwargs`` are such kwargs given once for every call: each call's own override
them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage

from langchain_r1v4._messages import to_wire_messages
from r1v4 import ChatRequest, build_request

if TYPE_CHECKING:
    from langchain_r1v4.chat_models import ChatR1V4

__all__ = ["chat_request"]

# What LangChain itself passes down with the call kwargs; never part of the body.
_INTERNAL = ("stream", "ls_structured_output_format", "structured_output_format")


def chat_request(
    model: ChatR1V4,
    messages: list[BaseMessage],
    stop: list[str] | None,
    stream: bool,
    kwargs: dict[str, Any],
) -> ChatRequest:
    """The request for one call; raises :class:`r1v4.InvalidRequestError` before any I/O."""
    kw = {**model.model_kwargs, **kwargs}
    for internal in _INTERNAL:
        kw.pop(internal, None)
    fields: dict[str, Any] = {
        "model": kw.pop("model", None) or model.model,
        "messages": to_wire_messages(
            messages,
            history=kw.pop("history", model.history),
            send_reasoning=kw.pop("send_reasoning", model.send_reasoning),
        ),
        "stream": stream,
        "enable_search": kw.pop("enable_search", model.enable_search),
        "temperature": kw.pop("temperature", model.temperature),
        "top_p": kw.pop("top_p", model.top_p),
        "max_tokens": kw.pop("max_tokens", model.max_tokens),
        "stop": stop or kw.pop("stop", None) or model.stop or None,
        "tools": kw.pop("tools", None) or None,
        "tool_choice": kw.pop("tool_choice", None),
        "parallel_tool_calls": kw.pop("parallel_tool_calls", None),
        "response_format": kw.pop("response_format", None),
        "tool_mode": kw.pop("tool_mode", None),
    }
    kw.pop("stop", None)
    stream_usage = kw.pop("stream_usage", None)
    if stream and stream_usage is not None:
        fields["stream_options"] = {"include_usage": bool(stream_usage)}
    extra = {**(model.extra_body or {}), **(kw.pop("extra_body", None) or {})}
    for key, value in kw.items():
        # The call's own keywords win; the model's model_kwargs yield to any extra_body.
        if key in kwargs or key not in extra:
            extra[key] = value
    if extra:
        fields["extra_body"] = extra
    return build_request(**fields)
