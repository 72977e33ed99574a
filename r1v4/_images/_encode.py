"""In-memory image bytes -> a checked, possibly downscaled, canonical data URI."""

from __future__ import annotations

import binascii
from collections.abc import Iterator

from r1v4._images._checked import CHECKED
from r1v4._images._inputs import Buffer, Options
from r1v4._images._pillow import maybe_downscale
from r1v4._images._sniff import ReadAt, check, pixel_size

__all__ = ["CHUNK", "encode", "finish", "validate", "view_reader"]

# A multiple of 3, so base64 pieces of consecutive chunks concatenate without padding; small
# enough that the per-chunk temporaries stay far below the size of the result.
CHUNK = 3 * 256 * 1024


def finish(data: Buffer, opts: Options, label: str) -> str:
    """Validate in-memory image bytes, downscale if asked, and encode."""
    view = _byte_view(data)
    mime, smaller = validate(view, opts, label)
    if smaller is not None:
        return finish(smaller, opts.without_resize(), label)
    uri = encode(mime, (view[i : i + CHUNK] for i in range(0, view.nbytes, CHUNK)))
    return CHECKED.add(uri, view.nbytes, pixel_size(mime, view_reader(view)))


def validate(view: memoryview, opts: Options, label: str) -> tuple[str, bytes | None]:
    """The image's MIME type, and its downscaled bytes when ``max_pixels`` asked for that."""
    read_at = view_reader(view)
    mime = check(view.nbytes, label, opts.max_bytes, read_at)
    if opts.max_pixels is None:
        return mime, None
    return mime, maybe_downscale(mime, read_at, lambda: view, opts, label)


def view_reader(view: memoryview) -> ReadAt:
    def read_at(offset: int, n: int) -> bytes:
        return view[offset : offset + n].tobytes()

    return read_at


def encode(mime: str, chunks: Iterator[Buffer]) -> str:
    uri = f"data:{mime};base64,"
    for chunk in chunks:
        # `uri += piece` on a local the interpreter holds the only reference to lets CPython
        # grow the string in place (realloc), so the result is never copied whole and no list
        # of pieces lives next to it: peak memory stays near the size of the result.
        uri += binascii.b2a_base64(chunk, newline=False).decode("ascii")
    return uri


def _byte_view(data: Buffer) -> memoryview:
    view = memoryview(data)
    if view.ndim == 1 and view.format in ("B", "b", "c"):
        return view.cast("B") if view.format != "B" else view
    if view.c_contiguous:
        return view.cast("B")
    return memoryview(view.tobytes())
