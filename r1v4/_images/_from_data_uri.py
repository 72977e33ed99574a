"""Data URIs -> canonical data URIs: strict base64, decoded in chunks, the type re-detected."""

from __future__ import annotations

import binascii
import re

from r1v4._errors import ImageError
from r1v4._images._checked import CHECKED
from r1v4._images._encode import finish, validate, view_reader
from r1v4._images._inputs import Options
from r1v4._images._sniff import over_limit, pixel_size

__all__ = ["data_uri_to_data_uri", "decode_base64"]

_B64_CHUNK = 256 * 1024 * 4  # a multiple of 4: every piece decodes on its own
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")


def data_uri_to_data_uri(value: str, opts: Options) -> str:
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
        data = decode_base64(value, start, label, opts.max_bytes)
    except ImageError:
        if not re.search(r"\s", value[start:]):
            raise
        # Line-wrapped base64 is common in pasted data URIs; accept it, re-emitted compact.
        compact = "".join(value[start:].split())
        data = decode_base64(compact, 0, label, opts.max_bytes)
        return finish(data, opts, label)
    view = memoryview(data)
    mime, smaller = validate(view, opts, label)
    if smaller is not None:
        return finish(smaller, opts.without_resize(), label)
    size, dims = view.nbytes, pixel_size(mime, view_reader(view))
    # The decoded bytes were only needed for validation: free them before building the result.
    del view, data
    prefix = f"data:{mime};base64,"
    if value.startswith(prefix):
        return CHECKED.add(value, size, dims)  # already canonical: no copy at all
    # replace() builds the result in one allocation; prefix + value[start:] would make two.
    return CHECKED.add(value.replace(value[:start], prefix, 1), size, dims)


def decode_base64(value: str, start: int, label: str, max_bytes: int) -> bytearray:
    """Decode ``value[start:]`` strictly, in chunks, without copying the payload string."""
    length = len(value) - start
    if length == 0:
        raise ImageError(f"{label}: empty (0 bytes), not an image")
    if length % 4:
        raise _bad_base64(value, start, label, f"its length {length:,} is not a multiple of 4")
    pad = 2 if value.endswith("==") else 1 if value.endswith("=") else 0
    out = bytearray(length // 4 * 3 - pad)
    if len(out) > max_bytes:
        raise over_limit(label, len(out), max_bytes)
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
