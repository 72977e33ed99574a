"""Typed access to the parts of an R1V4 reply that live in metadata."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import BaseMessage

from r1v4 import PlanStep, Source

__all__ = ["get_plan", "get_sources"]


def get_plan(message: BaseMessage) -> list[PlanStep] | None:
    """The planner's steps (``skywork/r1v4-vl-planner-lite``), or ``None`` if the reply has no plan.

    Each step's ``parameters`` is already parsed from the JSON string the model writes. Works on
    ``invoke`` results and on aggregated stream chunks, and as the last step of a chain::

        steps = (prompt | ChatR1V4(model="skywork/r1v4-vl-planner-lite") | get_plan).invoke(...)
    """
    steps = message.response_metadata.get("plan")
    if steps is None:
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


def get_sources(message: BaseMessage) -> list[Source]:
    """The web pages and images the server's searches returned (deep-research mode)."""
    out: list[Source] = []
    for item in message.response_metadata.get("sources") or ():
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


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
