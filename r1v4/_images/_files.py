"""Local files -> data URIs: checked where they lie, then read in bounded chunks."""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Iterator

from r1v4._errors import ImageError
from r1v4._images._checked import CHECKED
from r1v4._images._encode import CHUNK, encode, finish
from r1v4._images._inputs import File, Options, shorten
from r1v4._images._pillow import maybe_downscale
from r1v4._images._sniff import check, pixel_size

__all__ = ["file_to_data_uri"]

_BARE_BASE64 = re.compile(r"[A-Za-z0-9+/\s]{64,}={0,2}\s*")


def file_to_data_uri(item: File, opts: Options) -> str:
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
            return finish(_read_capped(f, opts.max_bytes, label), opts, label)
        size = info.st_size

        def read_at(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        mime = check(size, label, opts.max_bytes, read_at)
        if opts.max_pixels is not None:
            smaller = maybe_downscale(mime, read_at, lambda: read_at(0, size), opts, label)
            if smaller is not None:
                return finish(smaller, opts.without_resize(), label)
        dims = pixel_size(mime, read_at)
        f.seek(0)
        return CHECKED.add(encode(mime, _read_chunks(f, size, label)), size, dims)


def _unopenable_message(path: str | bytes, exc: Exception) -> str:
    shown = shorten(os.fsdecode(path))
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
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        filled = 0
        while filled < CHUNK:
            n = f.readinto(view[filled:])
            if not n:
                break
            filled += n
        total += filled
        if total > size:
            break
        if filled:
            yield view[:filled]
        if filled < CHUNK:
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
