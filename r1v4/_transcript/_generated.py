"""The images the hosted agent generates: checked, measured, and referenced in observations.

A data URI found in an observation becomes a :class:`GeneratedImage` when its base64 is sound
and its bytes are an image the core accepts (the same magic-byte and structural checks as
inputs); otherwise it is a :class:`TranscriptIssue` (``invalid_image``) and its text stays
where it was. Only the head and the tail of the data are decoded here; the bytes themselves
are decoded when the caller asks for them.
"""

from __future__ import annotations

import binascii
import contextlib
import importlib
import io
import json
import re
import sys
from collections.abc import Callable
from typing import Any, TypeAlias

from r1v4._errors import ImageError
from r1v4._transcript._events import GeneratedImage, TranscriptIssue, image_ref_id
from r1v4._transcript._image_uris import FoundUri, find_data_uris

__all__ = ["ImageBook", "check_image", "cut_off", "observation_content"]

Make: TypeAlias = Callable[[FoundUri], "GeneratedImage | TranscriptIssue"]

_HEAD = 4096  # bytes the format checks read from the start, as for image inputs
_TAIL = 64 * 1024  # and from the end
_PREVIEW = 48
_ONE_HEADER = re.compile(r"data:image/[A-Za-z0-9.+-]{1,40};base64,")
_TOKEN = re.compile("\x00([0-9]+)\x00")


def check_image(
    uri: FoundUri, index: int, tool_call_id: str | None
) -> GeneratedImage | TranscriptIssue:
    """The image a complete data URI holds, or the issue that says why it is none."""
    data = uri.base64
    problem = _base64_problem(data)
    mime = ""
    size = 0
    if problem is None:
        size = len(data) // 4 * 3 - (len(data) - len(data.rstrip("=")))
        try:
            mime = _inspect(data, size)
        except ImageError as exc:
            problem = exc.message
    if problem is not None:
        text = f"data:image/{uri.subtype};base64,{data[:_PREVIEW]}"
        more = len(data) - _PREVIEW
        if more > 0:
            text += f"… ({more:,} more characters)"
        return TranscriptIssue(
            "invalid_image", text, f"an image in the tool trace that cannot be read: {problem}"
        )
    dims = _pixels(mime, data)
    return GeneratedImage(
        image_ref_id(index),
        mime,
        size,
        dims[0] if dims else None,
        dims[1] if dims else None,
        tool_call_id,
        index,
        data,
    )


def cut_off(uri: FoundUri) -> TranscriptIssue:
    """The issue for a data URI the stream ended inside."""
    return TranscriptIssue(
        "invalid_image",
        f"data:image/{uri.subtype};base64,{uri.base64[:_PREVIEW]}…",
        f"the stream ended inside an image of the tool trace ({len(uri.base64):,} characters "
        "of base64 came); its text was kept",
    )


class ImageBook:
    """The images of one observation, in the order its raw text gave them, to put references
    in its parsed content in their place.

    ``entries`` are ``(base64, image or None when it was not one)``, matched in order to the
    URIs of the parsed strings; ``tokens`` are images whose text :func:`cut_images` already
    took out of the observation before it was parsed, leaving a token in its place.
    """

    __slots__ = ("_entries", "_next", "_tokens", "new")

    @property
    def cut(self) -> bool:
        """Whether the content was parsed with some images' text cut out."""
        return bool(self._tokens)

    def __init__(
        self,
        entries: list[tuple[str, GeneratedImage | None]],
        tokens: dict[int, GeneratedImage] | None = None,
    ) -> None:
        self._entries = entries
        self._next = 0
        self._tokens = tokens or {}
        self.new: list[GeneratedImage | TranscriptIssue] = []

    def replace(self, content: Any, make: Make) -> Any:
        """``content`` with every image in its strings replaced by a reference.

        ``make(uri)`` turns a URI the raw scan missed (an escape it does not read) into an
        image or issue, which goes to :attr:`new`.
        """
        if isinstance(content, str):
            if "data:image" in content or (self._tokens and "\x00" in content):
                return self._string(content, make)
            return content
        if isinstance(content, dict):
            return {k: self.replace(v, make) for k, v in content.items()}
        if isinstance(content, list):
            return [self.replace(v, make) for v in content]
        return content

    def _string(self, text: str, make: Make) -> Any:
        entries, n = self._entries, self._next
        if n < len(entries) and not self._tokens:
            # The common case, without scanning megabytes again: the string is the next URI.
            b64, image = entries[n]
            head = len(text) - len(b64)
            if head > 0 and _ONE_HEADER.fullmatch(text, 0, head) and text.endswith(b64):
                self._next += 1
                return {"type": "image", "id": image.id} if image is not None else text
        pieces: list[Any] = []
        at = 0
        if self._tokens:
            for m in _TOKEN.finditer(text):
                image = self._tokens.get(int(m.group(1)))
                if image is not None:
                    pieces += self._uris(text[at : m.start()], make)
                    pieces.append({"type": "image", "id": image.id})
                    at = m.end()
        pieces += self._uris(text[at:], make)
        if len(pieces) == 1 and isinstance(pieces[0], str):
            return text
        blocks = [{"type": "text", "text": p} if isinstance(p, str) else p for p in pieces if p]
        blocks = [b for b in blocks if b.get("type") != "text" or b["text"].strip()]
        return blocks[0] if len(blocks) == 1 else blocks

    def _uris(self, text: str, make: Make) -> list[Any]:
        """``text`` as its pieces of text and image references."""
        if "data:image" not in text:
            return [text]
        pieces: list[Any] = []
        at = 0
        for uri in find_data_uris(text):
            image = self._image_for(uri, make)
            if image is None:
                continue  # not an image: its text stays
            pieces.append(text[at : uri.start])
            pieces.append({"type": "image", "id": image.id})
            at = uri.end
        pieces.append(text[at:])
        return pieces

    def _image_for(self, uri: FoundUri, make: Make) -> GeneratedImage | None:
        entries = self._entries
        if self._next < len(entries) and entries[self._next][0] == uri.base64:
            self._next += 1
            return entries[self._next - 1][1]
        found = make(uri)
        self.new.append(found)
        return found if isinstance(found, GeneratedImage) else None


