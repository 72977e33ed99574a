"""Tiny images for tests: bytes in any Pillow format, data URIs, and the agent scenario's crop."""

from __future__ import annotations

import base64
import io

from PIL import Image

__all__ = ["center_crop", "crop_box", "data_uri", "make_image", "make_image_data_uri"]

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


def crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The central half of a ``width`` x ``height`` image, as the agent scenario's code crops it
    (``(w // 4, h // 4, 3 * w // 4, 3 * h // 4)``; at least one pixel each way)."""
    left, top = width // 4, height // 4
    return left, top, max(left + 1, 3 * width // 4), max(top + 1, 3 * height // 4)


def center_crop(data: bytes) -> bytes:
    """The :func:`crop_box` region of the image in ``data``, encoded as PNG."""
    with Image.open(io.BytesIO(data)) as image:
        crop = image.crop(crop_box(*image.size))
    if crop.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        crop = crop.convert("RGB")  # CMYK and the like have no PNG form
    buffer = io.BytesIO()
    crop.save(buffer, format="PNG")
    return buffer.getvalue()
