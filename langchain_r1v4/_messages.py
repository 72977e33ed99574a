"""LangChain messages -> the core's message dicts.

Only the shape changes here. Images keep whatever URL they were given (data URI, http(s) URL, or
a ``pathlib.Path`` the caller put in the block): the core client fetches, validates and inlines
them, on the async client when the call is async, under its rules for what a message may make
it read or fetch (``allow_file_paths``, ``allow_private_urls``). The dicts are validated once,
by ``r1v4.build_request``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from r1v4 import History, InvalidRequestError
from r1v4._integrations import history_text, wire_tool_call

__all__ = ["History", "to_wire_messages"]

# Block types that carry media the R1V4 API cannot take (it reads text and images only).
_UNSUPPORTED_MEDIA = frozenset(
    {"audio", "input_audio", "video", "file", "document", "pdf", "media", "text-plain"}
)
_ROLES = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "tool": "tool",
}
_DETAILS = frozenset({"auto", "low", "high"})


def to_wire_messages(
    messages: Sequence[BaseMessage], *, history: History = "answer", send_reasoning: bool = False
) -> list[dict[str, Any]]:
    """Convert a conversation; raises :class:`r1v4.InvalidRequestError` for what R1V4 can't take."""
    out: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        if isinstance(message, HumanMessage):
            wire: dict[str, Any] = {"role": "user", "content": _user_content(message, position)}
        elif isinstance(message, AIMessage):
            wire = _assistant(message, history, send_reasoning)
        elif isinstance(message, SystemMessage):
            wire = {"role": "system", "content": _text_only(message, position)}
        elif isinstance(message, ToolMessage):
            wire = {
                "role": "tool",
                "tool_call_id": message.tool_call_id,
                "content": _text_only(message, position),
            }
        elif isinstance(message, ChatMessage):
            role = _ROLES.get(message.role)
            if role is None or role == "tool":
                raise InvalidRequestError(
                    f"message {position}: ChatMessage role {message.role!r} is not one R1V4 "
                    "takes (system, user, assistant)"
                )
            content = (
                _user_content(message, position)
                if role == "user"
                else _text_only(message, position)
            )
            wire = {"role": role, "content": content}
        else:
            raise InvalidRequestError(
                f"message {position}: {type(message).__name__} is not supported; use System, "
                "Human, AI or Tool messages"
            )
        if message.name and wire["role"] in ("user", "assistant", "system"):
            wire["name"] = message.name
        out.append(wire)
    return out


# ------------------------------------------------------------------------------------ user


def _user_content(message: BaseMessage, position: int) -> str | list[dict[str, Any]]:
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": _block_text(block, position, i)})
        elif kind in ("image_url", "image"):
            parts.append(_image_part(block, position, i))
        else:
            raise _unsupported(block, position, i)
    return parts


def _image_part(block: dict[str, Any], position: int, i: int) -> dict[str, Any]:
    url, detail = _image_url(block, position, i)
    image_url: dict[str, Any] = {"url": url}
    if detail in _DETAILS:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


def _image_url(block: dict[str, Any], position: int, i: int) -> tuple[str | os.PathLike[str], Any]:
    """Every way LangChain users write an image -> (url or data URI, detail)."""
    where = f"message {position}, block {i}"
    if block.get("type") == "image_url":  # OpenAI chat-completions form
        value = block.get("image_url")
        if isinstance(value, dict):
            url = value.get("url")
            if isinstance(url, os.PathLike) or (isinstance(url, str) and url):
                return url, value.get("detail")
        elif isinstance(value, os.PathLike) or (isinstance(value, str) and value):
            return value, None
        raise InvalidRequestError(f"{where}: image_url block without a url")
    # LangChain "image" blocks: standard v1, legacy ``source_type`` v0, Anthropic ``source``.
    detail = block.get("detail")
    source_type = block.get("source_type")
    if source_type is not None:
        if source_type == "base64" and block.get("data"):
            return _data_uri(block["data"], block.get("mime_type")), detail
        if source_type == "url" and block.get("url"):
            return _url(block["url"]), detail
        if source_type == "id":
            raise _file_id_error(where)
        raise InvalidRequestError(
            f"{where}: image block with source_type {source_type!r} and no data"
        )
    if block.get("base64"):
        return _data_uri(block["base64"], block.get("mime_type")), detail
    if block.get("url"):
        return _url(block["url"]), detail
    if block.get("file_id"):
        raise _file_id_error(where)
    source = block.get("source")
    if isinstance(source, dict):
        if source.get("type") == "base64" and source.get("data"):
            return _data_uri(source["data"], source.get("media_type")), detail
        if source.get("type") == "url" and source.get("url"):
            return _url(source["url"]), detail
    raise InvalidRequestError(f"{where}: image block has no base64 data or url")


