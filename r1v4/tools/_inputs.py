"""The conversation's images as the tools see them: their bytes, and the names they go by.

R1V4's published material does not say what its code calls the images (its hosted harness is
not public), so the naming is one documented convention, :data:`DEFAULT_IMAGE_NAME`, and a
setting. The name is the same whatever the image's type (a JPEG is ``image_0.png`` too): the
model cannot see the type, and Pillow reads an image by its content, not its name.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias

from r1v4._errors import ImageError, InvalidRequestError
from r1v4._images._sniff import identify
from r1v4.tools._executor import CodeFile

__all__ = [
    "DEFAULT_IMAGE_NAME",
    "ConversationImage",
    "HasData",
    "check_image_name",
    "code_files",
    "decode",
    "find",
]

DEFAULT_IMAGE_NAME = "image_{index}.png"
"""The conversation's images in the code's working directory: ``image_0.png``, ``image_1.png``,
… in the order they appear in the conversation (``{index}`` counts from 0; ``{number}`` from 1;
``{ext}`` is the type's usual extension: ``png``, ``jpg``, ``gif``, ``webp``, ``bmp``)."""


class HasData(Protocol):
    """An image object holding its bytes (:class:`~r1v4.GeneratedImage`, ``ToolImage``)."""

    @property
    def data(self) -> bytes: ...


ConversationImage: TypeAlias = "bytes | bytearray | memoryview | str | HasData"
"""An image of the conversation: its bytes, a ``data:image/…;base64,…`` URI, or an object with
a ``data`` attribute holding its bytes (a :class:`~r1v4.GeneratedImage`,
:class:`~r1v4.tools.ToolImage`)."""

_EXT = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
}
_DATA_URI = re.compile(r"data:([^;,]*)(?:;[^;,]*)*;base64,", re.IGNORECASE)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def check_image_name(template: str) -> str:
    """``template`` if it names each image distinctly with a plain file name.

    Raises:
        InvalidRequestError: it does not.
    """
    try:
        names = [template.format(index=i, number=i + 1, ext="png") for i in (0, 1)]
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidRequestError(
            f"image_name {template!r} is not a template of {{index}}, {{number}} and {{ext}}: {exc}"
        ) from None
    if names[0] == names[1] or not all(_SAFE_NAME.fullmatch(n) for n in names):
        raise InvalidRequestError(
            f"image_name {template!r} must give each image its own plain file name (letters, "
            "digits, '_', '-', '.'; no '/'; not starting with '.'), such as 'image_{index}.png'"
        )
    return template


def decode(item: ConversationImage, position: int) -> tuple[bytes, str]:
    """The bytes and MIME type of one conversation image.

    Raises:
        ImageError: it is not an image (or not one of the types a request takes).
    """
    label = f"conversation image {position}"
    data: Any = getattr(item, "data", item) if not isinstance(item, (str, bytes)) else item
    if isinstance(data, str):
        match = _DATA_URI.match(data)
        if match is None:
            raise ImageError(
                f"{label}: a tool takes images as bytes or data URIs, not {data[:40]!r}"
            )
        try:
            data = base64.b64decode(data[match.end() :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImageError(f"{label}: its base64 cannot be decoded ({exc})") from None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"{label}: expected bytes or a data URI, got {type(item).__name__}")
    raw = bytes(data)
    mime, name = identify(raw[:4096])
    if mime is None:
        raise ImageError(f"{label}: not an image of a type a request takes ({name or 'unknown'})")
    return raw, mime


def code_files(images: Sequence[ConversationImage], template: str) -> tuple[CodeFile, ...]:
    """The conversation's images as files named by ``template``."""
    files = []
    for i, item in enumerate(images):
        data, mime = decode(item, i)
        files.append(CodeFile(template.format(index=i, number=i + 1, ext=_EXT[mime]), data))
    return tuple(files)


def find(reference: str, images: Sequence[ConversationImage], template: str) -> int | None:
    """Which conversation image ``reference`` names (its file name, with or without the
    extension, as an ``image_search`` call may write it), or ``None``."""
    wanted = reference.strip().strip("'\"").rsplit("/", 1)[-1].lower()
    for i in range(len(images)):
        for ext in _EXT.values():
            name = template.format(index=i, number=i + 1, ext=ext).lower()
            if wanted in (name, name.rsplit(".", 1)[0]):
                return i
    return None
