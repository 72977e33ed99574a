"""Configuration and defaults: what a client is told once, validated at construction.

:class:`ClientSettings` is fixed after construction. The one thing a client learns while it runs
(a server that refuses native tools) is kept apart, in :class:`r1v4._tool_fallback.ToolFallback`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from r1v4 import _tool_fallback
from r1v4._errors import InvalidRequestError, R1V4Error
from r1v4._fork import ForkSafeLock
from r1v4._retry import RetryPolicy
from r1v4._types import ToolMode

if TYPE_CHECKING:
    from r1v4._images._inline import Inliner

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_BASE_URL",
    "DEFAULT_IMAGE_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_IMAGE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MODEL",
    "DEFAULT_TIMEOUT",
    "HOSTED_HOST",
    "SECRET_HEADERS",
    "ClientSettings",
    "is_hosted",
    "make_timeout",
    "public_headers",
    "resolve_api_key",
    "resolve_base_url",
]

logger = logging.getLogger("r1v4")

HOSTED_HOST = "api.skyworkmodel.ai"
"""The host of Skywork's hosted API: the one place that names it."""
DEFAULT_BASE_URL = f"https://{HOSTED_HOST}/api/v1"
"""The hosted API; requests go to ``{base_url}/chat/completions``."""
DEFAULT_MODEL = "skywork/r1v4-lite"
"""The hosted general model (``skywork/r1v4-vl-planner-lite`` is the planner)."""
DEFAULT_TIMEOUT = 600.0
"""Read timeout of a call, in seconds: R1V4 may think for minutes."""
DEFAULT_MAX_RETRIES = 2
"""Retries of a failed call (connection errors, 408, 409, 429, 5xx) after the first attempt."""
DEFAULT_BACKOFF = 0.5
"""Seconds before the first retry; doubled for each further one (with jitter, at most 8 s)."""
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_IMAGE_BYTES: int = 10 * 1024 * 1024
"""Largest image accepted by default, in (decoded) bytes."""
DEFAULT_IMAGE_DOWNLOAD_TIMEOUT = 30.0
"""Seconds the image downloads of one request may take, all together (they run concurrently)."""

_USER_AGENT = "r1v4-python/0.1"

# Headers that carry credentials as surely as api_key does; never serialised or shown.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"}
)


