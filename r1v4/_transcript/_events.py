"""The typed events :class:`~r1v4.TranscriptParser` turns R1V4's transcript into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "AnswerDelta",
    "ClientToolCall",
    "InvalidClientToolCall",
    "Plan",
    "PlanStep",
    "ReasoningDelta",
    "ServerToolCall",
    "ServerToolResult",
    "Source",
    "TranscriptEvent",
    "TranscriptIssue",
]


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
)
