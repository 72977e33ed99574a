"""The typed events :class:`~r1v4.TranscriptParser` turns R1V4's transcript into."""

from __future__ import annotations

import base64 as _b64
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "TOOL_NAMES",
    "AnswerDelta",
    "ClientToolCall",
    "GeneratedImage",
    "InvalidClientToolCall",
    "Plan",
    "PlanStep",
    "ReasoningDelta",
    "ServerToolCall",
    "ServerToolResult",
    "Source",
    "TranscriptEvent",
    "TranscriptIssue",
    "image_ref_id",
    "server_call_id",
]


TOOL_NAMES = frozenset({"code", "text_search", "image_search", "web_content"})
"""The tools R1V4 calls by name in its transcripts (``r1v4.tools`` runs them)."""


def server_call_id(index: int) -> str:
    """The id a server tool call and its result share (``srvtool_0``, ``srvtool_1``, …)."""
    return f"srvtool_{index}"


def image_ref_id(index: int) -> str:
    """The id of the ``index``-th image the server generated (``srvimg_0``, …)."""
    return f"srvimg_{index}"


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning text (from ``<think>``)."""

    text: str


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """A piece of answer text (from ``<answer>`` or outside every tag)."""

    text: str


@dataclass(frozen=True, slots=True)
class ServerToolCall:
    """A tool the hosted agent ran itself (a trace, never for the caller to execute).

    ``tag`` is ``"tool_call"`` or the deep-research tag; ``arguments`` is the parsed JSON
    ``arguments`` of a ``<tool_call>``, ``{"query": …}``/``{"url": …}``/``{"code": …}`` for the
    deep-research tags; ``index`` counts server calls from 0.
    """

    name: str
    arguments: Any
    raw: str
    tag: str
    index: int


@dataclass(frozen=True, slots=True)
class Source:
    """A web page or image a search returned."""

    title: str | None
    url: str | None
    snippet: str | None
    image_url: str | None
    kind: Literal["web", "image"]


@dataclass(frozen=True, slots=True)
class ServerToolResult:
    """An ``<observation>``: parsed JSON ``content`` (else its text) and the call it answers."""

    content: Any
    raw: str
    call_index: int | None = None
    name: str | None = None
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One planner step; ``parameters`` parsed from its JSON string when possible."""

    description: str
    tool_name: str
    parameters: Any
    raw_parameters: Any


@dataclass(frozen=True, slots=True)
class Plan:
    """A ``<plan>`` block."""

    steps: tuple[PlanStep, ...]
    raw: str


@dataclass(frozen=True, slots=True)
class ClientToolCall:
    """A call of a tool the caller bound: ``arguments`` is compact JSON text of an object."""

    name: str
    arguments: str
    index: int
    id: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidClientToolCall:
    """A call meant for the caller's tools that could not be read."""

    name: str | None
    raw: str
    error: str
    index: int


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """An image the hosted agent made while it worked (a crop or zoom from its code tool).

    The server streams it as a ``data:image/…;base64,…`` URI inside an observation; in that
    observation's parsed ``content`` it is replaced by ``{"type": "image", "id": id}``.

    Attributes:
        id: ``srvimg_<index>``, the id the observation's reference uses.
        mime_type: from the image's magic bytes (never the URI's declared type).
        size: bytes of the decoded image.
        width: pixels, read from the image's header (by Pillow, when it is installed, for a
            header the core's reader cannot tell); ``None`` when unknown. Likewise ``height``.
        tool_call_id: the id of the server tool call that produced it (``srvtool_<n>``),
            ``None`` for an observation that answers no call.
        index: its position among the images of the reply, from 0, in trajectory order.
        base64: the image as base64 text (no line breaks); see also :attr:`data`,
            :attr:`data_uri`.
    """

    id: str
    mime_type: str
    size: int
    width: int | None
    height: int | None
    tool_call_id: str | None
    index: int
    base64: str = field(repr=False)

    @property
    def data(self) -> bytes:
        """The image's bytes, decoded on each access (keep the result if you need it twice)."""
        return _b64.b64decode(self.base64)

    @property
    def data_uri(self) -> str:
        """``data:<mime_type>;base64,<base64>``, as an image input of a next request takes it."""
        return f"data:{self.mime_type};base64,{self.base64}"


@dataclass(frozen=True, slots=True)
class TranscriptIssue:
    """Something malformed in the transcript; ``text`` is the raw text concerned."""

    kind: str
    text: str
    detail: str


TranscriptEvent: TypeAlias = (
    ReasoningDelta
    | AnswerDelta
    | ServerToolCall
    | ServerToolResult
    | Plan
    | ClientToolCall
    | InvalidClientToolCall
    | TranscriptIssue
    | GeneratedImage
)
"""Any event the transcript parser emits."""
