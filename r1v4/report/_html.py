"""Records -> the view the template shows -> HTML (Jinja2, autoescape on)."""

from __future__ import annotations

import base64
import collections
import contextlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from r1v4 import (
    ChatCompletion,
    ImageError,
    bytes_to_data_uri,
    detect_image_mime,
    is_data_uri,
    is_remote_url,
)

from .records import (
    ReportError,
    generated_images,
    image_record,
    read_numbered_records,
    reply_fields,
)

_THUMB = (360, 360)
# Without Pillow an image is embedded as it is, up to this size.
_MAX_RAW_EMBED = 2 * 1024 * 1024
# A small PNG or JPEG is embedded as it is, up to this size.
_MAX_AS_IS = 256 * 1024
_MAX_TEXT = 20_000
# Base64 still in text: images inline in records of earlier versions, or a bad image whose
# text the core kept in its observation.
_DATA_URI_TEXT = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]{40,}")

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("r1v4.report", "templates"),
    autoescape=True,  # every value is escaped unless marked safe, and nothing here is
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# ---------------------------------------------------------------------------------- images


def _as_is(img: Any, data: bytes) -> bool:
    """Whether an image is embedded as it is: small already, in a format every browser shows
    (a crop the agent made is then shown pixel for pixel, not re-encoded)."""
    width, height = img.size
    return (
        img.format in ("PNG", "JPEG")
        and width <= _THUMB[0]
        and height <= _THUMB[1]
        and len(data) <= _MAX_AS_IS
    )


def _thumbnail(data: bytes) -> tuple[str | None, str | None]:
    """``(data URI, None)`` of the image or a small copy, or ``(None, why not)``."""
    if detect_image_mime(data) is None:
        return None, "not a supported image"
    try:
        from PIL import Image
    except ImportError:
        if len(data) > _MAX_RAW_EMBED:
            return None, "too large to embed without Pillow"
        try:
            return bytes_to_data_uri(data, max_bytes=_MAX_RAW_EMBED), None
        except ImageError as exc:  # truncated or corrupt: the browser could not show it either
            return None, f"cannot be decoded ({exc})"
    try:
        with Image.open(io.BytesIO(data)) as img:
            if _as_is(img, data):
                img.load()  # a truncated file fails here as it would below
                return bytes_to_data_uri(data, max_bytes=_MAX_AS_IS), None
            img.thumbnail(_THUMB)
            has_alpha = img.mode in ("RGBA", "LA", "P")
            out = io.BytesIO()
            if has_alpha:
                img.convert("RGBA").save(out, "PNG", optimize=True)
            else:
                img.convert("RGB").save(out, "JPEG", quality=82)
    except Exception as exc:  # Pillow raises many kinds for a broken file
        return None, f"cannot be decoded ({type(exc).__name__})"
    return bytes_to_data_uri(out.getvalue()), None


def _image_view(ref: str, base_dir: Path | None) -> dict[str, Any]:
    """An input or generated image: a thumbnail, or a link/label with the reason there is none."""
    view: dict[str, Any] = {"label": ref, "src": None, "link": None, "problem": None}
    if is_data_uri(ref):
        view["label"] = ref[: ref.find(",")] if "," in ref else "data URI"
        try:
            data = base64.b64decode(ref.partition(",")[2], validate=False)
        except ValueError:
            view["problem"] = "bad base64"
            return view
    elif is_remote_url(ref):
        view["link"] = ref  # never fetched: the page loads nothing from the network
        view["problem"] = "remote image, not embedded"
        return view
    else:
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            view["problem"] = f"not readable ({exc.strerror or type(exc).__name__})"
            return view
    view["src"], view["problem"] = _thumbnail(data)
    return view


# ------------------------------------------------------------------------------------ text