def _url(value: Any) -> str | os.PathLike[str]:
    # A Path is kept as it is: only the caller's own code can put one in a block, and the core
    # reads it whatever allow_file_paths says (a path *string* may come from a user).
    return value if isinstance(value, os.PathLike) else str(value)


def _data_uri(data: Any, mime_type: Any) -> str:
    text = str(data)
    if text.startswith("data:"):
        return text
    # The core checks the bytes and rewrites the type from them, so a missing or wrong
    # mime_type still gives a correct data URI.
    return f"data:{mime_type or 'application/octet-stream'};base64,{text}"


def _file_id_error(where: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{where}: image given as a provider file id; R1V4 has no file store, pass the image "
        "as base64 data or a URL"
    )


def _unsupported(block: dict[str, Any], position: int, i: int) -> InvalidRequestError:
    kind = block.get("type")
    if kind in _UNSUPPORTED_MEDIA or kind == "image_file":
        what = f"a {kind!r} block"
        return InvalidRequestError(
            f"message {position}, block {i}: {what} cannot be sent to R1V4, which reads text "
            "and images only"
        )
    return InvalidRequestError(
        f"message {position}, block {i}: content block type {kind!r} is not supported "
        "(R1V4 takes text and image blocks)"
    )


def _block_text(block: dict[str, Any], position: int, i: int) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise InvalidRequestError(f"message {position}, block {i}: text block without text")
    return text


# ------------------------------------------------------------------------ system and tool


def _text_only(message: BaseMessage, position: int) -> str:
    """The text of a message that may hold only text (system, tool, a non-user ChatMessage)."""
    content = message.content
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for i, block in enumerate(content):
        if isinstance(block, str):
            texts.append(block)
        elif block.get("type") == "text":
            texts.append(_block_text(block, position, i))
        elif "type" not in block and isinstance(message, ToolMessage):
            # A tool that returned a list of plain dicts: send it as the JSON it is.
            texts.append(json.dumps(block, ensure_ascii=False, default=str))
        else:
            raise _not_text(message, block, position, i)
    return "".join(texts)


def _not_text(
    message: BaseMessage, block: dict[str, Any], position: int, i: int
) -> InvalidRequestError:
    kind = block.get("type")
    role = type(message).__name__
    if kind in ("image", "image_url"):
        return InvalidRequestError(
            f"message {position}, block {i}: R1V4 takes images only in user messages, not in a "
            f"{role}; put the image in a HumanMessage"
        )
    if kind in _UNSUPPORTED_MEDIA:
        return _unsupported(block, position, i)
    return InvalidRequestError(
        f"message {position}, block {i}: a {role} may hold only text, got a {kind!r} block"
    )


# ------------------------------------------------------------------------------ assistant


def _assistant(message: AIMessage, history: History, send_reasoning: bool) -> dict[str, Any]:
    calls = [wire_tool_call(tc["id"] or "", tc["name"], tc["args"]) for tc in message.tool_calls]
    # A malformed call is sent back as written, so its ToolMessage still has a call to answer.
    calls.extend(
        wire_tool_call(tc["id"], tc["name"], _written_args(tc.get("args")))
        for tc in message.invalid_tool_calls
        if tc["id"] and tc["name"]
    )
    raw = message.response_metadata.get("raw_content")
    text = history_text(
        _answer_text(message),
        raw_content=raw if isinstance(raw, str) else None,
        reasoning=_reasoning_text(message) if send_reasoning else None,
        history=history,
        send_reasoning=send_reasoning,
        has_tool_calls=bool(calls),
    )
    wire: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        wire["tool_calls"] = calls
        if not text:
            wire["content"] = None
    return wire


def _written_args(args: str | None) -> str:
    """The arguments as the model wrote them. A streamed invalid call carries them as a JSON
    string (so LangChain's lenient chunk merge cannot "repair" them into a wrong call)."""
    if not args:
        return "{}"
    if args.startswith('"'):
        try:
            decoded = json.loads(args)
        except ValueError:
            return args
        if isinstance(decoded, str):
            return decoded
    return args


def _answer_text(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        # Nothing else in a replayed reply is sent back as its text: reasoning and tool calls
        # travel apart (or not at all), and media (an image, say) the API could not take back
        # in an assistant turn, so it is left out rather than failing the whole request.
    return "".join(texts)


def _reasoning_text(message: AIMessage) -> str:
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str):
        return reasoning
    if isinstance(message.content, list):
        return "".join(
            block.get("reasoning", "")
            for block in message.content
            if isinstance(block, dict) and block.get("type") == "reasoning"
        )
    return ""
