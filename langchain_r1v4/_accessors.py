"""Typed access to the parts of an R1V4 reply that live in metadata."""

from __future__ import annotations

from langchain_core.messages import BaseMessage

from r1v4 import PlanStep, Source, plan_from_dicts, sources_from_dicts

__all__ = ["get_plan", "get_sources"]


def get_plan(message: BaseMessage) -> list[PlanStep] | None:
    """The planner's steps (``skywork/r1v4-vl-planner-lite``), or ``None`` if the reply has no plan.

    Each step's ``parameters`` is already parsed from the JSON string the model writes. Works on
    ``invoke`` results and on aggregated stream chunks, and as the last step of a chain::

        steps = (prompt | ChatR1V4(model="skywork/r1v4-vl-planner-lite") | get_plan).invoke(...)
    """
    return plan_from_dicts(message.response_metadata.get("plan"))


def get_sources(message: BaseMessage) -> list[Source]:
    """The web pages and images the server's searches returned (deep-research mode)."""
    return sources_from_dicts(message.response_metadata.get("sources"))
