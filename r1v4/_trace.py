"""R1V4's server-side trace as plain data, for both adapters.

LangChain and LlamaIndex each put the trace in their own places (content blocks, metadata,
``additional_kwargs``), but the JSON-safe shape of each event is the same, so it is made here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from r1v4._transcript import (
    GeneratedImage,
    Plan,
    PlanStep,
    ServerToolCall,
    ServerToolResult,
    Source,
    TranscriptEvent,
    TranscriptIssue,
)
from r1v4._transcript._events import image_ref_id, server_call_id

__all__ = [
    "Trace",
    "event_to_dict",
    "image_from_dict",
    "image_refs",
    "image_to_dict",
    "plan_from_dicts",
    "plan_to_dicts",
    "server_call_id",
    "source_from_dict",
    "source_to_dict",
    "sources_from_dicts",
]


def source_to_dict(source: Source) -> dict[str, Any]:
    """A search source as plain data (what :func:`source_from_dict` reads back)."""
    out: dict[str, Any] = {"kind": source.kind, "title": source.title, "url": source.url}
    if source.snippet is not None:
        out["snippet"] = source.snippet
    if source.image_url is not None:
        out["image_url"] = source.image_url
    return out


def plan_to_dicts(plan: Plan) -> list[dict[str, Any]]:
    """A plan's steps as plain data (what :func:`plan_from_dicts` reads back)."""
    return [
        {
            "description": s.description,
            "tool_name": s.tool_name,
            "parameters": s.parameters,
            "raw_parameters": s.raw_parameters,
        }
        for s in plan.steps
    ]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def source_from_dict(data: dict[str, Any]) -> Source:
    """The inverse of :func:`source_to_dict`, tolerant of dicts a memory store round-tripped."""
    kind: Literal["web", "image"] = "image" if data.get("kind") == "image" else "web"
    return Source(
        title=_str(data.get("title")),
        url=_str(data.get("url")),
        snippet=_str(data.get("snippet")),
        image_url=_str(data.get("image_url")),
        kind=kind,
    )


def sources_from_dicts(items: Any) -> list[Source]:
    """Typed sources from a list of :func:`source_to_dict` dicts (anything else is skipped)."""
    return [source_from_dict(i) for i in items or () if isinstance(i, dict)]


def image_to_dict(image: GeneratedImage) -> dict[str, Any]:
    """A generated image as JSON-safe data: the fields of a standard ``image`` content block
    (``type``, ``id``, ``base64``, ``mime_type``) and the rest of :class:`GeneratedImage`."""
    return {
        "type": "image",
        "id": image.id,
        "base64": image.base64,
        "mime_type": image.mime_type,
        "size": image.size,
        "width": image.width,
        "height": image.height,
        "tool_call_id": image.tool_call_id,
        "index": image.index,
    }


def image_from_dict(data: dict[str, Any], index: int = 0) -> GeneratedImage | None:
    """The inverse of :func:`image_to_dict` (``None`` without base64); ``index`` stands in for
    a missing one."""
    b64 = data.get("base64")
    if not isinstance(b64, str) or not b64:
        return None
    n = data.get("index")
    n = n if isinstance(n, int) else index
    width, height, size = data.get("width"), data.get("height"), data.get("size")
    return GeneratedImage(
        id=_str(data.get("id")) or image_ref_id(n),
        mime_type=_str(data.get("mime_type")) or "application/octet-stream",
        size=size if isinstance(size, int) else len(b64) // 4 * 3 - b64[-2:].count("="),
        width=width if isinstance(width, int) else None,
        height=height if isinstance(height, int) else None,
        tool_call_id=_str(data.get("tool_call_id")),
        index=n,
        base64=b64,
    )


def image_refs(output: Any) -> list[str]:
    """The ids of the ``{"type": "image", "id": ...}`` references in an observation's parsed
    output, in order."""
    found: list[str] = []
    stack = [output]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if (
                value.get("type") == "image"
                and isinstance(value.get("id"), str)
                and len(value) == 2
            ):
                found.append(value["id"])
            else:
                stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return found


def plan_from_dicts(steps: Any) -> list[PlanStep] | None:
    """Typed plan steps from :func:`plan_to_dicts` output; ``None`` when there is no plan."""
    if not isinstance(steps, list):
        return None
    return [
        PlanStep(
            description=str(step.get("description") or ""),
            tool_name=str(step.get("tool_name") or ""),
            parameters=step.get("parameters"),
            raw_parameters=step.get("raw_parameters", step.get("parameters")),
        )
        for step in steps
        if isinstance(step, dict)
    ]


def event_to_dict(event: TranscriptEvent) -> dict[str, Any] | None:
    """A JSON-safe dict for a trace event (``None`` for answer/reasoning deltas and client
    tool calls, valid or not, which are not trace)."""
    if isinstance(event, ServerToolCall):
        return {
            "type": "server_tool_call",
            "id": server_call_id(event.index),
            "name": event.name,
            "args": event.arguments,
            "tag": event.tag,
        }
    if isinstance(event, ServerToolResult):
        out: dict[str, Any] = {
            "type": "server_tool_result",
            "tool_call_id": server_call_id(event.call_index)
            if event.call_index is not None
            else None,
            "name": event.name,
            "output": event.content,
        }
        if event.sources:
            out["sources"] = [source_to_dict(s) for s in event.sources]
        return out
    if isinstance(event, GeneratedImage):
        return image_to_dict(event)
    if isinstance(event, Plan):
        return {"type": "plan", "steps": plan_to_dicts(event), "raw": event.raw}
    if isinstance(event, TranscriptIssue):
        return {
            "type": "transcript_issue",
            "kind": event.kind,
            "text": event.text,
            "detail": event.detail,
        }
    return None


@dataclass(slots=True)
class Trace:
    """Everything the server's agent did in one reply, gathered from its events."""

    server_tool_calls: list[dict[str, Any]] = field(default_factory=list)
    server_tool_results: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)

    def add(self, events: Iterable[TranscriptEvent]) -> None:
        """Add the server's part of ``events`` (other events are ignored)."""
        for event in events:
            data = event_to_dict(event)
            if data is None:
                continue
            kind = data["type"]
            if kind == "server_tool_call":
                self.server_tool_calls.append(data)
            elif kind == "server_tool_result":
                self.server_tool_results.append(data)
                self.sources.extend(data.get("sources", ()))
            elif kind == "image":
                self.images.append(data)
            elif kind == "plan":
                self.plan = data["steps"]
            elif kind == "transcript_issue":
                self.issues.append(data)

    @classmethod
    def of(cls, events: Iterable[TranscriptEvent]) -> Trace:
        """The trace of ``events``."""
        trace = cls()
        trace.add(events)
        return trace

    def __bool__(self) -> bool:
        return bool(
            self.server_tool_calls
            or self.server_tool_results
            or self.images
            or self.plan is not None
            or self.issues
        )

    def to_dict(self) -> dict[str, Any]:
        """Only the non-empty parts, so a plain reply adds nothing to metadata."""
        out: dict[str, Any] = {}
        if self.server_tool_calls:
            out["server_tool_calls"] = self.server_tool_calls
        if self.server_tool_results:
            out["server_tool_results"] = self.server_tool_results
        if self.sources:
            out["sources"] = self.sources
        if self.images:
            out["generated_images"] = self.images
        if self.plan is not None:
            out["plan"] = self.plan
        if self.issues:
            out["transcript_issues"] = self.issues
        return out
