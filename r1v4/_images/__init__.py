"""Turn anything image-like into the ``data:<mime>;base64,<data>`` URI the R1V4 API accepts.

Sources: a local path (``str`` or ``os.PathLike``), raw bytes, a Pillow image, an http(s) URL or
a data URI. What a *message* may name is narrower (no path strings, no private addresses unless
allowed): :mod:`._inline` applies those rules to a request. Everything is checked before a
request is sent: sizes are capped before anything large is read or downloaded, the format comes
from the magic bytes (never the file name or a declared type), and where Pillow is installed
(the ``images`` extra) the image must decode: Pillow finds truncated and corrupt files, and
refuses decompression bombs unread. Without Pillow only the size and the format are checked.
A data URI this process has already checked and returned passes through untouched.

The package, by what each module holds:

- ``_sniff``: the check (size, magic bytes), pixel sizes from headers;
- ``_decoding``: Pillow's decode of the data, where Pillow is installed;
- ``_inputs``: the options of a call and the kind of its source;
- ``_files``, ``_from_data_uri``, ``_download``: reading each kind of source (``_download`` only
  from the addresses ``_addresses`` calls public, unless allowed);
- ``_inline``: a request's images, under a client's rules, and its download cache;
- ``_encode``: checked bytes -> data URI; ``_checked``: the URIs already checked;
- ``_pillow``: PIL images and ``max_pixels`` downscaling.

Pillow is imported only by ``_decoding`` and ``_pillow``, and only when a call needs it.

The sync and async entry points share everything except the download itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import httpx

from r1v4._config import DEFAULT_IMAGE_DOWNLOAD_TIMEOUT, DEFAULT_MAX_IMAGE_BYTES
from r1v4._images._checked import CHECKED
from r1v4._images._download import Fetch, Fetching, afetch_all, fetch_all
from r1v4._images._encode import finish
from r1v4._images._files import file_to_data_uri
from r1v4._images._from_data_uri import data_uri_to_data_uri
from r1v4._images._inputs import (
    DataUri,
    File,
    Options,
    Pil,
    Raw,
    Source,
    Url,
    classify,
    is_data_uri,
    is_remote_url,
)
from r1v4._images._pillow import encode_pil
from r1v4._images._sniff import HEAD, SUPPORTED_MIME_TYPES, identify

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_MAX_IMAGE_BYTES",
    "SUPPORTED_MIME_TYPES",
    "ImageSource",
    "aimage_to_data_uri",
    "bytes_to_data_uri",
    "detect_image_mime",
    "image_to_data_uri",
    "is_data_uri",
    "is_remote_url",
]

ImageSource: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image"
"""Everything :func:`image_to_data_uri` accepts."""


def detect_image_mime(data: bytes | bytearray | memoryview) -> str | None:
    """The MIME type of a supported image, from its magic bytes only; ``None`` otherwise.

    Known but unsupported formats (TIFF, HEIC, SVG, ...) also give ``None``.
    """
    return identify(bytes(data[:HEAD]))[0]


def image_to_data_uri(
    source: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int | None = None,
    http_client: httpx.Client | None = None,
    mime_type: str | None = None,
    allow_private_urls: bool = False,
    timeout: float = DEFAULT_IMAGE_DOWNLOAD_TIMEOUT,
) -> str:
    """Validate ``source`` and return it as a base64 data URI.

    Args:
        source: a local path (a string is read as one: pass only paths you chose), raw bytes,
            a Pillow image, an http(s) URL or a data URI.
        max_bytes: largest image accepted, in decoded bytes; checked before reading or
            downloading the rest, and again after any downscaling.
        max_pixels: when the image has more pixels, downscale it (aspect kept, same format;
            needs Pillow).
        http_client: client for URL downloads; a short-lived one is used when ``None``. Its
            requests go to the checked address itself, so give it no proxy.
        mime_type: the format to encode a Pillow image in (default: the image's own format
            when supported, else PNG; JPEG and WebP at quality 90). Other sources always use
            the format detected from their bytes, whatever is declared.
        allow_private_urls: whether a URL may be fetched from a non-public address (loopback,
            private, link-local, ...); by default only public ones are, redirects included.
        timeout: seconds the download may take in all (lookup, redirects, every byte).

    Raises:
        ImageError: the source is missing, not a supported image, truncated or too large, or
            a URL that cannot be fetched (a non-public address, too slow, an HTTP error).
    """
    if http_client is not None and not isinstance(http_client, httpx.Client):
        raise TypeError("http_client must be an httpx.Client (use aimage_to_data_uri for async)")
    opts = Options.of(max_bytes, max_pixels, mime_type)
    if CHECKED.passes(source, opts):
        return source
    item = classify(source)
    if isinstance(item, Url):
        [sink] = fetch_all([_fetch(item, opts, allow_private_urls, timeout)], http_client)
        return finish(sink.body, opts, sink.label)
    return _convert_local(item, opts)


async def aimage_to_data_uri(
    source: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int | None = None,
    http_client: httpx.AsyncClient | None = None,
    mime_type: str | None = None,
    allow_private_urls: bool = False,
    timeout: float = DEFAULT_IMAGE_DOWNLOAD_TIMEOUT,
) -> str:
    """Async :func:`image_to_data_uri`: downloads with ``httpx.AsyncClient``, and reading,
    encoding and resizing run in a worker thread, so the event loop never blocks."""
    if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
        raise TypeError("http_client must be an httpx.AsyncClient (use image_to_data_uri)")
    opts = Options.of(max_bytes, max_pixels, mime_type)
    if CHECKED.passes(source, opts):
        return source  # no thread hop for a checked URI
    item = classify(source)
    if isinstance(item, Url):
        [sink] = await afetch_all([_fetch(item, opts, allow_private_urls, timeout)], http_client)
        return await _to_thread(finish, sink.body, opts, sink.label)
    return await _to_thread(_convert_local, item, opts)


def bytes_to_data_uri(
    data: bytes | bytearray | memoryview,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int | None = None,
    mime_type: str | None = None,
) -> str:
    """Validate raw image bytes and return them as a base64 data URI.

    ``mime_type`` is only a declaration: the type detected from the bytes wins.
    """
    return finish(data, Options.of(max_bytes, max_pixels, mime_type), "image bytes")


def _fetch(item: Url, opts: Options, allow_private_urls: bool, timeout: float) -> Fetch:
    job = Fetch(item, opts.max_bytes, Fetching(allow_private_urls, timeout))
    job.precheck()
    return job


def _convert_local(item: Source, opts: Options) -> str:
    """Everything but URL downloads: the part of the work the async API runs in a thread."""
    if isinstance(item, File):
        return file_to_data_uri(item, opts)
    if isinstance(item, DataUri):
        return data_uri_to_data_uri(item.value, opts)
    if isinstance(item, Raw):
        return finish(item.data, opts, "image bytes")
    if isinstance(item, Pil):
        data = encode_pil(item.image, opts)
        return finish(data, opts.without_resize(), "PIL image")
    raise AssertionError(f"URLs are downloaded by the caller: {item!r}")


async def _to_thread(func: Callable[..., str], /, *args: Any) -> str:
    # asyncio is imported here, not at module level: ``import r1v4`` stays cheap for sync users.
    import asyncio

    return await asyncio.to_thread(func, *args)
