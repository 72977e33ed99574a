"""From a :class:`~r1v4._types.ChatRequest` to the bytes sent: call fields merged in, images
swapped for data URIs, tools sent the way the server takes them.

The tool mode is the one decision that depends on what a client has seen: in ``"auto"`` mode a
server that refuses native tools switches the client to prompted tools for good, which
:class:`r1v4._tool_fallback.ToolFallback` remembers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from r1v4._errors import InvalidRequestError
from r1v4._types import ChatRequest, ImagePart, ImageURL, TextPart, build_request

if TYPE_CHECKING:
    from r1v4._config import ClientSettings

__all__ = [
    "Prepared",
    "coerce",
    "effective_tool_mode",
    "has_images",
    "prepare",
    "with_images",
]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to send, and what reading its reply needs."""

    body: bytes
    client_tools: frozenset[str]
    native_tools: bool  # the body carries OpenAI ``tools``: a 400 may mean "no tool parser"
    request: ChatRequest


def coerce(request: ChatRequest | Mapping[str, Any] | None, fields: dict[str, Any]) -> ChatRequest:
    """``request`` with ``fields`` set, or a new request from ``fields`` alone. A plain mapping
    is read as :func:`~r1v4.build_request`'s keyword arguments."""
    if request is None:
        return build_request(**fields)
    if not isinstance(request, ChatRequest):
        if not isinstance(request, Mapping):
            raise InvalidRequestError(
                f"a request is a ChatRequest or a mapping of its fields, not "
                f"{type(request).__name__}"
            )
        return build_request(**{**request, **fields})
    if fields:
        return request.model_copy(update=fields)
    return request


def has_images(request: ChatRequest) -> bool:
    """Whether ``request`` carries an image (to turn into a data URI, or to check)."""
    return any(
        isinstance(part, ImagePart)
        for message in request.messages
        if isinstance(message.content, list)
        for part in message.content
    )


def with_images(request: ChatRequest, uris: list[str]) -> ChatRequest:
    """A copy of ``request`` with its images replaced, in order; the caller's is untouched."""
    it = iter(uris)

    def swap(part: TextPart | ImagePart) -> TextPart | ImagePart:
        if isinstance(part, TextPart):
            return part
        return ImagePart(image_url=ImageURL(url=next(it), detail=part.image_url.detail))

    messages = [
        m.model_copy(update={"content": [swap(p) for p in m.content]})
        if isinstance(m.content, list)
        else m
        for m in request.messages
    ]
    return request.model_copy(update={"messages": messages})


def effective_tool_mode(
    settings: ClientSettings, request: ChatRequest
) -> Literal["native", "prompted"]:
    mode = request.tool_mode or settings.tool_mode
    if mode == "auto":
        return "prompted" if settings.hosted or settings.tool_fallback.active else "native"
    return mode


def prepare(settings: ClientSettings, request: ChatRequest) -> Prepared:
    """The final body. Images must already be inlined."""
    client_tools = request.tool_names()
    mode = effective_tool_mode(settings, request)
    if mode == "prompted" and _uses_tools(request):
        from r1v4._tool_prompt import to_prompted

        request = to_prompted(request)
    body = request.to_body()
    if request.stream and settings.stream_usage and "stream_options" not in body:
        body["stream_options"] = {"include_usage": True}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Prepared(data, client_tools, bool(body.get("tools")), request)


def _uses_tools(request: ChatRequest) -> bool:
    return bool(request.tools) or any(m.role == "tool" or m.tool_calls for m in request.messages)
