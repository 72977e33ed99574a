"""Whether an image's data decodes: Pillow's check, where Pillow is installed.

Pillow is optional (the ``images`` extra). Where it can be imported, every image is opened with
the plugin of the format its magic bytes name and checked the way that catches truncation:

- JPEG, GIF, BMP, WebP: ``load()`` under Pillow's strict default
  (``ImageFile.LOAD_TRUNCATED_IMAGES`` false, read and never set: it is the process's), so data
  that ends before the image does is an error. What is decoded is what a vision model reads,
  the first frame; a JPEG at 1/8 scale (every coefficient is still read, so a cut is still
  found, with 1/64 of the pixels to hold). WebP's RIFF length must also match the file, which
  libwebp does not ask.
- PNG: ``verify()``, which walks every chunk to IEND with its CRC. Its decoder stops at the last
  pixel (a missing IEND passes ``load()``), and on every cut and one-byte flip of the test
  images ``load()`` found nothing ``verify()`` missed, at four times the cost.

A JPEG without its end marker is refused because Pillow refuses it (strictly, it is
truncated); a GIF without its trailer is accepted because Pillow decodes it. Without Pillow
none of this runs: only the size and the format from the magic bytes are checked.

Decompression bombs: the size in the header is judged before anything is decoded, against
Pillow's own limit (``PIL.Image.MAX_IMAGE_PIXELS``, read per call, so an application that
raised or lowered it is obeyed); Pillow refuses twice that at open.
"""

from __future__ import annotations

import importlib
import io
import struct
from collections.abc import Callable
from typing import Any

from r1v4._errors import ImageError

__all__ = ["check_decodes", "pillow_or_none"]

# What a file that ends too early is missing, by Pillow format, for the error message.
_ENDS = {
    "JPEG": "the data ends before the end-of-image marker (FFD9)",
    "GIF": "the data ends before the GIF trailer (0x3B)",
}


def pillow_or_none() -> Any:
    """``PIL.Image``, or ``None`` when Pillow is not installed (a broken install still raises)."""
    try:
        return importlib.import_module("PIL.Image")
    except ModuleNotFoundError:
        return None


def check_decodes(
    fmt: str, head: bytes, size: int, read_at: Callable[[int, int], bytes], label: str
) -> None:
    """Raise :class:`ImageError` unless Pillow decodes the image; nothing without Pillow.

    Args:
        fmt: the Pillow format the magic bytes name (``"PNG"``, ``"JPEG"``, ...).
        head: the first bytes of the image.
        size: its length in bytes.
        read_at: ``read_at(offset, n)``, up to ``n`` bytes of the image from ``offset``.
        label: what errors call the image.

    Raises:
        ImageError: the data is truncated or corrupt, or the image has more pixels than
            Pillow's decompression-bomb limit.
    """
    pil = pillow_or_none()
    if pil is None:
        return
    if fmt == "WEBP":
        expected = int.from_bytes(head[4:8], "little") + 8
        # An odd-sized RIFF body may be followed by one pad byte; more is not part of the image.
        if not expected <= size <= expected + (expected & 1):
            raise _corrupt(
                label, fmt, f"the RIFF header announces {expected:,} bytes but there are {size:,}"
            )
    try:
        with pil.open(_ReadAtFile(read_at, size), formats=[fmt]) as img:
            _within_limit(pil, img.size, label)
            if fmt == "PNG":
                img.verify()
            else:
                if fmt == "JPEG":
                    img.draft(img.mode, (1, 1))  # the smallest scale libjpeg decodes to
                img.load()
    except ImageError:
        raise
    except (pil.DecompressionBombError, pil.DecompressionBombWarning) as exc:
        # open() refuses twice the limit, and warns (an error under ``-W error``) above it.
        raise ImageError(f"{label}: {exc}") from None
    except Exception as exc:  # Pillow raises many kinds (OSError, SyntaxError, struct.error...)
        raise _corrupt(label, fmt, _why(fmt, head, size, exc), exc) from None


def _within_limit(pil: Any, dims: tuple[int, int], label: str) -> None:
    limit = pil.MAX_IMAGE_PIXELS
    width, height = dims
    if limit is not None and width * height > limit:
        raise ImageError(
            f"{label}: {width:,}x{height:,} pixels, over Pillow's limit of {int(limit):,} "
            "(PIL.Image.MAX_IMAGE_PIXELS): refused unread as a possible decompression bomb"
        )


def _why(fmt: str, head: bytes, size: int, exc: Exception) -> str:
    if fmt == "PNG":  # verify(): the walk of the chunks and their CRCs stopped short of IEND
        return "its chunks do not reach an intact IEND chunk"
    if not (isinstance(exc, (EOFError, struct.error)) or "truncated" in str(exc).lower()):
        return "Pillow cannot decode it"
    if fmt == "BMP":
        declared = int.from_bytes(head[2:6], "little")
        if declared > size:
            return f"the header announces {declared:,} bytes but the file has {size:,}"
    return _ENDS.get(fmt, "the data ends before the image does")


def _corrupt(label: str, fmt: str, why: str, exc: Exception | None = None) -> ImageError:
    detail = f" (Pillow: {str(exc) or type(exc).__name__})" if exc is not None else ""
    return ImageError(f"{label}: truncated or corrupt {fmt} data: {why}{detail}")


class _ReadAtFile(io.RawIOBase):
    """A read-only, seekable file over ``read_at``: what Pillow reads an image from, whatever
    holds it (a file, a buffer, base64 text decoded piece by piece)."""

    def __init__(self, read_at: Callable[[int, int], bytes], size: int) -> None:
        super().__init__()
        self._read_at = read_at
        self._size = size
        self._pos = 0

    def __repr__(self) -> str:
        return "<image data>"  # Pillow's "cannot identify image file ..." names the file so

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = self._size - self._pos
        data = self._read_at(self._pos, n) if n > 0 and self._pos < self._size else b""
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)
