"""Typed access to the parts of an R1V4 reply that live in metadata."""

from __future__ import annotations

from langchain_core.messages import BaseMessage

from r1v4 import GeneratedImage, PlanStep, Source
from r1v4._integrations import image_from_dict, plan_from_dicts, sources_from_dicts

__all__ = ["get_images", "get_plan", "get_sources"]


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


def get_images(message: BaseMessage) -> list[GeneratedImage]:
    """The images the server's tools generated while it worked (crops, zooms), in order.

    Each has ``mime_type``, ``size``, ``width``/``height``, the ``tool_call_id`` of the
    ``server_tool_call`` that made it, and its bytes in ``data``::

        for image in get_images(llm.invoke([message_with_a_picture])):
            Path(f"{image.id}.png").write_bytes(image.data)

    Works on ``invoke`` results and aggregated stream chunks, v0 and v1 alike.
    """
    items = message.additional_kwargs.get("generated_images") or ()
    found = (image_from_dict(d, n) for n, d in enumerate(items) if isinstance(d, dict))
    return [image for image in found if image is not None]
