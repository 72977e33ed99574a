"""One case's outcome as a JSON-safe record: what ``r1v4 batch`` writes and ``r1v4 report`` reads.

A record is one line of a results file::

    {"format": "r1v4.batch/1", "id", "line", "status": "ok"|"failed", "case", "question", "images",
     "model", "enable_search", "builtin_tools", "answer", "reasoning", "raw_content",
     "finish_reason",
     "tool_trace": [{"id", "name", "tag", "args", "output", "sources"}], "sources", "plan",
     "transcript_issues", "stats": {"rounds", "tools_used", "has_final_answer"}, "usage",
     "timings", "error": null | {"type", "status_code", "code", "message", "request_id",
     "partial_content", "partial_reasoning"},
     "generated_images": [{"path" | "data_uri", "id", "mime_type", "size", "width", "height",
                           "tool_call_id", "index", "sha256"}]}

The images the server's tools generated are the core's :class:`r1v4.GeneratedImage` events:
``r1v4 batch`` writes each to a file beside the results (``path``, relative to the results
file), and the trace and ``raw_content`` keep no base64 of them: an observation's ``output``
holds the core's ``{"type": "image", "id": ...}`` reference (the entry with that ``id``),
``raw_content`` a ``[generated image omitted]`` placeholder. Records written before the core
had these events keep each image inline in its observation (and ``bytes`` for ``size``); they
read the same.

``builtin_tools`` is true when the client ran R1V4's tools (``r1v4 batch --builtin-tools``,
for a self-hosted server): the trace's calls ran on the batch's machine, and ``usage`` sums
the rounds' requests, each of which sends the conversation so far again. Records written
before the field read as false.

``stats`` are the vendor's round statistics (``parse_utils.get_round_statistics``): a round is
one server tool call with its observation, ``tools_used`` lists each call's tool name in order.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from r1v4 import (
    AnswerDelta,
    AssistantMessage,
    ChatCompletion,
    Choice,
    GeneratedImage,
    R1V4Error,
    ReasoningDelta,
    parse_transcript,
)
from r1v4._integrations import Trace

__all__ = [
    "FORMAT",
    "ReportError",
    "error_record",
    "from_vendor_line",
    "generated_images",
    "image_record",
    "numbered_records",
    "read_numbered_records",
    "read_records",
    "record_of",
    "reply_fields",
    "round_stats",
]

FORMAT = "r1v4.batch/1"

log = logging.getLogger("r1v4.report")


class ReportError(ValueError):
    """A record that cannot be shown as written (the message names its file and line)."""


def generated_images(reply: ChatCompletion) -> list[GeneratedImage]:
    """The images the server's tools generated in ``reply``, in trajectory order (the core's
    :class:`r1v4.GeneratedImage` events; a bad one is a transcript issue instead)."""
    message = reply.choices[0].message if reply.choices else None
    return [e for e in message.events if isinstance(e, GeneratedImage)] if message else []


def image_record(
    image: GeneratedImage, *, path: str | None = None, data: bytes | None = None
) -> dict[str, Any]:
    """A record's entry for a generated image: where it is (``path`` relative to the results
    file, else the image inline as ``data_uri``) and what the core knows of it.

    ``data`` is the image's bytes when the caller has decoded them already.
    """
    data = image.data if data is None else data
    entry: dict[str, Any] = {"path": path} if path is not None else {"data_uri": image.data_uri}
    entry.update(
        id=image.id,
        mime_type=image.mime_type,
        size=image.size,
        width=image.width,
        height=image.height,
        tool_call_id=image.tool_call_id,
        index=image.index,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return entry


def _tool_trace(trace: Trace) -> list[dict[str, Any]]:
    """Each server tool call with the observation that answered it (``output`` None if none);
    a generated image stays the core's ``{"type": "image", "id": ...}`` reference there."""
    results = {r["tool_call_id"]: r for r in trace.server_tool_results if r["tool_call_id"]}
    steps = []
    for call in trace.server_tool_calls:
        result = results.get(call["id"])
        steps.append(
            {
                "id": call["id"],
                "name": call["name"],
                "tag": call["tag"],
                "args": call["args"],
                "output": result["output"] if result else None,
                "sources": result.get("sources", []) if result else [],
            }
        )
    return steps


