"""Tiny images for tests: bytes in any Pillow format, and data URIs."""

from __future__ import annotations

import base64
import io

from PIL import Image

__all__ = ["data_uri", "make_image", "make_image_data_uri"]

_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def make_image(
    format: str = "PNG",
    size: tuple[int, int] = (4, 3),
    color: tuple[int, int, int] = (255, 0, 0),
    mode: str = "RGB",
) -> bytes:
    """Encode a solid-colour image of ``size`` in ``format`` (PNG, JPEG, GIF, WEBP, ...)."""
    image = Image.new(mode, size, color if mode in ("RGB", "RGBA") else 0)
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def data_uri(data: bytes, mime_type: str = "image/png") -> str:
    """``data:<mime>;base64,<data>``."""
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"


def make_image_data_uri(
    format: str = "PNG", size: tuple[int, int] = (4, 3), color: tuple[int, int, int] = (255, 0, 0)
) -> str:
    """A data URI of :func:`make_image`."""
    mime = _MIME.get(format.upper(), f"image/{format.lower()}")
    return data_uri(make_image(format, size, color), mime)
