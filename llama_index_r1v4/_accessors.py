"""Typed access to the parts of an R1V4 reply that live in ``additional_kwargs``.

The dicts are the core's JSON shapes (``r1v4.plan_to_dicts``, ``r1v4.source_to_dict``), kept
JSON-safe on the message so memory stores can persist it; these turn them back into the core's
types. (The LangChain adapter does the same from its metadata: a candidate for the core.)
"""

from __future__ import annotations

from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from r1v4 import PlanStep, Source

__all__ = ["get_plan", "get_sources"]

Reply = ChatResponse | CompletionResponse | ChatMessage


def get_plan(reply: Reply) -> list[PlanStep] | None:
    """The planner's steps (``skywork/r1v4-vl-planner-lite``), or ``None`` without a plan.

    Each step's ``parameters`` is already parsed from the JSON string the planner writes. Takes
    a ``ChatResponse`` (also the last one of a stream), a ``CompletionResponse`` or the
    ``ChatMessage`` itself, as stored in memory.
    """
    steps = _kwargs(reply).get("plan")
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


def get_sources(reply: Reply) -> list[Source]:
    """The web pages and images the server's searches returned (deep-research mode)."""
    out: list[Source] = []
    for item in _kwargs(reply).get("sources") or ():
        if not isinstance(item, dict):
            continue
        kind: Literal["web", "image"] = "image" if item.get("kind") == "image" else "web"
        out.append(
            Source(
                title=_str(item.get("title")),
                url=_str(item.get("url")),
                snippet=_str(item.get("snippet")),
                image_url=_str(item.get("image_url")),
                kind=kind,
            )
        )
    return out


def _kwargs(reply: Reply) -> dict[str, Any]:
    if isinstance(reply, ChatResponse):
        return reply.message.additional_kwargs
    return reply.additional_kwargs


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
