"""Turn anything image-like into the ``data:<mime>;base64,<data>`` URI the R1V4 API accepts.

Sources: a local path (``str`` or ``os.PathLike``), raw bytes, a Pillow image, an http(s) URL or
a data URI. Everything is checked before a request is sent: the format comes from the magic
bytes (never the file name or a declared type), truncated files are caught by a structural check
that needs no Pillow, and sizes are capped before anything large is read or downloaded.

Pillow is optional and imported only when needed (Pillow images, ``max_pixels`` downscaling).
The sync and async entry points share everything except the download itself.
"""

from __future__ import annotations

import binascii
import importlib
import io
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import httpx

from r1v4._config import DEFAULT_MAX_IMAGE_BYTES
from r1v4._errors import ImageError, InvalidRequestError

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

SUPPORTED_MIME_TYPES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"}
)

ImageSource: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image"
"""Everything :func:`image_to_data_uri` accepts."""

_Buffer: TypeAlias = "bytes | bytearray | memoryview"
_ReadAt: TypeAlias = "Callable[[int, int], bytes]"

_PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
}
_MIME_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
}
_SUPPORTED_TEXT = "JPEG, PNG, GIF, WebP or BMP"
_INSTALL_HINT = 'pip install "r1v4[images]"'

# Enough for every magic number, the HEIF brand list and an SVG's XML prologue.
_HEAD = 4096
# JPEG EOI may be followed by a maker-note trailer, PNG IEND by a little junk.
_TAIL = 64 * 1024
# A multiple of 3, so base64 pieces of consecutive chunks concatenate without padding; small
# enough that the per-chunk temporaries stay far below the size of the result.
_CHUNK = 3 * 256 * 1024
_B64_CHUNK = _CHUNK // 3 * 4
_DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_ACCEPT = "image/jpeg, image/png, image/webp, image/gif, image/bmp;q=0.9, */*;q=0.1"

_PNG_IEND = b"IEND\xaeB`\x82"
_BMP_DIB_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_NON_IMAGES = {"HTML": "an HTML page", "PDF": "a PDF document"}
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_BARE_BASE64 = re.compile(r"[A-Za-z0-9+/\s]{64,}={0,2}\s*")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")


# ---------------------------------------------------------------------------------- public


def detect_image_mime(data: bytes | bytearray | memoryview) -> str | None:
    """The MIME type of a supported image, from its magic bytes only; ``None`` otherwise.

    Known but unsupported formats (TIFF, HEIC, SVG, ...) also give ``None``.
    """
    return _identify(bytes(data[:_HEAD]))[0]


def is_data_uri(value: str) -> bool:
    """Whether ``value`` is a ``data:`` URI (of any kind; validation comes later)."""
    return isinstance(value, str) and value[:5].lower() == "data:"


def is_remote_url(value: str) -> bool:
    """Whether ``value`` is an ``http://`` or ``https://`` URL."""
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def image_to_data_uri(
    source: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int | None = None,
    http_client: httpx.Client | None = None,
    mime_type: str | None = None,
) -> str:
    """Validate ``source`` and return it as a base64 data URI.

    Args:
        source: a local path, raw bytes, a Pillow image, an http(s) URL or a data URI.
        max_bytes: largest image accepted, in decoded bytes; checked before reading or
            downloading the rest, and again after any downscaling.
        max_pixels: when the image has more pixels, downscale it (aspect kept, same format;
            needs Pillow).
        http_client: client for URL downloads; a short-lived one is used when ``None``.
        mime_type: the format to encode a Pillow image in (default: the image's own format
            when supported, else PNG; JPEG and WebP at quality 90). Other sources always use
            the format detected from their bytes, whatever is declared.

    Raises:
        ImageError: the source is missing, not a supported image, truncated or too large.
    """
    if http_client is not None and not isinstance(http_client, httpx.Client):
        raise TypeError("http_client must be an httpx.Client (use aimage_to_data_uri for async)")
    opts = _Options.of(max_bytes, max_pixels, mime_type)
    item = _classify(source)
    if isinstance(item, _Url):
        download = _download(item, http_client, opts)
        return _finish(download.body, opts, download.label)
    return _convert_local(item, opts)