def public_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """``headers`` without the ones that carry credentials (for serialising a model)."""
    if headers is None:
        return None
    return {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr | None:
    """The key as given, else ``SKYWORK_API_KEY``, as a ``SecretStr`` (or ``None``)."""
    if isinstance(api_key, SecretStr):
        return api_key if api_key.get_secret_value() else None
    value = api_key if api_key is not None else os.environ.get("SKYWORK_API_KEY")
    return SecretStr(value) if value else None


def resolve_base_url(base_url: str | None) -> str:
    """The URL as given, else ``SKYWORK_BASE_URL``, else the hosted API."""
    url = base_url or os.environ.get("SKYWORK_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


def is_hosted(url: str) -> bool:
    """Whether ``url`` is on Skywork's hosted API (by its host: the path says nothing, a local
    server may serve ``/api/v1`` too)."""
    return urlsplit(url).hostname == HOSTED_HOST


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """A long read timeout (R1V4 thinks for minutes) with a short connect timeout, so an
    unreachable host fails fast instead of after ten minutes."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None, connect=DEFAULT_CONNECT_TIMEOUT)
    return httpx.Timeout(timeout, connect=min(DEFAULT_CONNECT_TIMEOUT, timeout))


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_INLINER_LOCK = ForkSafeLock()


class ClientSettings:
    """A client's configuration, validated once; the sync and async client of one model object
    share one, and with it one :class:`~r1v4._tool_fallback.ToolFallback` and one image
    download cache.

    What a message may make the client do (each off by default, since messages often come from
    the users of the app that runs the client):

    Args:
        allow_file_paths: whether a string in message content that is neither a data URI nor an
            http(s) URL is read as a local file path; without it such a string is refused, so a
            path in a message cannot send that file off the host. ``os.PathLike`` objects
            (``pathlib.Path``) are read either way: only the caller's own code makes those.
        allow_private_urls: whether image URLs may be fetched from non-public addresses
            (loopback, private networks, link-local such as the cloud metadata endpoint, CGNAT,
            multicast, reserved); without it a URL is fetched only when every address its host
            resolves to is public, and the connection goes to one of those very addresses.
        image_download_timeout: seconds the image downloads of one request may take in all
            (name lookups, redirects and every byte included; they run concurrently).
    """

    __slots__ = (
        "_headers",
        "_inliner",
        "_stream_headers",
        "allow_file_paths",
        "allow_private_urls",
        "api_key",
        "base_url",
        "hosted",
        "image_download_timeout",
        "max_image_bytes",
        "max_image_pixels",
        "retry",
        "stream_usage",
        "timeout",
        "tool_fallback",
        "tool_mode",
        "url",
    )

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        tool_mode: ToolMode = "auto",
        stream_usage: bool = True,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        max_image_pixels: int | None = None,
        backoff: float = DEFAULT_BACKOFF,
        allow_file_paths: bool = False,
        allow_private_urls: bool = False,
        image_download_timeout: float = DEFAULT_IMAGE_DOWNLOAD_TIMEOUT,
    ) -> None:
        if tool_mode not in ("auto", "native", "prompted"):
            raise InvalidRequestError(
                f"tool_mode must be 'auto', 'native' or 'prompted', not {tool_mode!r}"
            )
        for name, flag in (
            ("allow_file_paths", allow_file_paths),
            ("allow_private_urls", allow_private_urls),
        ):
            if not isinstance(flag, bool):
                raise InvalidRequestError(f"{name} must be True or False, not {flag!r}")
        if (
            isinstance(image_download_timeout, bool)
            or not isinstance(image_download_timeout, (int, float))
            or not 0 < image_download_timeout < float("inf")
        ):
            raise InvalidRequestError(
                "image_download_timeout must be a positive number of seconds, not "
                f"{image_download_timeout!r}"
            )
        self.api_key: Final = resolve_api_key(api_key)
        self.base_url: Final = resolve_base_url(base_url)
        self.url: Final = f"{self.base_url}/chat/completions"
        self.timeout: Final = make_timeout(timeout)
        self.retry: Final = RetryPolicy(max_retries, backoff)
        self.tool_mode: Final[ToolMode] = tool_mode
        self.stream_usage: Final = stream_usage
        self.max_image_bytes: Final = max_image_bytes
        self.max_image_pixels: Final = max_image_pixels
        self.allow_file_paths: Final = allow_file_paths
        self.allow_private_urls: Final = allow_private_urls
        self.image_download_timeout: Final = float(image_download_timeout)
        self._inliner: Inliner | None = None
        self.tool_fallback: Final = _tool_fallback.ToolFallback()
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequestError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        self.hosted: Final = is_hosted(self.url)
        if parts.scheme == "http" and self.api_key and not _is_loopback(parts.hostname):
            warnings.warn(
                f"r1v4: the API key will be sent unencrypted to {parts.hostname} over plain "
                "http; use https unless this network is trusted",
                UserWarning,
                stacklevel=3,
            )
        # Every request carries a JSON body: many HTTP stacks refuse one without its type.
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
        }
        headers.update(default_headers or {})
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        self._headers: Final = headers
        self._stream_headers: Final = {**headers, "Accept": "text/event-stream"}

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"

    def image_inliner(self) -> Inliner:
        """What turns a request's images into data URIs under these settings, made on first
        use; the clients sharing these settings share it, and with it its download cache."""
        inliner = self._inliner
        if inliner is None:
            from r1v4._images._inline import Inliner

            with _INLINER_LOCK:
                inliner = self._inliner
                if inliner is None:
                    inliner = self._inliner = Inliner(self)
        return inliner

    def headers(self, stream: bool) -> dict[str, str]:
        """The headers of every request, the key included (``stream``: asking for SSE)."""
        return self._stream_headers if stream else self._headers

    def retry_delay(
        self, exc: R1V4Error, attempt: int, headers: Mapping[str, str] | None
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` when ``exc`` is final."""
        delay = self.retry.delay(exc, attempt, headers)
        if delay is not None:
            logger.info(
                "r1v4: %s; retry %d of %d in %.2fs", exc, attempt + 1, self.retry.max_retries, delay
            )
        return delay
