"""The one retry policy: which failures are retried, and how long to wait first.

The sync and async clients only sleep and resend; every decision is made here, so the two paths
cannot disagree.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import httpx

from r1v4._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    R1V4Error,
    retry_after_of,
)

__all__ = ["RetryPolicy", "transport_error"]

RETRY_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 120.0
"""The longest ``Retry-After`` the client waits out, as the openai SDK. A server asking for
longer gets no retry: the error (``retry_after`` set) goes to the caller to schedule."""


def transport_error(exc: httpx.HTTPError) -> APIConnectionError:
    """Map an httpx transport failure to ours. The message names the failure, not the URL's
    credentials (httpx never puts headers in its messages)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connecting to the server timed out",
            httpx.ReadTimeout: "the server sent nothing for longer than the read timeout",
            httpx.WriteTimeout: "sending the request timed out",
            httpx.PoolTimeout: "no connection became free in time",
        }.get(type(exc), "the request timed out")
        return APITimeoutError(f"{kind} ({detail})")
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(f"could not connect to the server ({detail})")
    if isinstance(exc, httpx.RemoteProtocolError):
        return APIConnectionError(f"the server closed the connection unexpectedly ({detail})")
    return APIConnectionError(f"the connection failed ({type(exc).__name__}: {detail})")


class RetryPolicy:
    """Exponential backoff with jitter, honouring ``Retry-After``.

    Retried: connection failures and timeouts, 408, 409, 429 and 5xx. Never retried: other 4xx
    (a bad request does not get better by sending it again), any stream that has already
    delivered a token (resending would repeat text the caller has seen), and a response whose
    ``Retry-After`` exceeds :data:`MAX_RETRY_AFTER`.
    """

    __slots__ = ("backoff", "max_backoff", "max_retries")

    def __init__(self, max_retries: int = 2, backoff: float = 0.5, max_backoff: float = 8.0):
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def retryable(self, exc: R1V4Error) -> bool:
        if isinstance(exc, APIConnectionError):
            return True
        if isinstance(exc, APIStatusError) and exc.status_code is not None:
            return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
        return False

    def delay(
        self, exc: R1V4Error, attempt: int, headers: Mapping[str, str] | None = None
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` when ``exc`` is final."""
        if attempt >= self.max_retries or not self.retryable(exc):
            return None
        after = retry_after_of(headers) if headers is not None else None
        if after is not None:
            return after if after <= MAX_RETRY_AFTER else None
        base = min(self.max_backoff, self.backoff * (2**attempt))
        return float(base * (0.75 + random.random() / 4))