def _pretty(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
    text = _DATA_URI_TEXT.sub(lambda m: f"[image data, {len(m.group(0))} chars]", text)
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + f"\n… ({len(text) - _MAX_TEXT} more characters)"
    return text


def _args(value: Any) -> str:
    """Tool arguments: ``key: value`` lines when all are strings, so code reads as code."""
    if isinstance(value, Mapping) and value and all(isinstance(v, str) for v in value.values()):
        return _pretty(
            "\n".join(f"{k}: {v}" if "\n" not in v else f"{k}:\n{v}" for k, v in value.items())
        )
    return _pretty(value)


def _http_url(url: Any) -> str | None:
    """Only http(s) links are clickable: a ``javascript:`` URL from a web page stays text."""
    if isinstance(url, str) and is_remote_url(url):
        return url
    return None


def _source_view(source: Mapping[str, Any]) -> dict[str, Any]:
    url = source.get("url")
    return {
        "title": source.get("title") or url or "(untitled)",
        "href": _http_url(url),
        "url": url,
        "snippet": source.get("snippet"),
        "kind": source.get("kind") or "web",
        "image_href": _http_url(source.get("image_url")),
    }


# ---------------------------------------------------------------------------------- records


class _FieldError(Exception):
    """A record's field that cannot be shown; :func:`_blame` names the line."""

    def __init__(self, field: str, cause: Exception) -> None:
        super().__init__(field, cause)
        self.field = field
        self.cause = cause


@contextlib.contextmanager
def _reading(field: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise _FieldError(field, exc) from exc


@contextlib.contextmanager
def _blame(record: Mapping[str, Any]) -> Iterator[None]:
    """Any failure to show ``record`` as a :class:`ReportError` naming its file and line."""
    source, line = record.get("_source"), record.get("_line")
    where = f"{source}:{line}" if source and line else "the record"
    where += f": record {record.get('id')!r}"
    try:
        yield
    except _FieldError as exc:
        cause = exc.cause
        raise ReportError(
            f"{where}: {exc.field!r} cannot be shown ({type(cause).__name__}: {cause})"
        ) from cause
    except Exception as exc:
        raise ReportError(f"{where}: cannot be shown ({type(exc).__name__}: {exc})") from exc


def _mapping(value: Any) -> Mapping[str, Any] | None:
    """``value`` if it is a mapping: a field of another type (hand-written, another tool's) is
    shown as absent rather than taken apart."""
    return value if isinstance(value, Mapping) else None


def _items(record: Mapping[str, Any], field: str) -> Sequence[Any]:
    value = record.get(field)
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise _FieldError(field, TypeError(f"a list was expected, not {type(value).__name__}"))
    return value


def _error(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record's error with every key the template reads; a bare string is its message."""
    error = record.get("error")
    if isinstance(error, str):
        error = {"message": error} if error.strip() else None
    error = _mapping(error)
    if not error:
        return None
    # Records written by hand or by other tools may lack keys the template reads.
    return {**dict.fromkeys(("type", "status_code", "code", "message", "request_id")), **error}


def _generated_view(n: int, image: Mapping[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """A generated image of a record: its thumbnail (from the saved file, or inline in the
    record) and what is known of it."""
    ref = image.get("path") or image.get("data_uri") or ""
    view = _image_view(ref, base_dir)
    view["n"] = n
    view["tool_call_id"] = image.get("tool_call_id")
    view["label"] = image.get("path") or image.get("id") or f"{image.get('mime_type')} image"
    width, height = image.get("width"), image.get("height")
    size = image.get("size", image.get("bytes"))  # "bytes" in records of earlier versions
    facts = [str(image.get("mime_type") or "")]
    if isinstance(width, int) and isinstance(height, int):
        facts.append(f"{width}×{height} px")
    if isinstance(size, int):
        facts.append(f"{size:,} bytes")
    if image.get("path") and image.get("id"):
        facts.append(str(image["id"]))
    view["facts"] = ", ".join(f for f in facts if f)
    return view


def _case_view(n: int, record: Mapping[str, Any], base_dir: Path | None) -> dict[str, Any]:
    with _reading("generated_images"):
        generated = [
            _generated_view(i, image, base_dir)
            for i, image in enumerate(_items(record, "generated_images"), 1)
        ]
    with _reading("tool_trace"):
        steps = []
        for step in _items(record, "tool_trace"):
            call_id = step.get("id")
            steps.append(
                {
                    "name": step.get("name"),
                    "tag": step.get("tag"),
                    "args": _args(step.get("args")),
                    "output": None if step.get("output") is None else _pretty(step.get("output")),
                    "sources": [_source_view(s) for s in step.get("sources") or ()],
                    # Each image beside the call that made it.
                    "images": [g for g in generated if call_id and g["tool_call_id"] == call_id],
                }
            )
    beside = {id(g) for step in steps for g in step["images"]}
    loose = [g for g in generated if id(g) not in beside]
    with _reading("plan"):
        plan = [
            {
                "description": step.get("description"),
                "tool_name": step.get("tool_name"),
                "parameters": _pretty(step.get("parameters")),
            }
            for step in _items(record, "plan")
        ]
    with _reading("images"):
        inputs = [_image_view(ref, base_dir) for ref in _items(record, "images")]
    with _reading("sources"):
        sources = [_source_view(s) for s in _items(record, "sources")]
    with _reading("transcript_issues"):
        issues = [
            {
                "kind": issue.get("kind"),
                "detail": issue.get("detail"),
                "text": _pretty(issue.get("text") or ""),
            }
            for issue in _items(record, "transcript_issues")
        ]
    timings = _mapping(record.get("timings"))
    if timings:
        timings = {"seconds": None, "first_token_seconds": None, **timings}
    return {
        "n": n,
        "id": record.get("id"),
        "status": record.get("status"),
        "model": record.get("model"),
        "client_tools": bool(record.get("builtin_tools")),
        "question": record.get("question") or "",
        "inputs": inputs,
        "reasoning": record.get("reasoning") or "",
        "steps": steps,
        "generated": generated,
        "loose_images": loose,
        "sources": sources,
        "has_plan": record.get("plan") is not None,
        "plan": plan,
        "answer": record.get("answer") or "",
        "usage": _mapping(record.get("usage")),
        "timings": timings,
        "stats": _mapping(record.get("stats")) or {},
        "issues": issues,
        "error": _error(record),
        "source_file": record.get("_source"),
    }


def _summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    tools: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    issues: collections.Counter[str] = collections.Counter()
    tokens = collections.Counter[str]()
    rounds = answered = 0
    for record in records:
        with _blame(record), _reading("stats"):
            stats = _mapping(record.get("stats")) or {}
            rounds += int(stats.get("rounds") or 0)
            answered += bool(stats.get("has_final_answer"))
            tools.update(str(t) for t in stats.get("tools_used") or ())
        with _blame(record), _reading("transcript_issues"):
            issues.update(str(i.get("kind")) for i in _items(record, "transcript_issues"))
        for key, value in (_mapping(record.get("usage")) or {}).items():
            if isinstance(value, int):
                tokens[key] += value
        if record.get("status") != "ok":
            errors[str((_error(record) or {}).get("type") or "unknown")] += 1
    cases = len(records)
    return {
        "cases": cases,
        "ok": cases - sum(errors.values()),
        "failed": sum(errors.values()),
        "errors": errors.most_common(),
        "prompt_tokens": tokens["prompt_tokens"],
        "completion_tokens": tokens["completion_tokens"],
        "total_tokens": tokens["total_tokens"],
        "rounds": rounds,
        "mean_rounds": rounds / cases if cases else 0.0,
        "answered": answered,
        "tools": tools.most_common(),
        "issues": issues.most_common(),
    }


def load_run(paths: Iterable[str | Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One record per case id over all files: a case that succeeded anywhere shows its
    success, else its latest failure. Ordered by file, then by line in the cases file (records
    are written as cases finish, not in order)."""
    by_id: dict[str, dict[str, Any]] = {}
    lines = 0
    files = []
    for index, path in enumerate(paths):
        path = Path(path)
        files.append(str(path))
        for number, record in read_numbered_records(path, vendor=True):
            lines += 1
            record["_source"] = str(path)
            record["_line"] = number
            record["_base_dir"] = path.resolve().parent
            line = record.get("line")
            record["_order"] = (index, line if isinstance(line, int) else 0)
            previous = by_id.get(record["id"])
            if previous is None or previous.get("status") != "ok":
                by_id[record["id"]] = record
    records = sorted(by_id.values(), key=lambda r: r["_order"])
    return records, {"files": files, "lines": lines}


def _render(
    records: Sequence[Mapping[str, Any]], title: str, files: Sequence[str], lines: int
) -> tuple[str, dict[str, Any]]:
    summary = _summary(records)
    cases = []
    for n, record in enumerate(records, 1):
        with _blame(record):
            cases.append(_case_view(n, record, record.get("_base_dir")))
    html = _env.get_template("report.html.j2").render(
        title=title, summary=summary, cases=cases, files=files, lines=lines
    )
    return html, summary


def render_run(paths: Sequence[Path], *, title: str | None) -> tuple[str, dict[str, Any]]:
    records, meta = load_run(paths)
    name = title or ("R1V4 run: " + ", ".join(p.name for p in paths))
    return _render(records, name, meta["files"], meta["lines"])


def render_one(
    reply: ChatCompletion | Mapping[str, Any],
    *,
    question: str | None,
    images: Sequence[str],
    title: str | None,
) -> str:
    if isinstance(reply, ChatCompletion):
        record: dict[str, Any] = {"id": reply.id or "reply", "status": "ok", "model": reply.model}
        record.update(reply_fields(reply))
        record["generated_images"] = [image_record(image) for image in generated_images(reply)]
    else:
        record = dict(reply)
    if question is not None:
        record["question"] = question
    if images:
        record["images"] = list(images)
    return _render([record], title or "R1V4 reply", [], 1)[0]
