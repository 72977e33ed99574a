"""LlamaIndex ``ChatMessage`` blocks -> the core's wire messages.

Everything here is pure translation: images are handed to the core as URLs, or as the
``pathlib.Path`` of an ``ImageBlock(path=...)`` (the core fetches and reads them, asynchronously on
async paths, under its rules for what a message may make it read or fetch), raw bytes become
data URIs through ``r1v4.image_to_data_uri``, and anything R1V4 cannot take is refused before a
request is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from io import IOBase
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    CitableBlock,
    CitationBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)

from r1v4 import History, InvalidRequestError, image_to_data_uri
from r1v4._integrations import history_text, wire_tool_call

__all__ = ["History", "legacy_tool_call", "to_wire_messages"]

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}
_DETAILS = frozenset({"auto", "low", "high"})
_UNSUPPORTED = (AudioBlock, VideoBlock, DocumentBlock)


def to_wire_messages(
    messages: Sequence[ChatMessage], history: History, send_reasoning: bool
) -> list[dict[str, Any]]:
    """Convert LlamaIndex messages to the core's message dicts.

    Raises:
        r1v4.InvalidRequestError: a block R1V4 cannot take (audio, video, document), or a
            message the wire cannot express, naming the message and the block.
    """
    return [_to_wire(i, m, history, send_reasoning) for i, m in enumerate(messages)]


def _to_wire(
    position: int, message: ChatMessage, history: History, send_reasoning: bool
) -> dict[str, Any]:
    role = _ROLES.get(message.role)
    if role is None:
        raise InvalidRequestError(
            # A message built with model_construct may carry a plain string role.
            f"messages[{position}]: role {getattr(message.role, 'value', message.role)!r} is "
            "not supported"
        )
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    images = False
    calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    for block in _readable(position, message.blocks):
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            images = True
            parts.append(_image_part(position, block))
        elif isinstance(block, ToolCallBlock):
            calls.append(
                _tool_call(
                    block.tool_call_id, block.tool_name, block.tool_kwargs, position, len(calls)
                )
            )
        elif isinstance(block, ThinkingBlock):
            if block.content:
                reasoning.append(block.content)
        elif isinstance(block, _UNSUPPORTED):
            raise _unsupported(position, block)
        elif isinstance(block, (CitationBlock, CachePoint)):
            continue  # output annotations and cache hints: nothing for R1V4 to read
        else:
            raise _unsupported(position, block)

    kwargs = message.additional_kwargs
    out: dict[str, Any] = {"role": role}
    if role == "assistant":
        if not calls and kwargs.get("tool_calls"):
            calls = [legacy_tool_call(c, position, i) for i, c in enumerate(kwargs["tool_calls"])]
        raw = kwargs.get("raw_content")
        text = history_text(
            "\n".join(texts),
            raw_content=raw if isinstance(raw, str) else None,
            reasoning="".join(reasoning) if send_reasoning else None,
            history=history,
            send_reasoning=send_reasoning,
            has_tool_calls=bool(calls),
        )
        out["content"] = text if text or not calls else None
        if calls:
            out["tool_calls"] = calls
        return out
    if role == "tool":
        call_id = kwargs.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError(
                f"messages[{position}]: a tool message needs additional_kwargs['tool_call_id']"
            )
        out["tool_call_id"] = call_id
    elif calls:
        raise InvalidRequestError(f"messages[{position}]: only assistant messages carry tool calls")
    # Plain text stays a string: the most widely accepted shape, and what system and tool
    # messages must be on strict servers.
    out["content"] = parts if images else "\n".join(texts)
    return out


def _readable(position: int, blocks: Iterable[Any]) -> Iterator[Any]:
    """The message's blocks, each ``CitableBlock`` replaced by the blocks it holds."""
    for block in blocks:
        if isinstance(block, CitableBlock):
            # Citable content is text and images the caller wants the model to read.
            for inner in block.content:
                if not isinstance(inner, (TextBlock, ImageBlock)):
                    raise _unsupported(position, inner)
                yield inner
        else:
            yield block


def _image_part(position: int, block: ImageBlock) -> dict[str, Any]:
    url: str | Path
    if block.image is not None:
        if isinstance(block.image, IOBase):
            block.image.seek(0)
            data = block.image.read()
        else:
            data = block.resolve_image().read()  # the block keeps its bytes base64-encoded
        # Magic bytes decide the MIME type; a declared image_mimetype is never trusted.
        url = image_to_data_uri(data)
    elif block.path is not None:
        # A Path, not a string: a block built with a path is the caller's own, which the core
        # reads (in a worker thread on async paths) without allow_file_paths.
        url = Path(block.path)
    elif block.url is not None:
        url = str(block.url)  # http(s) fetched by the core, data URIs validated by it
    else:
        raise InvalidRequestError(f"messages[{position}]: ImageBlock has no image, path or url")
    image_url: dict[str, Any] = {"url": url}
    if block.detail in _DETAILS:
        image_url["detail"] = block.detail
    return {"type": "image_url", "image_url": image_url}


def _tool_call(
    call_id: str | None, name: str, arguments: dict[str, Any] | str, position: int, n: int
) -> dict[str, Any]:
    # The wire needs an id; a call built by hand may have none.
    return wire_tool_call(call_id or f"call_{position}_{n}", name, arguments)


def legacy_tool_call(call: Any, position: int = 0, n: int = 0) -> dict[str, Any]:
    """``additional_kwargs["tool_calls"]``: OpenAI SDK objects or their dict form."""
    if isinstance(call, dict):
        fn = call.get("function") or {}
        call_id, name, args = call.get("id"), fn.get("name"), fn.get("arguments")
    else:
        fn = getattr(call, "function", None)
        call_id, name, args = (
            getattr(call, "id", None),
            getattr(fn, "name", None),
            getattr(fn, "arguments", None),
        )
    return _tool_call(call_id, name or "", args or "{}", position, n)


def _unsupported(position: int, block: Any) -> InvalidRequestError:
    name = type(block).__name__
    return InvalidRequestError(
        f"messages[{position}]: R1V4 takes text and images only; {name} is not supported"
    )
