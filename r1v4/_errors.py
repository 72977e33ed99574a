"""The R1V4 exception family.

Every failure the client can report is an :class:`R1V4Error`. Errors from the server are built
from the HTTP status and either error body shape (hosted ``{"code", "code_msg"}`` or OpenAI-style
``{"error": {...}}``). Stream failures keep what was already streamed on ``partial_content`` and
``partial_reasoning`` so a dropped connection never costs the caller the text it had.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ImageError",
    "IncompleteStreamError",
    "InvalidRequestError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "R1V4Error",
    "RateLimitError",
    "SandboxUnavailableError",
    "ServerError",
    "StreamError",
    "UnprocessableEntityError",
    "error_from_body",
    "error_from_response",
    "retry_after_of",
]

# The hosted API reports a bad key as HTTP 401 or, on some gateways, 200/400 with this code.
_HOSTED_AUTH_CODES = frozenset({400307})


class R1V4Error(Exception):
    """Base class of every error raised by r1v4.

    Attributes:
        message: human-readable text, never containing the API key.
        status_code: HTTP status when the server answered, else ``None``.
        code: the server's error code (hosted ``code`` or OpenAI ``error.code``/``type``).
        request_id: the server's request id header when present.
        body: the decoded error body (dict) or raw text, when there was one.
        partial_content: answer text already streamed before the failure.
        partial_reasoning: reasoning text already streamed before the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: Any = None,
        request_id: str | None = None,
        body: Any = None,
        partial_content: str = "",
        partial_reasoning: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body
        self.partial_content = partial_content
        self.partial_reasoning = partial_reasoning

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        prefix = f"[{', '.join(parts)}] " if parts else ""
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        if self.partial_content or self.partial_reasoning:
            suffix += (
                f" after {len(self.partial_content)} answer and "
                f"{len(self.partial_reasoning)} reasoning characters were streamed"
            )
        return f"{prefix}{self.message}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class InvalidRequestError(R1V4Error, ValueError):
    """The request was rejected on the client, before anything was sent."""


class ImageError(InvalidRequestError):
    """An image could not be read, was not an image, or broke a limit."""


class SandboxUnavailableError(R1V4Error):
    """No sandbox can run the model's code here; the message names what to install or change."""


class APIConnectionError(R1V4Error):
    """The server could not be reached, or the connection broke."""


class APITimeoutError(APIConnectionError):
    """Connecting, or waiting for the next byte, took longer than the timeout."""


class StreamError(R1V4Error):
    """A streamed response failed after it had started."""


class IncompleteStreamError(StreamError):
    """The stream ended without ``data: [DONE]``."""


class MalformedResponseError(StreamError):
    """The server sent something that is not the expected JSON (a bad chunk, an HTML page)."""


class APIStatusError(R1V4Error):
    """The server answered with an error status or an error object.

    Attributes:
        retry_after: seconds the server asked to wait (``Retry-After`` / ``retry-after-ms``),
            or ``None``. Set whether or not the client retried: past the retry cap (120 s) the
            client does not retry, and this is when to try again.
    """

    retry_after: float | None = None


class BadRequestError(APIStatusError):
    """HTTP 400: the server rejected the request."""


class AuthenticationError(APIStatusError):
    """HTTP 401, or the hosted API's ``400307 Invalid API key``."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404: wrong ``base_url`` or unknown model."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429. ``retry_after`` is the wait the server asked for, when it said."""


class ServerError(APIStatusError):
    """HTTP 5xx, or an error object inside an otherwise successful stream."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _decode(body: bytes | str | Any) -> Any:
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        text = body.strip()
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                return body
    return body


def describe_error_body(body: Any) -> tuple[str | None, Any]:
    """Return ``(message, code)`` from either error shape, or ``(None, None)``."""
    if not isinstance(body, Mapping):
        return None, None
    if "code_msg" in body or ("code" in body and "error" not in body and "choices" not in body):
        msg = body.get("code_msg") or body.get("msg") or body.get("message")
        return (str(msg) if msg is not None else None), body.get("code")
    err = body.get("error")
    if isinstance(err, Mapping):
        msg = err.get("message")
        code = err.get("code") if err.get("code") is not None else err.get("type")
        return (str(msg) if msg is not None else None), code
    if isinstance(err, str):
        return err, None
    detail = body.get("detail") or body.get("message")
    if isinstance(detail, str):
        return detail, None
    return None, None


def error_from_body(
    status_code: int | None,
    body: bytes | str | Any,
    *,
    request_id: str | None = None,
    partial_content: str = "",
    partial_reasoning: str = "",
) -> APIStatusError:
    """Build the typed error for an HTTP status and error body (either shape)."""
    decoded = _decode(body)
    message, code = describe_error_body(decoded)
    if message is None:
        text = decoded if isinstance(decoded, str) else json.dumps(decoded, default=str)
        text = text.strip()
        message = text[:500] if text else "the server returned an error with no body"
    cls: type[APIStatusError]
    if code in _HOSTED_AUTH_CODES:
        cls = AuthenticationError
    elif status_code is None or 200 <= status_code < 300:
        cls = ServerError
    elif status_code in _BY_STATUS:
        cls = _BY_STATUS[status_code]
    elif status_code >= 500:
        cls = ServerError
    else:
        cls = APIStatusError
    return cls(
        message,
        status_code=status_code,
        code=code,
        request_id=request_id,
        body=decoded,
        partial_content=partial_content,
        partial_reasoning=partial_reasoning,
    )


def error_from_response(
    status_code: int, headers: Mapping[str, str], body: bytes
) -> APIStatusError:
    """Build the typed error for a finished non-2xx HTTP response."""
    err = error_from_body(status_code, body, request_id=request_id_of(headers))
    err.retry_after = retry_after_of(headers)
    return err


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``Retry-After`` in seconds or as
    an HTTP date; ``None`` when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            value = email.utils.parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        value = max(value, 0.0)
    if value != value or value < 0 or value == float("inf"):  # NaN, negative, infinite
        return None
    return value


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in ("x-request-id", "request-id", "x-trace-id"):
        value = headers.get(name)
        if value:
            return value
    return None
