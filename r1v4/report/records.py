"""One case's outcome as a JSON-safe record: what ``r1v4 batch`` writes and ``r1v4 report`` reads.

A record is one line of a results file::

    {"format": "r1v4.batch/1", "id", "line", "status": "ok"|"failed", "case", "question", "images",
     "model", "enable_search", "answer", "reasoning", "raw_content", "finish_reason",
     "tool_trace": [{"id", "name", "tag", "args", "output", "sources"}], "sources", "plan",
     "transcript_issues", "stats": {"rounds", "tools_used", "has_final_answer"}, "usage",
     "timings", "error": null | {"type", "status_code", "code", "message", "request_id",
     "partial_content", "partial_reasoning"}, "generated_images": [{"path", "mime_type", ...}]}

``stats`` are the vendor's round statistics (``parse_utils.get_round_statistics``): a round is
one server tool call with its observation, ``tools_used`` lists each call's tool name in order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1v4 import (
    AnswerDelta,
    AssistantMessage,
    ChatCompletion,
    Choice,
    ImageError,
    R1V4Error,
    ReasoningDelta,
    Trace,
    Usage,
    bytes_to_data_uri,
    detect_image_mime,
    parse_transcript,
)

__all__ = [
    "FORMAT",
    "FoundImage",
    "ReportError",
    "error_record",
    "find_generated_images",
    "from_vendor_line",
    "numbered_records",
    "parse_lines",
    "read_numbered_records",
    "read_records",
    "record_of",
    "reply_fields",
    "round_stats",
    "usage_dict",
]

FORMAT = "r1v4.batch/1"

log = logging.getLogger("r1v4.report")

# A base64 image data URI anywhere inside an observation string.
_DATA_URI = re.compile(r"data:(image/[A-Za-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)")


class ReportError(ValueError):
    """A record that cannot be shown as written (the message names its file and line)."""


@dataclass(frozen=True, slots=True)
class FoundImage:
    """An image the server's agent produced, found in a tool observation."""

    data: bytes
    mime_type: str
    tool_call_id: str | None
    uri: str = field(repr=False)
    """The image as the core's canonical data URI."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def data_uri(self) -> str:
        return self.uri


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def find_generated_images(tool_trace: Sequence[Mapping[str, Any]]) -> list[FoundImage]:
    """Images in the observations of the server's tool calls, as ``data:image/…;base64,`` URIs.

    Stop-gap until the core reports generated images as events of their own (issue #15's
    ``r1v4.GeneratedImage``): replace this one function with a read of those events. Anything
    that the core's image checks refuse (not a supported format, truncated) is ignored, so text
    that merely mentions a data URI is not taken for an image.
    """
    found: list[FoundImage] = []
    seen: set[bytes] = set()
    for step in tool_trace:
        for text in _strings(step.get("output")):
            for match in _DATA_URI.finditer(text):
                try:
                    data = base64.b64decode(re.sub(r"\s", "", match.group(2)), validate=True)
                except (binascii.Error, ValueError):
                    continue
                mime = detect_image_mime(data)
                if mime is None or data in seen:
                    continue
                try:
                    # No size limit: the image is here already, and only shown or saved.
                    uri = bytes_to_data_uri(data, max_bytes=max(len(data), 1))
                except ImageError:
                    continue
                seen.add(data)
                found.append(FoundImage(data, mime, step.get("id"), uri))
    return found


def usage_dict(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.reasoning_tokens
    if usage.cached_tokens is not None:
        out["cached_tokens"] = usage.cached_tokens
    return out


def _with_images(output: Any, uris: Mapping[str, str]) -> Any:
    """The observation as the server sent it: each ``{"type": "image", "id"}`` reference the
    core put in place of a generated image is its data URI again (a record keeps the trace as
    it came; :func:`find_generated_images` reads the images from it)."""
    if isinstance(output, dict):
        ref = output.get("id")
        if len(output) == 2 and output.get("type") == "image" and isinstance(ref, str):
            return uris.get(ref, output)
        return {k: _with_images(v, uris) for k, v in output.items()}
    if isinstance(output, list):
        return [_with_images(v, uris) for v in output]
    return output


def _tool_trace(trace: Trace) -> list[dict[str, Any]]:
    """Each server tool call with the observation that answered it (``output`` None if none)."""
    uris = {i["id"]: f"data:{i['mime_type']};base64,{i['base64']}" for i in trace.images}
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
                "output": _with_images(result["output"], uris) if result else None,
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
        "raw_content": message.raw_content if message else "",
        "finish_reason": choice.finish_reason if choice else None,
        "tool_trace": tool_trace,
        "sources": trace.sources,
        "plan": trace.plan,
        "transcript_issues": trace.issues,
        "stats": round_stats(tool_trace, answer),
        "usage": usage_dict(reply.usage),
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
    fields = reply_fields(ChatCompletion("", "", 0, [Choice(0, message, None)]))
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
        "generated_images": [
            {"data_uri": found.data_uri(), "mime_type": found.mime_type}
            for found in find_generated_images(fields["tool_trace"])
        ],
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


def parse_lines(data: bytes, source: Path, *, vendor: bool = False) -> list[dict[str, Any]]:
    """The records of :func:`numbered_records`, without their numbers."""
    return [record for _, record in numbered_records(data, source, vendor=vendor)]


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