def observation_content(
    payload: str, seen: list[FoundUri], images: list[GeneratedImage | None]
) -> tuple[Any, ImageBook | None]:
    """An observation's content (its JSON parsed, else its text) and, when it holds images,
    the book that puts references in their place. ``seen`` are the URIs the stream found in
    it, ``images`` what each turned out to be."""
    body = payload.strip()
    content: Any = body
    tokens: dict[int, GeneratedImage] = {}
    if body[:1] in ("{", "[", '"'):
        good = [(u, i) for u, i in zip(seen, images, strict=True) if i is not None]
        cut = cut_images(payload, [(u.start, u.end) for u, _ in good]) if good else None
        if cut is not None:
            # Parsed without the images' text; tokens mark where each was.
            with contextlib.suppress(ValueError):
                content = json.loads(cut)
                tokens = {n: image for n, (_, image) in enumerate(good)}
        if not tokens:
            with contextlib.suppress(ValueError):
                content = json.loads(body)
    # With tokens the good images are placed already; the URIs left to match are the bad ones.
    entries: list[tuple[str, GeneratedImage | None]] = [
        (u.base64, i) for u, i in zip(seen, images, strict=True) if not (tokens and i)
    ]
    if not (entries or tokens or "data:image" in body):
        return content, None
    return content, ImageBook(entries, tokens)


def cut_images(payload: str, spans: list[tuple[int, int]]) -> str | None:
    """``payload`` with the text of each span (an image's data URI, inside a JSON string) cut
    out for the JSON text of a token, so parsing it never copies megabytes of base64 again;
    ``None`` when a span is not where a URI starts."""
    pieces: list[str] = []
    at = 0
    for n, (start, end) in enumerate(spans):
        if start < at or end > len(payload) or not payload.startswith("data:image", start):
            return None
        pieces.append(payload[at:start])
        pieces.append(f"\\u0000{n}\\u0000")
        at = end
    pieces.append(payload[at:])
    return "".join(pieces)


# -- checks ------------------------------------------------------------------------------------


def _base64_problem(data: str) -> str | None:
    if len(data) % 4:
        return f"its base64 is {len(data):,} characters, not a multiple of 4 (cut off?)"
    body = data.rstrip("=")
    if len(data) - len(body) > 2 or "=" in body:
        return "its base64 has padding ('=') before its end"
    return None


def _decode(data: str, offset: int, n: int | None = None) -> bytes:
    """Bytes ``offset`` to ``offset + n`` (to the end when ``n`` is None) of base64 ``data``."""
    start = offset // 3 * 4
    stop = len(data) if n is None else -(-(offset + n) // 3) * 4
    raw = binascii.a2b_base64(data[start:stop])
    skip = offset - start // 4 * 3
    return raw[skip : None if n is None else skip + n]


def _inspect(data: str, size: int) -> str:
    """The core's own check of image inputs, on the head and tail of the base64 (the middle
    only if the check asks): the MIME type, or ImageError saying why not."""
    from r1v4._images._sniff import inspect

    head, tail = _decode(data, 0, _HEAD), _decode(data, max(0, size - _TAIL))
    mime: str = inspect(
        head, tail, size, "generated image", sys.maxsize, lambda at, n: _decode(data, at, n)
    )
    return mime


def _pixels(mime: str, data: str) -> tuple[int, int] | None:
    from r1v4._images._sniff import pixel_size

    dims: tuple[int, int] | None = pixel_size(mime, lambda at, n: _decode(data, at, n))
    if dims is not None:
        return dims
    try:  # a header the core's reader does not know: Pillow, when it is installed
        image_module = importlib.import_module("PIL.Image")
        with image_module.open(io.BytesIO(binascii.a2b_base64(data))) as img:
            return int(img.width), int(img.height)
    except Exception:  # no Pillow, or it cannot tell either
        return None
