"""What the caller handed over: the options of one conversion and the kind of its source."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from r1v4._errors import ImageError, InvalidRequestError
from r1v4._images._sniff import SUPPORTED_MIME_TYPES

__all__ = [
    "Buffer",
    "DataUri",
    "File",
    "Options",
    "Pil",
    "Raw",
    "Source",
    "Url",
    "classify",
    "is_data_uri",
    "is_remote_url",
    "shorten",
    "show_url",
]

Buffer: TypeAlias = "bytes | bytearray | memoryview"

_MIME_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
}
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_data_uri(value: str) -> bool:
    """Whether ``value`` is a ``data:`` URI (of any kind; validation comes later)."""
    return isinstance(value, str) and value[:5].lower() == "data:"


def is_remote_url(value: str) -> bool:
    """Whether ``value`` is an ``http://`` or ``https://`` URL."""
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class Options:
    """The limits and target format of one conversion, checked once at the entry point."""

    max_bytes: int
    max_pixels: int | None
    mime_type: str | None

    @classmethod
    def of(cls, max_bytes: int, max_pixels: int | None, mime_type: str | None) -> Options:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise InvalidRequestError(f"max_bytes must be a positive int, got {max_bytes!r}")
        if max_pixels is not None and (
            isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0
        ):
            raise InvalidRequestError(
                f"max_pixels must be a positive int or None, got {max_pixels!r}"
            )
        if mime_type is not None:
            mime_type = _normalise_mime(mime_type)
            if mime_type not in SUPPORTED_MIME_TYPES:
                raise ImageError(
                    f"mime_type {mime_type!r} is not supported; use one of "
                    f"{', '.join(sorted(SUPPORTED_MIME_TYPES))}"
                )
        return cls(max_bytes, max_pixels, mime_type)

    def without_resize(self) -> Options:
        return Options(self.max_bytes, None, None)


@dataclass(frozen=True)
class Url:
    url: str

    @property
    def label(self) -> str:
        return f"image URL {show_url(self.url)!r}"


@dataclass(frozen=True)
class File:
    path: str | bytes

    @property
    def label(self) -> str:
        return f"image file {os.fsdecode(self.path)!r}"


@dataclass(frozen=True)
class DataUri:
    value: str


@dataclass(frozen=True)
class Raw:
    data: Buffer


@dataclass(frozen=True)
class Pil:
    image: Any


Source: TypeAlias = "Url | File | DataUri | Raw | Pil"


def classify(source: object) -> Source:
    """Which kind of source ``source`` is; refuses what is none of them."""
    if isinstance(source, str):
        # Surrounding whitespace (common in pasted URIs) is dropped; str.strip() returns the
        # same object when there is none, so a large data URI is not copied.
        stripped = source.strip()
        if is_data_uri(stripped):
            return DataUri(stripped)
        if is_remote_url(stripped):
            return Url(stripped)
        _reject_non_path(source)
        return File(source)
    if isinstance(source, os.PathLike):
        return File(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Raw(source)
    if _is_pil_image(source):
        return Pil(source)
    raise ImageError(
        f"unsupported image source of type {type(source).__name__}: expected a file path, "
        "an http(s) URL, a data: URI, bytes or a PIL image"
    )


def _reject_non_path(value: str) -> None:
    shown = shorten(value)
    if not value.strip():
        raise ImageError("image source is an empty string")
    scheme = _URL_SCHEME.match(value)
    if scheme:
        raise ImageError(
            f"unsupported URL scheme {scheme.group()!r} in image source {shown!r}: an image "
            "is a data: URI, an http(s) URL or a local file (a path, never a file: URL)"
        )
    if "\x00" in value:
        raise ImageError(
            f"image source {shown!r} is neither a file path, an http(s) URL nor a data: URI"
        )


def _is_pil_image(obj: object) -> bool:
    # Duck typing keeps Pillow unimported until someone actually hands us one of its images.
    return any(
        cls.__name__ == "Image" and cls.__module__.startswith("PIL.") for cls in type(obj).__mro__
    )


def _normalise_mime(mime: str) -> str:
    mime = mime.strip().lower()
    return _MIME_ALIASES.get(mime, mime)


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def show_url(url: str) -> str:
    """The URL for messages: no credentials, and the query (often a signature) elided."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        shown = urlunsplit((parts.scheme, host, parts.path, "\u2026" if parts.query else "", ""))
    except ValueError:
        shown = url
    return shorten(shown, 200)
