"""Small PNG pictures for tests of images (input and generated), made with Pillow."""

from __future__ import annotations

import base64
import io

from PIL import Image


def png(size: tuple[int, int] = (12, 8), color: str = "red") -> bytes:
    """A PNG of one color."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def gradient(size: tuple[int, int], shift: int = 0) -> bytes:
    """A PNG whose every pixel differs, so a crop shows exactly which region it took
    (``shift`` makes another picture of the same size)."""
    img = Image.new("RGB", size)
    w, h = size
    img.putdata(
        [
            ((x * 255 // w + shift) % 256, y * 255 // h, (x + y) % 256)
            for y in range(h)
            for x in range(w)
        ]
    )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def uri(data: bytes) -> str:
    """``data`` (a PNG) as a data URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode()
