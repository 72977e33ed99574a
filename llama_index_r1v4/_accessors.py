"""Typed access to the parts of an R1V4 reply that live in ``additional_kwargs``.

The dicts are the core's JSON shapes, kept JSON-safe on the message so memory stores can persist
it; the core turns them back into its types.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from llama_index_r1v4._images import to_generated_image
from r1v4 import GeneratedImage, PlanStep, Source
from r1v4._integrations import plan_from_dicts, sources_from_dicts

__all__ = ["get_images", "get_plan", "get_sources"]

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


def get_images(reply: Reply) -> list[GeneratedImage]:
    """The images the server's tools generated while it worked (crops, zooms), in order.

    They are the ``ImageBlock`` s in ``additional_kwargs["generated_images"]``, as the core's
    :class:`r1v4.GeneratedImage`: ``mime_type``, ``size``, ``width``/``height``, the
    ``tool_call_id`` of the server call that made it, and the bytes in ``data``. Takes the same
    replies as :func:`get_plan`, a message back from a memory store included.
    """
    items = _kwargs(reply).get("generated_images") or ()
    found = (to_generated_image(item, n) for n, item in enumerate(items))
    return [image for image in found if image is not None]


def _kwargs(reply: Reply) -> dict[str, Any]:
    if isinstance(reply, ChatResponse):
        return reply.message.additional_kwargs
    return reply.additional_kwargs
