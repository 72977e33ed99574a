"""What an image is, from its bytes: its format (magic numbers), its pixel size (headers), and
whether it may be sent (:func:`check`: size, format, and Pillow's decode where installed).

This module imports no Pillow and opens no file: callers hand over a ``read_at`` callable, so
the same checks serve files, buffers, data URIs and downloads; :mod:`._decoding` has Pillow
decode. Without Pillow, what is checked is what the API needs from the client: the MIME type,
from the magic bytes (never a file name or a declared type), and the size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeAlias

from r1v4._errors import ImageError
from r1v4._images._decoding import check_decodes

__all__ = [
    "HEAD",
    "PIL_FORMATS",
    "SUPPORTED_MIME_TYPES",
    "ReadAt",
    "check",
    "identify",
    "inspect",
    "not_an_image",
    "over_limit",
    "pixel_size",
]

SUPPORTED_MIME_TYPES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"}
)
PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
}
SUPPORTED_TEXT = "JPEG, PNG, GIF, WebP or BMP"

# Enough for every magic number, the HEIF brand list and an SVG's XML prologue.
HEAD = 4096

ReadAt: TypeAlias = Callable[[int, int], bytes]
"""``read_at(offset, n)``: up to ``n`` bytes of the image from ``offset``."""

_BMP_DIB_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_NON_IMAGES = {"HTML": "an HTML page", "PDF": "a PDF document"}


def identify(head: bytes) -> tuple[str | None, str | None]:
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


def check(size: int, label: str, max_bytes: int, read_at: ReadAt) -> str:
    """The supported MIME type of an image, or the reason it cannot be sent.

    The size first (nothing more is read of an empty or over-large image), then the format
    from the magic bytes, then, where Pillow is installed, its data (:mod:`._decoding`).

    Raises:
        ImageError: empty, over ``max_bytes``, not a supported image, or (with Pillow) data
            that does not decode.
    """
    if size == 0:
        raise ImageError(f"{label}: empty (0 bytes), not an image")
    if size > max_bytes:
        raise over_limit(label, size, max_bytes)
    head = read_at(0, HEAD)
    mime, name = identify(head)
    if mime is None:
        raise not_an_image(label, name, head)
    check_decodes(PIL_FORMATS[mime], head, size, read_at, label)
    return mime


def inspect(
    head: bytes, tail: bytes, size: int, label: str, max_bytes: int, read_at: ReadAt
) -> str:
    """:func:`check`, in the shape the callers outside this package use (the generated images
    of a transcript, the images a tool saved); ``head`` and ``tail`` are not needed any more,
    ``read_at`` reads what the check reads."""
    del head, tail
    return check(size, label, max_bytes, read_at)


def over_limit(label: str, size: int, max_bytes: int) -> ImageError:
    return ImageError(f"{label}: {size:,} bytes, over the {max_bytes:,}-byte limit (max_bytes)")


def not_an_image(label: str, name: str | None, head: bytes) -> ImageError:
    if name in _NON_IMAGES:
        return ImageError(f"{label}: {_NON_IMAGES[name]}, not an image")
    if name is not None:
        return ImageError(f"{label}: {name} images are not supported; use {SUPPORTED_TEXT}")
    # The bytes themselves are never quoted: they may be a file's or a private page's.
    return ImageError(
        f"{label}: not an image (its first bytes match no known format); use {SUPPORTED_TEXT}"
    )


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


def pixel_size(mime: str, read_at: ReadAt) -> tuple[int, int] | None:
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


def _jpeg_size(read_at: ReadAt) -> tuple[int, int] | None:
    for marker, seg in _jpeg_segments(read_at):
        if marker in _JPEG_SOF:
            if len(seg) < 9:
                return None
            height, width = int.from_bytes(seg[5:7], "big"), int.from_bytes(seg[7:9], "big")
            return (width, height) if width and height else None
    return None


def _jpeg_segments(read_at: ReadAt) -> Iterator[tuple[int, bytes]]:
    """``(marker, first bytes)`` of each header segment, up to the first scan."""
    pos = 2
    for _ in range(10_000):  # bounds the walk on corrupt input
        seg = read_at(pos, 9)
        if len(seg) < 4 or seg[0] != 0xFF:
            return
        marker = seg[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        yield marker, seg
        if marker in (0xD9, 0xDA):  # end of image, start of scan: the header ends here
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
        else:
            pos += 2 + int.from_bytes(seg[2:4], "big")
