"""The images the server's tools generated, as LlamaIndex ``ImageBlock`` s.

They live in ``additional_kwargs["generated_images"]``, beside the rest of the server's trace,
never in the message's blocks: the answer text stays the answer, and a reply sent back as
history never sends them to the server again.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ImageBlock

from r1v4 import GeneratedImage
from r1v4._integrations import image_from_dict

__all__ = ["GeneratedImageBlock", "image_block", "to_generated_image"]


class GeneratedImageBlock(ImageBlock):
    """An ``ImageBlock`` (``image`` holds the base64 bytes, ``image_mimetype`` the type) that
    also says where it came from: ``id`` (``srvimg_<n>``, as the observation's output refers
    to it), ``tool_call_id`` of the server tool call that made it, ``index``, ``size`` in bytes
    and ``width``/``height`` in pixels when known."""

    id: str = ""
    tool_call_id: str | None = None
    index: int = 0
    size: int = 0
    width: int | None = None
    height: int | None = None


def image_block(data: dict[str, Any]) -> GeneratedImageBlock:
    """The block for one of the core's generated-image dicts (values already checked)."""
    return GeneratedImageBlock.model_construct(
        block_type="image",
        image=str(data.get("base64") or "").encode("ascii"),
        path=None,
        url=None,
        image_mimetype=data.get("mime_type"),
        detail=None,
        id=data.get("id") or "",
        tool_call_id=data.get("tool_call_id"),
        index=data.get("index") or 0,
        size=data.get("size") or 0,
        width=data.get("width"),
        height=data.get("height"),
    )


def to_generated_image(item: Any, n: int) -> GeneratedImage | None:
    """A block, or the dict a memory store turned it into, as the core's image."""
    data = item.model_dump() if isinstance(item, ImageBlock) else item
    if not isinstance(data, dict):
        return None
    raw = data.get("image")
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str):
        return None
    if raw.startswith("data:"):
        raw = raw.partition(",")[2]
    fields = {**data, "base64": raw, "mime_type": data.get("image_mimetype")}
    if not fields.get("size"):
        fields.pop("size", None)  # worked out from the base64 instead
    return image_from_dict(fields, n)
