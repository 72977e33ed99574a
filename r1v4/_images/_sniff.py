"""What an image is, from its bytes alone: magic numbers, truncation, pixel size.

Nothing here imports Pillow or reads a file: callers hand over the first and last bytes (or a
``read_at`` callable), so the same checks serve files, buffers, data URIs and downloads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeAlias

from r1v4._errors import ImageError

__all__ = [
    "HEAD",
    "PIL_FORMATS",
    "SUPPORTED_MIME_TYPES",
    "TAIL",
    "ReadAt",
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
# JPEG EOI may be followed by a maker-note trailer, PNG IEND by a little junk.
TAIL = 64 * 1024

ReadAt: TypeAlias = Callable[[int, int], bytes]
"""``read_at(offset, n)``: up to ``n`` bytes of the image from ``offset``."""

_PNG_IEND = b"IEND\xaeB`\x82"
_BMP_DIB_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_NON_IMAGES = {"HTML": "an HTML page", "PDF": "a PDF document"}
_SCAN_CHUNK = 1024 * 1024


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


def inspect(
    head: bytes, tail: bytes, size: int, label: str, max_bytes: int, read_at: ReadAt
) -> str:
    """The supported MIME type of an image, or the reason it cannot be sent.

    ``head`` and ``tail`` decide almost every file; ``read_at`` is used only when the end
    marker is not in the tail, to tell a long trailer after the image (a motion photo's
    video after a JPEG) from a truncated file.
    """
    if size == 0:
        raise ImageError(f"{label}: empty (0 bytes), not an image")
    if size > max_bytes:
        raise over_limit(label, size, max_bytes)
    mime, name = identify(head)
    if mime is None:
        raise not_an_image(label, name, head)
    problem = _structure_problem(mime, head, tail, size, read_at)
    if problem:
        raise ImageError(f"{label}: truncated or corrupt {PIL_FORMATS[mime]} data: {problem}")
    return mime


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


def _structure_problem(
    mime: str, head: bytes, tail: bytes, size: int, read_at: ReadAt
) -> str | None:
    """Why the file looks truncated, judged from its head and tail (no Pillow)."""
    if mime == "image/png":
        if head[12:16] != b"IHDR":
            return "no IHDR chunk after the signature"
        if _PNG_IEND not in tail and not _png_reaches_iend(read_at, size):
            return "the file does not end with the IEND chunk"
    elif mime == "image/jpeg":
        # In a small file the tail is the whole file; looking only at its second half keeps an
        # EXIF thumbnail's end marker near the start from passing for the image's own.
        if b"\xff\xd9" not in tail[-max(2, size // 2) :] and not _jpeg_scan_ends(read_at, size):
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
    for marker, _, seg in _jpeg_segments(read_at):
        if marker in _JPEG_SOF:
            if len(seg) < 9:
                return None
            height, width = int.from_bytes(seg[5:7], "big"), int.from_bytes(seg[7:9], "big")
            return (width, height) if width and height else None
    return None


def _jpeg_segments(read_at: ReadAt) -> Iterator[tuple[int, int, bytes]]:
    """``(marker, offset, first bytes)`` of each header segment, up to the first scan."""
    pos = 2
    for _ in range(10_000):  # bounds the walk on corrupt input
        seg = read_at(pos, 9)
        if len(seg) < 4 or seg[0] != 0xFF:
            return
        marker = seg[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        yield marker, pos, seg
        if marker in (0xD9, 0xDA):  # end of image, start of scan: the header ends here
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
        else:
            pos += 2 + int.from_bytes(seg[2:4], "big")


def _jpeg_scan_ends(read_at: ReadAt, size: int) -> bool:
    """Whether an end-of-image marker follows the first scan anywhere in the file.

    Walking the header segments skips an EXIF thumbnail (and its own FFD9); in the scan data
    that follows, every 0xFF byte is stuffed or starts a marker, so FFD9 is the image's end.
    """
    start = next((pos for marker, pos, _ in _jpeg_segments(read_at) if marker == 0xDA), None)
    if start is None:
        return False
    for pos in range(start, size, _SCAN_CHUNK):
        # One byte of overlap, so a marker split between two reads is still seen.
        if b"\xff\xd9" in read_at(pos, _SCAN_CHUNK + 1):
            return True
    return False


def _png_reaches_iend(read_at: ReadAt, size: int) -> bool:
    """Whether the chunk chain, followed by its lengths, reaches IEND inside the file."""
    pos = 8
    for _ in range(100_000):  # bounds the walk on corrupt input
        chunk = read_at(pos, 8)
        if len(chunk) < 8:
            return False
        if chunk[4:8] == b"IEND":
            return pos + 12 <= size
        pos += 12 + int.from_bytes(chunk[:4], "big")  # length, type, data, CRC
    return False
