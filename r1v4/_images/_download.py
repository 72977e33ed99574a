"""http(s) images: one download core, driven by a sync or an async ``httpx`` stream.

The checks (status, announced size, a running size cap, the first bytes must be an image) live
in :class:`Download`; the two drivers differ only in how they iterate the response.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import httpx

from r1v4._errors import ImageError
from r1v4._images._sniff import HEAD, identify, not_an_image
from r1v4._images._sources import Options, Url

__all__ = ["Download", "adownload", "download"]

_DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_ACCEPT = "image/jpeg, image/png, image/webp, image/gif, image/bmp;q=0.9, */*;q=0.1"


class Download:
    """One download's body and checks, fed by either driver."""

    def __init__(self, item: Url, max_bytes: int) -> None:
        self.item = item
        self.max_bytes = max_bytes
        self.label = item.label
        self.body = bytearray()
        self.checked = False

    def start(self, response: httpx.Response) -> None:
        status = f"HTTP {response.status_code}"
        if response.reason_phrase:
            status += f" {response.reason_phrase}"
        if not response.is_success:
            raise ImageError(f"{self.label}: download failed with {status}")
        content_type = response.headers.get("content-type", "no Content-Type").split(";")[0]
        self.label = f"{self.item.label} ({status}, {content_type})"
        announced = response.headers.get("content-length", "")
        # With a Content-Encoding the header counts compressed bytes: leave that to feed().
        plain = "content-encoding" not in response.headers
        if plain and announced.isdigit() and int(announced) > self.max_bytes:
            raise ImageError(
                f"{self.label}: {int(announced):,} bytes announced, over the "
                f"{self.max_bytes:,}-byte limit (max_bytes)"
            )

    def feed(self, chunk: bytes) -> None:
        if len(self.body) + len(chunk) > self.max_bytes:
            raise ImageError(
                f"{self.label}: over the {self.max_bytes:,}-byte limit (max_bytes); stopped "
                f"after receiving {len(self.body) + len(chunk):,} bytes"
            )
        self.body += chunk
        if not self.checked and len(self.body) >= HEAD:
            self._check_head()

    def finish(self) -> Download:
        if not self.checked and self.body:
            self._check_head()
        return self

    def _check_head(self) -> None:
        # Fail on a web page as soon as its first bytes arrive, not after the whole body.
        self.checked = True
        head = bytes(self.body[:HEAD])
        mime, name = identify(head)
        if mime is None:
            raise not_an_image(self.label, name, head)

    def network_error(self, exc: Exception) -> ImageError:
        return ImageError(f"{self.label}: download failed ({type(exc).__name__}: {exc})")


def _client_options() -> dict[str, Any]:
    return {"timeout": _DOWNLOAD_TIMEOUT, "headers": {"User-Agent": "r1v4 image fetch"}}


_STREAM: dict[str, Any] = {"headers": {"Accept": _ACCEPT}, "follow_redirects": True}


def download(item: Url, client: httpx.Client | None, opts: Options) -> Download:
    sink = Download(item, opts.max_bytes)
    try:
        with (
            httpx.Client(**_client_options()) if client is None else nullcontext(client) as http,
            http.stream("GET", item.url, **_STREAM) as response,
        ):
            sink.start(response)
            for chunk in response.iter_bytes():
                sink.feed(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise sink.network_error(exc) from exc
    return sink.finish()


async def adownload(item: Url, client: httpx.AsyncClient | None, opts: Options) -> Download:
    sink = Download(item, opts.max_bytes)
    try:
        async with (
            httpx.AsyncClient(**_client_options())
            if client is None
            else nullcontext(client) as http,
            http.stream("GET", item.url, **_STREAM) as response,
        ):
            sink.start(response)
            async for chunk in response.aiter_bytes():
                sink.feed(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise sink.network_error(exc) from exc
    return sink.finish()