async def aimage_to_data_uri(
    source: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int | None = None,
    http_client: httpx.AsyncClient | None = None,
    mime_type: str | None = None,
) -> str:
    """Async :func:`image_to_data_uri`: downloads with ``httpx.AsyncClient``, and reading,
    encoding and resizing run in a worker thread, so the event loop never blocks."""
    if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
        raise TypeError("http_client must be an httpx.AsyncClient (use image_to_data_uri)")
    opts = _Options.of(max_bytes, max_pixels, mime_type)
    item = _classify(source)
    if isinstance(item, _Url):
        download = await _adownload(item, http_client, opts)
        return await _to_thread(_finish, download.body, opts, download.label)
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
    return _finish(data, _Options.of(max_bytes, max_pixels, mime_type), "image bytes")


# ---------------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Options:
    max_bytes: int
    max_pixels: int | None
    mime_type: str | None

    @classmethod
    def of(cls, max_bytes: int, max_pixels: int | None, mime_type: str | None) -> _Options:
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

    def without_resize(self) -> _Options:
        return _Options(self.max_bytes, None, None)


@dataclass(frozen=True)
class _Url:
    url: str

    @property
    def label(self) -> str:
        return f"image URL {_show_url(self.url)!r}"


@dataclass(frozen=True)
class _File:
    path: str | bytes

    @property
    def label(self) -> str:
        return f"image file {os.fsdecode(self.path)!r}"


@dataclass(frozen=True)
class _DataUri:
    value: str


@dataclass(frozen=True)
class _Raw:
    data: _Buffer


@dataclass(frozen=True)
class _Pil:
    image: Any


_Source: TypeAlias = "_Url | _File | _DataUri | _Raw | _Pil"


