"""Request validation as the real API does it, and image decoding with Pillow."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ._script import ImageInfo
from ._wire import CODES, Rejection

__all__ = ["ChatRequest", "decode_image", "parse_body", "validate_chat"]

# vLLM's exact words when a request has tools but the server has no tool parser.
TOOL_CHOICE_ERROR = (
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
)
"""vLLM's refusal of ``tools`` when it was started without a tool parser."""


@dataclass
class ChatRequest:
    """A validated chat request: what the reply builder needs."""

    model: str
    stream: bool
    include_usage: bool
    enable_search: bool
    images: list[bytes] = field(default_factory=list)  # raw bytes of each data URI, in order
    mime_types: list[str] = field(default_factory=list)
    prompt_words: int = 0


def _bad(kind: str, message: str, param: str | None = None) -> Rejection:
    return Rejection(400, CODES[kind], message, param=param)


def parse_body(raw: bytes) -> Any:
    """Decode the JSON body or refuse it."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad("invalid_json", f"Request body is not valid JSON: {exc}") from None


def _data_uri(url: str, where: str) -> tuple[str, bytes]:
    """Split a base64 data URI into (mime type, bytes) or refuse it."""
    if not url.startswith("data:"):
        raise _bad(
            "invalid_image",
            f"{where}: only base64 data URIs (data:<mime>;base64,<data>) are supported, "
            f"got a URL starting with {url[:16]!r}",
            "messages",
        )
    header, comma, payload = url[5:].partition(",")
    if not comma or not header.endswith(";base64"):
        raise _bad(
            "invalid_image",
            f"{where}: malformed data URI, expected data:<mime>;base64,<data>",
            "messages",
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("invalid_image", f"{where}: invalid base64 image data", "messages") from None
    if not data:
        raise _bad("invalid_image", f"{where}: empty image data", "messages")
    return header[: -len(";base64")], data


def decode_image(data: bytes, mime_type: str, where: str = "image") -> ImageInfo:
    """Decode one image fully with Pillow and describe it, or refuse it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            info = ImageInfo(
                format=str(image.format),
                width=image.width,
                height=image.height,
                mode=image.mode,
                byte_size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                mime_type=mime_type,
            )
    except Exception as exc:  # Pillow raises many kinds for undecodable input
        raise _bad(
            "invalid_image", f"{where}: cannot decode image data ({exc})", "messages"
        ) from None
    return info


def _check_content(content: Any, where: str, request: ChatRequest) -> None:
    if isinstance(content, str):
        request.prompt_words += len(content.split())
        return
    if not isinstance(content, list):
        raise _bad("invalid_content", f"{where}.content must be a string or a list of parts")
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if not isinstance(part, dict):
            raise _bad("invalid_content", f"{at} must be an object")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _bad("invalid_content", f"{at}.text must be a string")
            request.prompt_words += len(text.split())
        elif kind == "image_url":
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, dict) else None
            if not isinstance(url, str):
                raise _bad("invalid_content", f"{at}.image_url must be an object with a string url")
            mime, data = _data_uri(url, at)
            request.images.append(data)
            request.mime_types.append(mime)
        else:
            raise _bad(
                "invalid_content",
                f"{at}.type must be 'text' or 'image_url', got {kind!r}",
            )


def validate_chat(body: Any, *, models: Collection[str], native_tools: bool) -> ChatRequest:
    """Check a chat-completions body the way the hosted API / vLLM would; images not decoded yet."""
    if not isinstance(body, dict):
        raise _bad("invalid_json", "Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("invalid_model", "model is required", "model")
    if model not in models:
        raise _bad(
            "invalid_model",
            f"Model {model!r} is not supported; available: {', '.join(sorted(models))}",
            "model",
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise _bad("invalid_parameter", "stream must be a boolean", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("invalid_parameter", "stream_options must be an object", "stream_options")
    enable_search = body.get("enable_search", False)
    if not isinstance(enable_search, bool) and enable_search is not None:
        raise _bad("invalid_parameter", "enable_search must be a boolean", "enable_search")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _bad("invalid_parameter", "tools must be a list", "tools")
    if tools and not native_tools and body.get("tool_choice") != "none":
        raise Rejection(400, CODES["tools_unsupported"], TOOL_CHOICE_ERROR, shape="openai")

    request = ChatRequest(
        model=model,
        stream=bool(stream),
        include_usage=bool(options and options.get("include_usage")),
        enable_search=bool(enable_search),
    )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("invalid_messages", "messages must be a non-empty list", "messages")
    roles = (
        ("system", "user", "assistant", "tool") if native_tools else ("system", "user", "assistant")
    )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad("invalid_messages", f"{where} must be an object", "messages")
        role = message.get("role")
        if role not in roles:
            raise _bad(
                "invalid_role",
                f"{where}.role must be one of {', '.join(roles)}, got {role!r}",
                "messages",
            )
        content = message.get("content")
        if content is None and role == "assistant" and message.get("tool_calls"):
            continue
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _bad("invalid_messages", f"{where}.tool_call_id is required", "messages")
        _check_content(content, where, request)
    return request
