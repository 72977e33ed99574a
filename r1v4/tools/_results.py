"""What running one R1V4 tool gives back: the observation R1V4 reads and the images it made."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from r1v4._images._sniff import inspect, pixel_size
from r1v4._transcript import TranscriptEvent, parse_transcript

__all__ = ["ToolImage", "ToolResult", "ToolStatus", "dumps"]


def dumps(value: Any) -> str:
    """``value`` as the JSON of a tag's payload: ``</`` written ``<\\/`` (the same JSON), so no
    text inside can close the tag early."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


ToolStatus: TypeAlias = Literal[
    "ok", "error", "timeout", "cpu_limit", "output_limit", "killed", "unavailable"
]
"""How a tool run ended.

``ok``: it ran (code exited with status 0, a search answered). ``error``: the code raised or
exited non-zero, a backend raised, or the call could not be read. ``timeout``: the wall-time
limit stopped the code. ``cpu_limit``, ``output_limit``: that limit stopped it. ``killed``: a
signal ended it (the kernel's, as when memory ran out in native code). ``unavailable``: no
executor or backend is configured for the tool. In every case the observation says so in words.
"""


@dataclass(frozen=True, slots=True)
class ToolImage:
    """An image a tool made (a file the model's code saved), checked like any image input.

    Attributes:
        name: the file's path relative to the code's working directory.
        mime_type: from the image's magic bytes, never the file name.
        data: the image's bytes.
        width: pixels, from the image header (``None`` when the header does not tell).
        height: likewise.
    """

    name: str
    mime_type: str
    data: bytes = field(repr=False)
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_bytes(cls, name: str, data: bytes, max_bytes: int | None = None) -> ToolImage:
        """The image ``data`` holds, checked (format from its bytes, not truncated).

        Raises:
            ImageError: ``data`` is not a whole JPEG, PNG, GIF, WebP or BMP image, or is bigger
                than ``max_bytes``.
        """
        view = memoryview(data)

        def read_at(at: int, n: int) -> bytes:
            return bytes(view[at : at + n])

        size = len(data)
        mime = inspect(
            bytes(view[:4096]),
            bytes(view[max(0, size - 65536) :]),
            size,
            f"image {name!r}",
            size if max_bytes is None else max_bytes,
            read_at,
        )
        dims = pixel_size(mime, read_at)
        return cls(name, mime, bytes(data), *(dims or (None, None)))

    @property
    def base64(self) -> str:
        """The image as base64 text (no line breaks)."""
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_uri(self) -> str:
        """``data:<mime_type>;base64,<data>``: what an observation holds and a request takes."""
        return f"data:{self.mime_type};base64,{self.base64}"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One R1V4 tool call, run by the client.

    Attributes:
        name: the tool (``code``, ``text_search``, ``image_search``, ``web_content``, or what
            the call named when no such tool exists).
        arguments: the call's arguments as read (a dict, or the raw text when unreadable).
        observation: the JSON text R1V4 reads inside ``<observation>…</observation>``, in the
            shapes of its published transcripts: ``{"result": …, "type": "code"}`` (plus
            ``"images": [data URIs]`` when the code saved images), a list of
            ``{"title", "url", "snippet"}`` for ``text_search``, of ``{"title", "source",
            "link"}`` for ``image_search``, ``[{"url", "title", "content"}]`` for
            ``web_content``. A run that failed or had no backend is ``{"result": <what
            happened, in words>, "type": <tool>}``. ``</`` is written ``<\\/`` (the same JSON),
            so no output can close the tag early.
        images: the images the code saved, in the order of the observation's ``images``.
        status: how the run ended (see :data:`ToolStatus`).
    """

    name: str
    arguments: Any
    observation: str
    images: tuple[ToolImage, ...] = ()
    status: ToolStatus = "ok"

    @property
    def ok(self) -> bool:
        """Whether the tool ran and answered (``status == "ok"``)."""
        return self.status == "ok"

    @property
    def observation_tag(self) -> str:
        """``<observation>…</observation>``: the text that answers the call in a transcript."""
        return f"<observation>{self.observation}</observation>"

    @property
    def transcript(self) -> str:
        """The call and its observation as a hosted transcript writes them."""
        call = dumps({"name": self.name, "arguments": self.arguments})
        return f"<tool_call>{call}</tool_call>\n{self.observation_tag}\n"

    def events(self) -> list[TranscriptEvent]:
        """The events a hosted trajectory with this call and observation parses into:
        a ``ServerToolCall``, a ``GeneratedImage`` per image, the ``ServerToolResult`` (with
        search ``sources``). Ids and indexes count from 0, as in a reply of this call alone;
        a transcript that spans rounds feeds :attr:`observation_tag` to its own parser."""
        return parse_transcript(self.transcript)
