"""Typed access to the parts of an R1V4 reply that live in ``additional_kwargs``.

The dicts are the core's JSON shapes, kept JSON-safe on the message so memory stores can persist
it; the core turns them back into its types.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from r1v4 import PlanStep, Source, plan_from_dicts, sources_from_dicts

__all__ = ["get_plan", "get_sources"]

Reply = ChatResponse | CompletionResponse | ChatMessage


def get_plan(reply: Reply) -> list[PlanStep] | None:
    """The planner's steps (``skywork/r1v4-vl-planner-lite``), or ``None`` without a plan.

    Each step's ``parameters`` is already parsed from the JSON string the planner writes. Takes
    a ``ChatResponse`` (also the last one of a stream), a ``CompletionResponse`` or the
    ``ChatMessage`` itself, as stored in memory.
    """
    return plan_from_dicts(_kwargs(reply).get("plan"))


def get_sources(reply: Reply) -> list[Source]:
    """The web pages and images the server's searches returned (deep-research mode)."""
    return sources_from_dicts(_kwargs(reply).get("sources"))


def _kwargs(reply: Reply) -> dict[str, Any]:
    if isinstance(reply, ChatResponse):
        return reply.message.additional_kwargs
    return reply.additional_kwargs