def round_stats(tool_trace: Sequence[Mapping[str, Any]], answer: str) -> dict[str, Any]:
    """The vendor's per-reply statistics: rounds, tools used (in order), a final answer or not."""
    return {
        "rounds": len(tool_trace),
        "tools_used": [str(step.get("name")) for step in tool_trace],
        "has_final_answer": bool(answer.strip()),
    }


def reply_fields(reply: ChatCompletion) -> dict[str, Any]:
    """The record fields that come from a completed reply."""
    choice = reply.choices[0] if reply.choices else None
    message = choice.message if choice else None
    trace = Trace.of(message.events if message else ())
    answer = message.content if message else ""
    tool_trace = _tool_trace(trace)
    return {
        "response_id": reply.id,
        "answer": answer,
        "reasoning": message.reasoning if message else None,
        # The transcript as sent, but for the base64 of generated images (they are files).
        "raw_content": (message.transcript or message.raw_content) if message else "",
        "finish_reason": choice.finish_reason if choice else None,
        "tool_trace": tool_trace,
        "sources": trace.sources,
        "plan": trace.plan,
        "transcript_issues": trace.issues,
        "stats": round_stats(tool_trace, answer),
        "usage": reply.usage.to_dict() if reply.usage is not None else None,
    }


def error_record(exc: BaseException) -> dict[str, Any]:
    """The typed error of a failed case, with the text streamed before it failed."""
    if isinstance(exc, R1V4Error):
        return {
            "type": type(exc).__name__,
            "status_code": exc.status_code,
            "code": exc.code,
            "message": exc.message,
            "request_id": exc.request_id,
            "partial_content": exc.partial_content,
            "partial_reasoning": exc.partial_reasoning,
        }
    return {
        "type": type(exc).__name__,
        "status_code": None,
        "code": None,
        "message": str(exc) or type(exc).__name__,
        "request_id": None,
        "partial_content": "",
        "partial_reasoning": "",
    }


def from_vendor_line(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """A line of the vendor's batch scripts (``{"image", "question", "response":
    {"full_response"} | {"error"}}``) as a record, its transcript parsed by the core."""
    response = data.get("response")
    if not isinstance(response, Mapping) or not isinstance(data.get("question"), str):
        return None
    text = response.get("full_response")
    text = text if isinstance(text, str) else ""
    events = parse_transcript(text)
    message = AssistantMessage(
        content="".join(e.text for e in events if isinstance(e, AnswerDelta)),
        reasoning="".join(e.text for e in events if isinstance(e, ReasoningDelta)) or None,
        events=events,
        raw_content=text,
    )
    reply = ChatCompletion("", "", 0, [Choice(0, message, None)])
    fields = reply_fields(reply)
    image = data.get("image")
    error = response.get("error")
    return {
        "format": "vendor",
        "id": name,
        "status": "failed" if error else "ok",
        "case": dict(data),
        "question": data["question"],
        "images": [image] if isinstance(image, str) and image.strip() else [],
        "model": None,
        **fields,
        "error": {"type": "error", "message": str(error)} if error else None,
        "generated_images": [image_record(found) for found in generated_images(reply)],
    }


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str)


def record_of(line: bytes) -> dict[str, Any] | None:
    """The result record one line holds (a JSON object with a string ``id``), else ``None``."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if _is_record(value) else None


def numbered_records(
    data: bytes, source: Path, *, vendor: bool = False
) -> list[tuple[int, dict[str, Any]]]:
    """The records in whole lines of a results file with their line numbers (a line that is
    not one is logged); with ``vendor``, lines of the vendor's batch scripts are read too."""
    records = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("%s:%d: not a JSON line, ignored", source, number)
            continue
        if isinstance(record, dict) and "id" not in record and vendor:
            record = from_vendor_line(record, f"{source.name}:{number}")
        if _is_record(record):
            records.append((number, record))
        else:
            log.warning("%s:%d: not a result record, ignored", source, number)
    return records


def read_numbered_records(
    path: str | Path, *, vendor: bool = False
) -> list[tuple[int, dict[str, Any]]]:
    """Every whole record of a results file with its line number, in file order (a torn last
    line is skipped)."""
    path = Path(path)
    data = path.read_bytes()
    if not data.endswith(b"\n") and not vendor:
        data = data[: data.rfind(b"\n") + 1]
    return numbered_records(data, path, vendor=vendor)


def read_records(path: str | Path, *, vendor: bool = False) -> list[dict[str, Any]]:
    """Every whole record of a results file, in file order (a torn last line is skipped)."""
    return [record for _, record in read_numbered_records(path, vendor=vendor)]