def _classify(source: object) -> _Source:
    if isinstance(source, str):
        # Surrounding whitespace (common in pasted URIs) is dropped; str.strip() returns the
        # same object when there is none, so a large data URI is not copied.
        stripped = source.strip()
        if is_data_uri(stripped):
            return _DataUri(stripped)
        if is_remote_url(stripped):
            return _Url(stripped)
        _reject_non_path(source)
        return _File(source)
    if isinstance(source, os.PathLike):
        return _File(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _Raw(source)
    if _is_pil_image(source):
        return _Pil(source)
    raise ImageError(
        f"unsupported image source of type {type(source).__name__}: expected a file path, "
        "an http(s) URL, a data: URI, bytes or a PIL image"
    )


def _reject_non_path(value: str) -> None:
    shown = _shorten(value)
    if not value.strip():
        raise ImageError("image source is an empty string")
    scheme = _URL_SCHEME.match(value)
    if scheme:
        raise ImageError(
            f"unsupported URL scheme {scheme.group()!r} in image source {shown!r}: "
            "only http(s) URLs, data: URIs and local file paths are accepted"
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


def _convert_local(item: _Source, opts: _Options) -> str:
    """Everything but URL downloads: the part of the work the async API runs in a thread."""
    if isinstance(item, _File):
        return _file_to_data_uri(item, opts)
    if isinstance(item, _DataUri):
        return _data_uri_to_data_uri(item.value, opts)
    if isinstance(item, _Raw):
        return _finish(item.data, opts, "image bytes")
    if isinstance(item, _Pil):
        data = _encode_pil(item.image, opts)
        return _finish(data, opts.without_resize(), "PIL image")
    raise AssertionError(f"URLs are downloaded by the caller: {item!r}")


# ---------------------------------------------------------------------------------- bytes


def _finish(data: _Buffer, opts: _Options, label: str) -> str:
    """Validate in-memory image bytes, downscale if asked, and encode."""
    view = _byte_view(data)
    mime, smaller = _validate(view, opts, label)
    if smaller is not None:
        return _finish(smaller, opts.without_resize(), label)
    return _encode(mime, (view[i : i + _CHUNK] for i in range(0, view.nbytes, _CHUNK)))


def _validate(view: memoryview, opts: _Options, label: str) -> tuple[str, bytes | None]:
    """The image's MIME type, and its downscaled bytes when ``max_pixels`` asked for that."""
    mime = _inspect(
        view[:_HEAD].tobytes(), view[-_TAIL:].tobytes(), view.nbytes, label, opts.max_bytes
    )
    if opts.max_pixels is None:
        return mime, None

    def read_at(offset: int, n: int) -> bytes:
        return view[offset : offset + n].tobytes()

    return mime, _maybe_downscale(mime, read_at, lambda: view, opts, label)


def _byte_view(data: _Buffer) -> memoryview:
    view = memoryview(data)
    if view.ndim == 1 and view.format in ("B", "b", "c"):
        return view.cast("B") if view.format != "B" else view
    if view.c_contiguous:
        return view.cast("B")
    return memoryview(view.tobytes())


def _encode(mime: str, chunks: Iterator[_Buffer]) -> str:
    uri = f"data:{mime};base64,"
    for chunk in chunks:
        # `uri += piece` on a local the interpreter holds the only reference to lets CPython
        # grow the string in place (realloc), so the result is never copied whole and no list
        # of pieces lives next to it: peak memory stays near the size of the result.
        uri += binascii.b2a_base64(chunk, newline=False).decode("ascii")
    return uri


def _inspect(head: bytes, tail: bytes, size: int, label: str, max_bytes: int) -> str:
    """The supported MIME type of an image, or the reason it cannot be sent."""
    if size == 0:
        raise ImageError(f"{label}: empty (0 bytes), not an image")
    if size > max_bytes:
        raise ImageError(f"{label}: {size:,} bytes, over the {max_bytes:,}-byte limit (max_bytes)")
    mime, name = _identify(head)
    if mime is None:
        raise _not_an_image(label, name, head)
    problem = _structure_problem(mime, head, tail, size)
    if problem:
        raise ImageError(f"{label}: truncated or corrupt {_PIL_FORMATS[mime]} data: {problem}")
    return mime


def _not_an_image(label: str, name: str | None, head: bytes) -> ImageError:
    if name in _NON_IMAGES:
        return ImageError(f"{label}: {_NON_IMAGES[name]}, not an image")
    if name is not None:
        return ImageError(f"{label}: {name} images are not supported; use {_SUPPORTED_TEXT}")
    return ImageError(
        f"{label}: not an image (unrecognised content starting with {head[:16]!r}); "
        f"use {_SUPPORTED_TEXT}"
    )


def _identify(head: bytes) -> tuple[str | None, str | None]:
    """``(supported MIME or None, format name or None)`` from the first bytes of a file."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "WebP"
    # "BM" alone is too weak a signature (it is plain ASCII), so the DIB header size must fit.
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return "image/bmp", "BMP"
    return None, _unsupported_name(head)


def _unsupported_name(head: bytes) -> str | None:
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        box = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(box, len(head)), 4)}
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIC/HEIF"
        return None
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and head[4:6] != b"\x00\x00":
        return "ICO"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG 2000"
    if head.startswith((b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"\xff\x0a")):
        return "JPEG XL"
    if head.startswith(b"8BPS"):
        return "Photoshop (PSD)"
    if head.startswith(b"%PDF-"):
        return "PDF"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        if b"<svg" in text:
            return "SVG"
        if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:1024]:
            return "HTML"
    return None


def _structure_problem(mime: str, head: bytes, tail: bytes, size: int) -> str | None:
    """Why the file looks truncated, judged from its head and tail only (no Pillow)."""
    if mime == "image/png":
        if head[12:16] != b"IHDR":
            return "no IHDR chunk after the signature"
        if _PNG_IEND not in tail:
            return "the file does not end with the IEND chunk"
    elif mime == "image/jpeg":
        # In a small file the tail is the whole file; looking only at its second half keeps an
        # EXIF thumbnail's end marker near the start from passing for the image's own.
        if b"\xff\xd9" not in tail[-max(2, size // 2) :]:
            return "no end-of-image marker (FFD9) near the end of the file"
    elif mime == "image/gif":
        if not tail.rstrip(b"\x00").endswith(b";"):
            return "the file does not end with the GIF trailer (0x3B)"
    elif mime == "image/webp":
        expected = int.from_bytes(head[4:8], "little") + 8
        # An odd-sized RIFF body may be followed by one pad byte.
        if not expected <= size <= expected + (expected & 1):
            return f"the RIFF header announces {expected:,} bytes but there are {size:,}"
    elif mime == "image/bmp":
        declared = int.from_bytes(head[2:6], "little")
        if declared > size:
            return f"the header announces {declared:,} bytes but the file has {size:,}"
    return None


# ---------------------------------------------------------------------------------- files


def _file_to_data_uri(item: _File, opts: _Options) -> str:
    label = item.label
    try:
        f = open(item.path, "rb")  # noqa: SIM115 - closed by the with below
    except IsADirectoryError as exc:
        raise ImageError(f"{label}: is a directory, not an image file") from exc
    except PermissionError as exc:
        raise ImageError(f"{label}: permission denied") from exc
    except (OSError, ValueError) as exc:  # not found, name too long, NUL byte...
        raise ImageError(_unopenable_message(item.path, exc)) from exc
    with f:
        info = os.fstat(f.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"{label}: is a directory, not an image file")
        if not stat.S_ISREG(info.st_mode):
            # Pipes and devices have no trustworthy size: read them whole, capped.
            return _finish(_read_capped(f, opts.max_bytes, label), opts, label)
        size = info.st_size

        def read_at(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        head = read_at(0, _HEAD) if size else b""
        tail = read_at(max(0, size - _TAIL), _TAIL) if size else b""
        mime = _inspect(head, tail, size, label, opts.max_bytes)
        if opts.max_pixels is not None:
            smaller = _maybe_downscale(mime, read_at, lambda: read_at(0, size), opts, label)
            if smaller is not None:
                return _finish(smaller, opts.without_resize(), label)
        f.seek(0)
        return _encode(mime, _read_chunks(f, size, label))


def _unopenable_message(path: str | bytes, exc: Exception) -> str:
    shown = _shorten(os.fsdecode(path))
    if isinstance(exc, FileNotFoundError):
        message = f"image file not found: {shown!r}"
    else:
        reason = getattr(exc, "strerror", None) or str(exc)
        message = f"image source {shown!r} cannot be opened as a file ({reason})"
    message += (
        " (a string image source must be an existing file path, an http(s) URL or a data: URI)"
    )
    if isinstance(path, str) and _BARE_BASE64.fullmatch(path):
        message += "; it looks like bare base64: pass it as 'data:image/png;base64,...'"
    return message


def _read_chunks(f: io.BufferedReader, size: int, label: str) -> Iterator[memoryview]:
    # One buffer reused for every chunk: chunks are consumed before the next read.
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        filled = 0
        while filled < _CHUNK:
            n = f.readinto(view[filled:])
            if not n:
                break
            filled += n
        total += filled
        if total > size:
            break
        if filled:
            yield view[:filled]
        if filled < _CHUNK:
            break
    if total != size:
        raise ImageError(f"{label}: the file changed size while it was being read")


def _read_capped(f: io.BufferedReader, max_bytes: int, label: str) -> bytes:
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(
            f"{label}: over the {max_bytes:,}-byte limit (max_bytes); stopped after reading "
            f"{len(data):,} bytes"
        )
    return data


# ---------------------------------------------------------------------------------- data URIs


def _data_uri_to_data_uri(value: str, opts: _Options) -> str:
    label = "image data URI"
    comma = value.find(",", 0, 1024)
    if comma < 0:
        raise ImageError(f"{label}: malformed, no ',' between the header and the data")
    params = [p.strip().lower() for p in value[5:comma].split(";")]
    if len(params) < 2 or params[-1] != "base64":
        declared = params[0] or "text/plain"
        hint = " (SVG images are not supported)" if "svg" in declared else ""
        raise ImageError(
            f"{label}: not base64-encoded ({declared}){hint}; "
            "only 'data:<mime>;base64,<data>' image URIs are accepted"
        )
    start = comma + 1
    try:
        data = _decode_base64(value, start, label, opts.max_bytes)
    except ImageError:
        if not re.search(r"\s", value[start:]):
            raise
        # Line-wrapped base64 is common in pasted data URIs; accept it, re-emitted compact.
        compact = "".join(value[start:].split())
        data = _decode_base64(compact, 0, label, opts.max_bytes)
        return _finish(data, opts, label)
    view = memoryview(data)
    mime, smaller = _validate(view, opts, label)
    if smaller is not None:
        return _finish(smaller, opts.without_resize(), label)
    # The decoded bytes were only needed for validation: free them before building the result.
    del view, data
    prefix = f"data:{mime};base64,"
    if value.startswith(prefix):
        return value  # already canonical: no copy at all
    # replace() builds the result in one allocation; prefix + value[start:] would make two.
    return value.replace(value[:start], prefix, 1)


def _decode_base64(value: str, start: int, label: str, max_bytes: int) -> bytearray:
    """Decode ``value[start:]`` strictly, in chunks, without copying the payload string."""
    length = len(value) - start
    if length == 0:
        raise ImageError(f"{label}: empty (0 bytes), not an image")
    if length % 4:
        raise _bad_base64(value, start, label, f"its length {length:,} is not a multiple of 4")
    pad = 2 if value.endswith("==") else 1 if value.endswith("=") else 0
    out = bytearray(length // 4 * 3 - pad)
    if len(out) > max_bytes:
        raise ImageError(
            f"{label}: {len(out):,} bytes, over the {max_bytes:,}-byte limit (max_bytes)"
        )
    pos = 0
    for i in range(start, len(value), _B64_CHUNK):
        piece = value[i : i + _B64_CHUNK]
        try:
            raw = binascii.a2b_base64(piece)
        except ValueError:  # binascii.Error, or non-ASCII text
            raise _bad_base64(value, start, label, "invalid characters or padding") from None
        # The lenient decoder skips stray characters and stops at early padding; either way
        # it yields fewer bytes than the piece's length implies, which is how we catch them.
        expected = len(piece) // 4 * 3 - (pad if i + _B64_CHUNK >= len(value) else 0)
        if len(raw) != expected:
            raise _bad_base64(value, start, label, "it contains invalid characters or padding")
        out[pos : pos + expected] = raw
        pos += expected
    return out


def _bad_base64(value: str, start: int, label: str, why: str) -> ImageError:
    # Only runs on failure, so it may scan the payload again to say where the problem is.
    bad = _NOT_BASE64.search(value, start)
    end = len(value)
    while end > start and value[end - 1] == "=":
        end -= 1
    early_pad = value.find("=", start, end)
    if bad:
        where = f" ({value[bad.start()]!r} at offset {bad.start() - start:,})"
    elif early_pad >= 0:
        where = f" ('=' padding at offset {early_pad - start:,}, before the end)"
    else:
        where = ""
    return ImageError(f"{label}: the payload is not valid base64: {why}{where}")


# ---------------------------------------------------------------------------------- URLs


class _Download:
    """The checks shared by the sync and async downloads; they differ only in their I/O."""

    def __init__(self, item: _Url, max_bytes: int) -> None:
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
        if not self.checked and len(self.body) >= _HEAD:
            self._check_head()

    def finish(self) -> _Download:
        if not self.checked and self.body:
            self._check_head()
        return self

    def _check_head(self) -> None:
        # Fail on a web page as soon as its first bytes arrive, not after the whole body.
        self.checked = True
        head = bytes(self.body[:_HEAD])
        mime, name = _identify(head)
        if mime is None:
            raise _not_an_image(self.label, name, head)

    def network_error(self, exc: Exception) -> ImageError:
        return ImageError(f"{self.label}: download failed ({type(exc).__name__}: {exc})")


def _client_options() -> dict[str, Any]:
    return {"timeout": _DOWNLOAD_TIMEOUT, "headers": {"User-Agent": "r1v4 image fetch"}}


def _download(item: _Url, client: httpx.Client | None, opts: _Options) -> _Download:
    sink = _Download(item, opts.max_bytes)
    try:
        with (
            httpx.Client(**_client_options()) if client is None else nullcontext(client) as http,
            http.stream(
                "GET", item.url, headers={"Accept": _ACCEPT}, follow_redirects=True
            ) as response,
        ):
            sink.start(response)
            for chunk in response.iter_bytes():
                sink.feed(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise sink.network_error(exc) from exc
    return sink.finish()


async def _adownload(item: _Url, client: httpx.AsyncClient | None, opts: _Options) -> _Download:
    sink = _Download(item, opts.max_bytes)
    try:
        async with (
            httpx.AsyncClient(**_client_options())
            if client is None
            else nullcontext(client) as http,
            http.stream(
                "GET", item.url, headers={"Accept": _ACCEPT}, follow_redirects=True
            ) as response,
        ):
            sink.start(response)
            async for chunk in response.aiter_bytes():
                sink.feed(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise sink.network_error(exc) from exc
    return sink.finish()


# ---------------------------------------------------------------------------------- pixels


def _maybe_downscale(
    mime: str, read_at: _ReadAt, whole: Callable[[], _Buffer], opts: _Options, label: str
) -> bytes | None:
    """The image re-encoded within ``opts.max_pixels``, or ``None`` when it already fits."""
    assert opts.max_pixels is not None
    # Header parsing first: Pillow is needed only when there is something to resize.
    dims = _pixel_size(mime, read_at) or _pillow_size(whole(), label)
    if dims[0] * dims[1] <= opts.max_pixels:
        return None
    return _downscale(whole(), mime, _fit(dims, opts.max_pixels), label)


def _pixel_size(mime: str, read_at: _ReadAt) -> tuple[int, int] | None:
    """Width and height from the file header, without Pillow; ``None`` if unreadable."""
    if mime == "image/jpeg":
        return _jpeg_size(read_at)
    head = read_at(0, 30)
    if len(head) < 30:
        return None
    le = int.from_bytes
    if mime == "image/png":
        dims = (le(head[16:20], "big"), le(head[20:24], "big"))
    elif mime == "image/gif":
        dims = (le(head[6:8], "little"), le(head[8:10], "little"))
    elif mime == "image/bmp":
        if le(head[14:18], "little") == 12:
            dims = (le(head[18:20], "little"), le(head[20:22], "little"))
        else:
            width = le(head[18:22], "little", signed=True)
            height = le(head[22:26], "little", signed=True)
            dims = (abs(width), abs(height))  # negative height marks a top-down bitmap
    elif head[12:16] == b"VP8X":
        dims = (le(head[24:27], "little") + 1, le(head[27:30], "little") + 1)
    elif head[12:16] == b"VP8L" and head[20] == 0x2F:
        bits = le(head[21:25], "little")
        dims = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    elif head[12:16] == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        dims = (le(head[26:28], "little") & 0x3FFF, le(head[28:30], "little") & 0x3FFF)
    else:
        return None
    return dims if dims[0] > 0 and dims[1] > 0 else None


def _jpeg_size(read_at: _ReadAt) -> tuple[int, int] | None:
    pos = 2
    for _ in range(10_000):  # bounds the walk on corrupt input
        seg = read_at(pos, 9)
        if len(seg) < 4 or seg[0] != 0xFF:
            return None
        marker = seg[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
        elif marker in _JPEG_SOF:
            if len(seg) < 9:
                return None
            height, width = int.from_bytes(seg[5:7], "big"), int.from_bytes(seg[7:9], "big")
            return (width, height) if width and height else None
        elif marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            return None
        else:
            pos += 2 + int.from_bytes(seg[2:4], "big")
    return None


def _fit(dims: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    width, height = dims
    scale = math.sqrt(max_pixels / (width * height))
    new_w = max(1, min(width, math.floor(width * scale)))
    new_h = max(1, min(height, math.floor(height * scale)))
    if new_w * new_h > max_pixels:  # clamping a very thin image to 1 pixel can overshoot
        if new_w >= new_h:
            new_w = max(1, max_pixels // new_h)
        else:
            new_h = max(1, max_pixels // new_w)
    return new_w, new_h


def _pillow(purpose: str) -> Any:
    try:
        return importlib.import_module("PIL.Image")
    except ImportError as exc:
        raise ImageError(f"{purpose} needs Pillow: {_INSTALL_HINT}") from exc


def _pillow_size(data: _Buffer, label: str) -> tuple[int, int]:
    image_module = _pillow(f"{label}: reading the size of this image for max_pixels")
    try:
        with image_module.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception as exc:
        raise ImageError(f"{label}: Pillow cannot read this image ({exc})") from exc
    return int(width), int(height)


def _downscale(data: _Buffer, mime: str, target: tuple[int, int], label: str) -> bytes:
    pil = _pillow(f"{label}: downscaling to max_pixels")
    fmt = _PIL_FORMATS[mime]
    head = bytes(memoryview(data)[:16])
    buf = io.BytesIO()
    try:
        with pil.open(io.BytesIO(data)) as img:
            if fmt == "JPEG":
                img.draft(img.mode, target)  # libjpeg can decode at 1/2, 1/4, 1/8 scale
            options = _save_options(img, fmt, head)
            if getattr(img, "n_frames", 1) > 1 and fmt in ("GIF", "WEBP"):
                # Keep every frame of an animation, not just the first.
                sequence = importlib.import_module("PIL.ImageSequence")
                frames, durations = [], []
                for frame in sequence.Iterator(img):
                    durations.append(frame.info.get("duration", 100))
                    frames.append(frame.convert("RGBA").resize(target, pil.Resampling.LANCZOS))
                options.update(
                    save_all=True,
                    append_images=frames[1:],
                    duration=durations,
                    loop=img.info.get("loop", 0),
                )
                out = frames[0]
            else:
                out = _resizable(img).resize(target, pil.Resampling.LANCZOS)
            out.save(buf, format=fmt, **options)
    except Exception as exc:  # Pillow raises many kinds (OSError, ValueError, bomb errors...)
        raise ImageError(f"{label}: could not be downscaled with Pillow ({exc})") from exc
    return buf.getvalue()


def _save_options(img: Any, fmt: str, head: bytes) -> dict[str, Any]:
    options: dict[str, Any] = {}
    # Keep the colour profile and EXIF (its orientation tag decides which way is up).
    for key in ("icc_profile", "exif"):
        if img.info.get(key) and fmt in ("JPEG", "PNG", "WEBP"):
            options[key] = img.info[key]
    if fmt == "JPEG":
        options["quality"] = 90
    elif fmt == "WEBP":
        if head[12:16] == b"VP8L":
            options["lossless"] = True
        else:
            options["quality"] = 90
    return options


def _resizable(img: Any) -> Any:
    # Pillow resizes palette and bilevel images with nearest-neighbour only.
    if img.mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode == "1":
        return img.convert("L")
    return img


_PIL_SAVE_MODES: dict[str, frozenset[str]] = {
    "JPEG": frozenset({"L", "RGB", "CMYK"}),
    "PNG": frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
    "BMP": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "GIF": frozenset({"1", "L", "P", "RGB", "RGBA"}),
}
_FORMAT_TO_MIME = {**{fmt: mime for mime, fmt in _PIL_FORMATS.items()}, "MPO": "image/jpeg"}


def _encode_pil(img: Any, opts: _Options) -> bytes:
    pil = _pillow("encoding a PIL image")
    mime = opts.mime_type or _FORMAT_TO_MIME.get(str(img.format), "image/png")
    fmt = _PIL_FORMATS[mime]
    buf = io.BytesIO()
    try:
        if opts.max_pixels is not None and img.width * img.height > opts.max_pixels:
            img = _resizable(img).resize(
                _fit((img.width, img.height), opts.max_pixels), pil.Resampling.LANCZOS
            )
        if img.mode not in _PIL_SAVE_MODES[fmt]:
            alpha = "A" in img.getbands() or "transparency" in img.info
            if alpha and fmt == "JPEG":
                # JPEG has no alpha: composite on white rather than expose hidden colours.
                rgba = img.convert("RGBA")
                img = pil.new("RGB", rgba.size, "white")
                img.paste(rgba, mask=rgba.getchannel("A"))
            else:
                img = img.convert("RGBA" if alpha else "RGB")
        img.save(buf, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    except Exception as exc:  # Pillow raises many kinds (OSError, ValueError, KeyError...)
        raise ImageError(f"PIL image: could not be encoded as {fmt} ({exc})") from exc
    return buf.getvalue()


# ---------------------------------------------------------------------------------- text


def _normalise_mime(mime: str) -> str:
    mime = mime.strip().lower()
    return _MIME_ALIASES.get(mime, mime)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _show_url(url: str) -> str:
    """The URL for messages: no credentials, and the query (often a signature) elided."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        shown = urlunsplit((parts.scheme, host, parts.path, "\u2026" if parts.query else "", ""))
    except ValueError:
        shown = url
    return _shorten(shown, 200)


async def _to_thread(func: Callable[..., str], /, *args: Any) -> str:
    # asyncio is imported here, not at module level: ``import r1v4`` stays cheap for sync users.
    import asyncio

    return await asyncio.to_thread(func, *args)
