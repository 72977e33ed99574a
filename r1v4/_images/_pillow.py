"""The Pillow path: encoding PIL images and downscaling to ``max_pixels``.

Pillow is optional (the ``images`` extra) and imported here only when a call needs it: a PIL
image to encode, or an image over ``max_pixels`` to shrink (the check that an image decodes is
:mod:`._decoding`'s). Sizes come from the file header first, so where Pillow is missing an image
that already fits does not need it.
"""

from __future__ import annotations

import importlib
import io
import math
from collections.abc import Callable
from typing import Any

from r1v4._errors import ImageError
from r1v4._images._inputs import Buffer, Options
from r1v4._images._sniff import PIL_FORMATS, ReadAt, pixel_size

__all__ = ["encode_pil", "maybe_downscale"]

_INSTALL_HINT = 'pip install "r1v4[images]"'
_PIL_SAVE_MODES: dict[str, frozenset[str]] = {
    "JPEG": frozenset({"L", "RGB", "CMYK"}),
    "PNG": frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
    "BMP": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "GIF": frozenset({"1", "L", "P", "RGB", "RGBA"}),
}
_FORMAT_TO_MIME = {**{fmt: mime for mime, fmt in PIL_FORMATS.items()}, "MPO": "image/jpeg"}


def maybe_downscale(
    mime: str, read_at: ReadAt, whole: Callable[[], Buffer], opts: Options, label: str
) -> bytes | None:
    """The image re-encoded within ``opts.max_pixels``, or ``None`` when it already fits."""
    assert opts.max_pixels is not None
    # Header parsing first: Pillow is needed only when there is something to resize.
    dims = pixel_size(mime, read_at) or _pillow_size(whole(), label)
    if dims[0] * dims[1] <= opts.max_pixels:
        return None
    return _downscale(whole(), mime, _fit(dims, opts.max_pixels), label)


def encode_pil(img: Any, opts: Options) -> bytes:
    """A PIL image encoded in ``opts.mime_type`` (default: its own format, else PNG)."""
    pil = _pillow("encoding a PIL image")
    mime = opts.mime_type or _FORMAT_TO_MIME.get(str(img.format), "image/png")
    fmt = PIL_FORMATS[mime]
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


def _pillow_size(data: Buffer, label: str) -> tuple[int, int]:
    image_module = _pillow(f"{label}: reading the size of this image for max_pixels")
    try:
        with image_module.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception as exc:
        raise ImageError(f"{label}: Pillow cannot read this image ({exc})") from exc
    return int(width), int(height)


def _downscale(data: Buffer, mime: str, target: tuple[int, int], label: str) -> bytes:
    pil = _pillow(f"{label}: downscaling to max_pixels")
    fmt = PIL_FORMATS[mime]
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
