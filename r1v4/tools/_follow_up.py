"""The message that carries a tool's observation back to R1V4 on a self-hosted server.

R1V4's training format for this turn is not published. The hosted transcripts put the
observation right after the call, as ``<observation>…</observation>``, and R1V4 is built on
Qwen3-VL, whose chat format gives a tool's answer to the model in a user turn that may hold
images. So the default is one user message: the observation tag, its JSON with each image the
code saved named instead of inlined (base64 as text would cost the model tokens and show it no
picture), then those images as image parts, in the same order, which the model sees as images.
``R1V4Tools(observation_message=...)`` replaces it.
"""

from __future__ import annotations

import json
from typing import Any

from r1v4.tools._results import ToolResult, dumps

__all__ = ["observation_message"]


def observation_message(result: ToolResult) -> dict[str, Any]:
    """The default message that answers an R1V4 tool call with its observation.

    Args:
        result: the tool's run.

    Returns:
        An OpenAI-format user message: ``{"role": "user", "content": [{"type": "text",
        "text": "<observation>…</observation>"}, {"type": "image_url", "image_url":
        {"url": <data URI>}}, …]}``. In the observation's JSON, ``"images"`` lists the images'
        file names (``"crop.png"``); the images follow as image parts in that order. A result
        without images is the text part alone.
    """
    text = result.observation
    if result.images:
        text = _named_images(text, result)
    content: list[dict[str, Any]] = [{"type": "text", "text": f"<observation>{text}</observation>"}]
    content += [{"type": "image_url", "image_url": {"url": im.data_uri}} for im in result.images]
    return {"role": "user", "content": content}


def _named_images(observation: str, result: ToolResult) -> str:
    try:
        data = json.loads(observation)
    except ValueError:
        return observation
    if isinstance(data, dict) and isinstance(data.get("images"), list):
        data["images"] = [im.name for im in result.images]
        return dumps(data)
    return observation
