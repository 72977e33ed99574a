"""Standard v1 content blocks for R1V4 messages (provider ``"skywork"``).

LangChain asks the translator registered for ``response_metadata["model_provider"]`` for a
message's ``content_blocks``; that is what ``output_version="v1"``, ``stream_events(version="v3")``
and ``message.content_blocks`` all read. Without it the server's trace would be invisible there,
so this module derives the blocks from the v0 layout written by ``_outputs``:

``reasoning`` -> each ``server_tool_call`` followed by its ``server_tool_result`` blocks -> the
plan as a ``non_standard`` block ``{"type": "plan", "steps": [...]}`` -> ``text`` (with
``citation`` annotations for the deep-research sources) -> ``tool_call`` (or, on a chunk,
``tool_call_chunk``) blocks.

Images the server's tools generated are standard ``image`` blocks (``base64``, ``mime_type``)
inside the ``server_tool_result`` of the call that made them: its ``output`` is then the list
``[image, ..., observation]`` (the observation refers to each image by ``id``). A v0 stream
sends each image on the chunk where it completes, before its observation: that chunk's blocks
show it as a standalone ``image`` block (with ``extras["tool_call_id"]``).

Block indices: server blocks carry their own string index (``"srvtool_0"``,
``"srvtool_0_result"``), which LangChain never merges, since each arrives whole; tool-call
chunks carry ``"lc_tc_<n>"``, which LangChain merges by equality, so pieces of one call join and
never collide with the integer indices LangChain gives text and reasoning blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import register_translator

from langchain_r1v4._outputs import PROVIDER
from r1v4._integrations import image_refs

__all__ = ["register"]


def _server_call(call: dict[str, Any]) -> types.ServerToolCall:
    args = call.get("args")
    block = types.ServerToolCall(
        type="server_tool_call",
        id=str(call.get("id") or ""),
        name=str(call.get("name") or ""),
        # The standard block wants an object; a deep-research query already is one, a call
        # whose JSON could not be read keeps its text under "arguments".
        args=args if isinstance(args, dict) else {"arguments": args},
        index=str(call.get("id") or ""),
    )
    if call.get("tag"):
        block["extras"] = {"tag": call["tag"]}
    return block


def _image_block(image: dict[str, Any]) -> types.ImageContentBlock:
    block = types.ImageContentBlock(
        type="image",
        id=str(image.get("id") or ""),
        base64=str(image.get("base64") or ""),
        mime_type=str(image.get("mime_type") or ""),
    )
    extras = {
        k: image[k]
        for k in ("tool_call_id", "size", "width", "height", "index")
        if image.get(k) is not None
    }
    if extras:
        block["extras"] = extras
    return block


def _server_result(
    result: dict[str, Any], n: int, images: dict[str, dict[str, Any]]
) -> types.ServerToolResult:
    call_id = result.get("tool_call_id") or ""
    output = result.get("output")
    index = f"{call_id}_result" if call_id else f"srvtool_orphan_result_{n}"
    mine = [images.pop(i) for i in image_refs(output) if i in images] if images else []
    if mine:
        output = [*map(_image_block, mine), output]
    block = types.ServerToolResult(
        type="server_tool_result",
        tool_call_id=call_id,
        status="success",
        output=output,
        index=index,
    )
    extras: dict[str, Any] = {}
    if result.get("name"):
        extras["name"] = result["name"]
    if result.get("sources"):
        extras["sources"] = result["sources"]
    if extras:
        block["extras"] = extras
    return block


def _trace_blocks(message: AIMessage) -> list[types.ContentBlock]:
    calls = message.additional_kwargs.get("server_tool_calls") or ()
    results = message.additional_kwargs.get("server_tool_results") or ()
    images = {
        str(i.get("id")): i
        for i in message.additional_kwargs.get("generated_images") or ()
        if isinstance(i, dict)
    }
    by_call: dict[str, list[dict[str, Any]]] = {}
    loose: list[dict[str, Any]] = []
    for result in results:
        call_id = result.get("tool_call_id")
        if call_id:
            by_call.setdefault(call_id, []).append(result)
        else:
            loose.append(result)
    blocks: list[types.ContentBlock] = []
    n = 0
    for call in calls:
        blocks.append(_server_call(call))
        for result in by_call.pop(str(call.get("id")), ()):
            blocks.append(_server_result(result, n, images))
            n += 1
    # Results whose call came in an earlier chunk, and observations with no call at all.
    for rest in (*by_call.values(), loose):
        for result in rest:
            blocks.append(_server_result(result, n, images))
            n += 1
    # Images whose observation is not in this message (a v0 stream chunk) stand alone.
    for image in images.values():
        block = _image_block(image)
        block["index"] = str(image.get("id") or "")
        blocks.append(block)
    return blocks


def _citations(sources: Iterable[dict[str, Any]]) -> list[types.Annotation]:
    out: list[types.Annotation] = []
    for source in sources:
        citation = types.Citation(type="citation")
        if source.get("url"):
            citation["url"] = source["url"]
        if source.get("title"):
            citation["title"] = source["title"]
        if source.get("snippet"):
            citation["cited_text"] = source["snippet"]
        extras = {k: source[k] for k in ("kind", "image_url") if source.get(k)}
        if extras:
            citation["extras"] = extras
        out.append(citation)
    return out


def _common(message: AIMessage, last: bool) -> list[types.ContentBlock]:
    if not isinstance(message.content, str):
        # List content was not written by ChatR1V4: LangChain's best-effort parsing applies.
        raise NotImplementedError
    blocks: list[types.ContentBlock] = []
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append(types.ReasoningContentBlock(type="reasoning", reasoning=reasoning))
    kwargs = message.additional_kwargs
    if (
        "server_tool_calls" in kwargs
        or "server_tool_results" in kwargs
        or ("generated_images" in kwargs)
    ):
        blocks.extend(_trace_blocks(message))
    plan = message.response_metadata.get("plan")
    if plan is not None:
        # No standard block holds a plan; a non_standard one keeps it in v1 content and events.
        blocks.append(
            types.NonStandardContentBlock(
                type="non_standard", value={"type": "plan", "steps": plan}, index="plan"
            )
        )
    sources = message.response_metadata.get("sources")
    # A stream's sources come on its last chunk, whose empty text block merges into the answer.
    if message.content or (last and sources):
        text = types.TextContentBlock(type="text", text=message.content)
        if sources:
            text["annotations"] = _citations(sources)
        blocks.append(text)
    return blocks


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    blocks = _common(message, last=True)
    blocks.extend(
        types.ToolCall(type="tool_call", id=tc.get("id"), name=tc["name"], args=tc["args"])
        for tc in message.tool_calls
    )
    return blocks


def translate_content_chunk(message: AIMessageChunk) -> list[types.ContentBlock]:
    blocks = _common(message, last=message.chunk_position == "last")
    if message.chunk_position == "last":
        blocks.extend(
            types.ToolCall(type="tool_call", id=tc.get("id"), name=tc["name"], args=tc["args"])
            for tc in message.tool_calls
        )
    else:
        for tcc in message.tool_call_chunks:
            block = types.ToolCallChunk(
                type="tool_call_chunk", id=tcc.get("id"), name=tcc.get("name"), args=tcc.get("args")
            )
            index = tcc.get("index")
            if index is not None:
                block["index"] = f"lc_tc_{index}"
            blocks.append(block)
    return blocks


def register() -> None:
    """Register the translator (idempotent; done when ``langchain_r1v4`` is imported)."""
    register_translator(
        PROVIDER,
        cast(Any, translate_content),
        cast(Any, translate_content_chunk),
    )
