"""Bytes on the wire: error bodies, ``chat.completion`` JSON and pre-encoded SSE events."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from json.encoder import encode_basestring
from typing import Any, Literal

from ._script import ReasoningField, Reply

__all__ = [
    "CODES",
    "DONE",
    "Rejection",
    "Resolved",
    "error_body",
    "hosted_error",
    "openai_error",
]

Shape = Literal["hosted", "openai"]

# Hosted error codes. Only 400307 is documented; the others follow its 400xxx pattern so that a
# client can tell them apart (each is listed in the package docstring).
CODES: dict[str, int] = {
    "invalid_json": 400300,
    "invalid_model": 400301,
    "invalid_messages": 400302,
    "invalid_role": 400303,
    "invalid_content": 400304,
    "invalid_image": 400305,
    "invalid_parameter": 400306,
    "invalid_api_key": 400307,
    "tools_unsupported": 400308,
    "invalid_followup": 400309,
    "not_found": 404000,
    "method_not_allowed": 405000,
}
"""The local server's hosted error codes, by what they refuse."""

_OPENAI_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}

DONE = b"data: [DONE]\n\n"
MALFORMED = b"data: {not json\n\n"


class Rejection(Exception):
    """A request the server refuses: HTTP status, hosted code and message.

    ``shape`` forces one error shape whatever the path (vLLM's tool-choice error is OpenAI's).
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        param: str | None = None,
        shape: Shape | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.shape = shape

    def body(self, shape: Shape) -> dict[str, Any]:
        if (self.shape or shape) == "hosted":
            return hosted_error(self.code, self.message)
        return openai_error(self.status, self.message, param=self.param)


def hosted_error(code: int, message: str) -> dict[str, Any]:
    """The hosted API's error body ``{"code", "code_msg"}``."""
    return {"code": code, "code_msg": message}


def openai_error(status: int, message: str, *, param: str | None = None) -> dict[str, Any]:
    """vLLM's OpenAI-style error body ``{"error": {"message", "type", "param", "code"}}``."""
    kind = _OPENAI_TYPES.get(status, "InternalServerError" if status >= 500 else "APIError")
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def error_body(status: int, shape: Shape, message: str | None = None) -> dict[str, Any]:
    """A default error body for a scripted status: hosted code ``status * 1000``."""
    if message is None:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = f"Error {status}"
    if shape == "hosted":
        return hosted_error(status * 1000, message)
    return openai_error(status, message)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as vLLM writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _words(text: str) -> int:
    return len(text.split())


@dataclass
class Resolved:
    """A reply made concrete for one response: ids fixed, tool calls normalised, usage computed."""

    reply: Reply
    content: str
    reasoning: str
    reasoning_field: ReasoningField
    tool_calls: list[tuple[str, str, str]]  # (id, name, arguments JSON text)
    finish_reason: str
    usage: dict[str, Any]
    model: str
    completion_id: str
    created: int

    @classmethod
    def make(cls, reply: Reply, *, model: str, prompt_tokens: int, created: int) -> Resolved:
        content = reply.content
        reasoning = reply.reasoning
        if reply.reasoning_field == "inline" and reasoning:
            content = f"<think>{reasoning}</think>{content}"
            reasoning = ""
        calls: list[tuple[str, str, str]] = []
        for call in reply.tool_calls:
            arguments = call.get("arguments", {})
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            call_id = str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}")
            calls.append((call_id, str(call["name"]), text))
        if reply.usage is not None:
            usage = dict(reply.usage)
        else:
            completion = _words(content) + _words(reasoning) + sum(_words(c[2]) + 1 for c in calls)
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion,
            }
            if reply.reasoning:
                usage["completion_tokens_details"] = {"reasoning_tokens": _words(reply.reasoning)}
        return cls(
            reply=reply,
            content=content,
            reasoning=reasoning,
            reasoning_field=reply.reasoning_field,
            tool_calls=calls,
            finish_reason=reply.finish_reason or ("tool_calls" if calls else "stop"),
            usage=usage,
            model=model,
            completion_id=reply.id or f"chatcmpl-{uuid.uuid4().hex}",
            created=created,
        )

    def completion(self) -> dict[str, Any]:
        """The non-stream ``chat.completion`` object."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.content if (self.content or not self.tool_calls) else None,
        }
        if self.reasoning:
            message[self.reasoning_field] = self.reasoning
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in self.tool_calls
            ]
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": self.usage,
        }

    def events(self, cache: dict[str, Any], *, include_usage: bool) -> list[bytes]:
        """Every SSE event of the stream, ``[DONE]`` last, each a complete ``data: ...\\n\\n``.

        The text deltas do not depend on the response id, so they are encoded once per queued reply
        (``cache``) and a reply repeated for thousands of requests costs only the concatenation.
        """
        head = (
            b'data: {"id":"' + self.completion_id.encode() + b'","object":"chat.completion.chunk",'
            b'"created":' + str(self.created).encode() + b',"model":' + dumps(self.model) + b","
        )
        open_choice = head + b'"choices":[{"index":0,"delta":'
        tail = b',"finish_reason":' + dumps(self.reply.chunk_finish_reason) + b"}]}\n\n"
        deltas: list[bytes] | None = cache.get("deltas")
        if deltas is None:
            deltas = _text_deltas(self, self.reply.chunk_size)
            cache["deltas"] = deltas
        events = [open_choice + b'{"role":"assistant","content":""}' + tail]
        events.extend(open_choice + delta + tail for delta in deltas)
        size = self.reply.chunk_size
        for index, (cid, name, args) in enumerate(self.tool_calls):
            first = {
                "tool_calls": [
                    {
                        "index": index,
                        "id": cid,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ]
            }
            events.append(open_choice + dumps(first) + tail)
            prefix = (
                b'{"tool_calls":[{"index":' + str(index).encode() + b',"function":{"arguments":'
            )
            events.extend(
                open_choice
                + prefix
                + encode_basestring(args[i : i + size]).encode()
                + b"}}]}"
                + tail
                for i in range(0, len(args), size)
            )
        events.append(
            open_choice + b"{}" + b',"finish_reason":' + dumps(self.finish_reason) + b"}]}\n\n"
        )
        if include_usage:
            events.append(head + b'"choices":[],"usage":' + dumps(self.usage) + b"}\n\n")
        events.append(DONE)
        return events


def _text_deltas(resolved: Resolved, size: int) -> list[bytes]:
    deltas: list[bytes] = []
    key = b'{"' + resolved.reasoning_field.encode() + b'":'
    text = resolved.reasoning
    deltas.extend(
        key + encode_basestring(text[i : i + size]).encode() + b"}"
        for i in range(0, len(text), size)
    )
    text = resolved.content
    deltas.extend(
        b'{"content":' + encode_basestring(text[i : i + size]).encode() + b"}"
        for i in range(0, len(text), size)
    )
    return deltas


def injected_event(reply: Reply) -> bytes:
    """The event of ``inject_after``: ``inject`` as JSON, or as it is when it is text."""
    payload = reply.inject
    data = payload.encode() if isinstance(payload, str) else dumps(payload)
    return b"data: " + data + b"\n\n"


def error_event(reply: Reply, shape: Shape) -> bytes:
    """The in-stream error event of ``error_event_after``."""
    if isinstance(reply.body, dict):
        body = reply.body
    else:
        body = error_body(500, reply.error_shape or shape, "Internal error while generating")
    return b"data: " + dumps(body) + b"\n\n"
