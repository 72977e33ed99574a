"""Records -> the view the template shows -> HTML (Jinja2, autoescape on)."""

from __future__ import annotations

import base64
import collections
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from r1v4 import ChatCompletion, detect_image_mime

from .records import find_generated_images, read_records, reply_fields

_THUMB = (360, 360)
# Without Pillow an image is embedded as it is, up to this size.
_MAX_RAW_EMBED = 2 * 1024 * 1024
_MAX_TEXT = 20_000
_DATA_URI_TEXT = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]{40,}")

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("r1v4.report", "templates"),
    autoescape=True,  # every value is escaped unless marked safe, and nothing here is
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# ---------------------------------------------------------------------------------- images


def _thumbnail(data: bytes) -> tuple[str | None, str | None]:
    """``(data URI, None)`` of a small copy, or ``(None, why not)``."""
    mime = detect_image_mime(data)
    if mime is None:
        return None, "not a supported image"
    try:
        from PIL import Image
    except ImportError:
        if len(data) > _MAX_RAW_EMBED:
            return None, "too large to embed without Pillow"
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", None
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail(_THUMB)
            has_alpha = img.mode in ("RGBA", "LA", "P")
            out = io.BytesIO()
            if has_alpha:
                img.convert("RGBA").save(out, "PNG", optimize=True)
                mime = "image/png"
            else:
                img.convert("RGB").save(out, "JPEG", quality=82)
                mime = "image/jpeg"
    except Exception as exc:  # Pillow raises many kinds for a broken file
        return None, f"cannot be decoded ({type(exc).__name__})"
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode('ascii')}", None


def _image_view(ref: str, base_dir: Path | None) -> dict[str, Any]:
    """An input or generated image: a thumbnail, or a link/label with the reason there is none."""
    view: dict[str, Any] = {"label": ref, "src": None, "link": None, "problem": None}
    if ref[:5].lower() == "data:":
        view["label"] = ref[: ref.find(",")] if "," in ref else "data URI"
        try:
            data = base64.b64decode(ref.partition(",")[2], validate=False)
        except ValueError:
            view["problem"] = "bad base64"
            return view
    elif ref[:8].lower().startswith(("http://", "https://")):
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
    if isinstance(url, str) and url[:8].lower().startswith(("http://", "https://")):
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


def _case_view(n: int, record: Mapping[str, Any], base_dir: Path | None) -> dict[str, Any]:
    generated = []
    for image in record.get("generated_images") or ():
        ref = image.get("path") or image.get("data_uri") or ""
        view = _image_view(ref, base_dir)
        view["label"] = image.get("path") or f"{image.get('mime_type')} image"
        generated.append(view)
    steps = [
        {
            "name": step.get("name"),
            "tag": step.get("tag"),
            "args": _args(step.get("args")),
            "output": None if step.get("output") is None else _pretty(step.get("output")),
            "sources": [_source_view(s) for s in step.get("sources") or ()],
        }
        for step in record.get("tool_trace") or ()
    ]
    plan = [
        {
            "description": step.get("description"),
            "tool_name": step.get("tool_name"),
            "parameters": _pretty(step.get("parameters")),
        }
        for step in record.get("plan") or ()
    ]
    error = record.get("error")
    if error:  # records written by hand or by other tools may lack keys the template reads
        error = {**dict.fromkeys(("type", "status_code", "code", "message", "request_id")), **error}
    timings = record.get("timings")
    if timings:
        timings = {"seconds": None, "first_token_seconds": None, **timings}
    return {
        "n": n,
        "id": record.get("id"),
        "status": record.get("status"),
        "model": record.get("model"),
        "question": record.get("question") or "",
        "inputs": [_image_view(ref, base_dir) for ref in record.get("images") or ()],
        "reasoning": record.get("reasoning") or "",
        "steps": steps,
        "generated": generated,
        "sources": [_source_view(s) for s in record.get("sources") or ()],
        "has_plan": record.get("plan") is not None,
        "plan": plan,
        "answer": record.get("answer") or "",
        "usage": record.get("usage"),
        "timings": timings,
        "stats": record.get("stats") or {},
        "issues": record.get("transcript_issues") or [],
        "error": error or None,
        "source_file": record.get("_source"),
    }


def _summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    tools: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    tokens = collections.Counter[str]()
    rounds = answered = 0
    for record in records:
        stats = record.get("stats") or {}
        rounds += int(stats.get("rounds") or 0)
        answered += bool(stats.get("has_final_answer"))
        tools.update(str(t) for t in stats.get("tools_used") or ())
        for key, value in (record.get("usage") or {}).items():
            if isinstance(value, int):
                tokens[key] += value
        if record.get("status") != "ok":
            errors[str((record.get("error") or {}).get("type") or "unknown")] += 1
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
        for record in read_records(path, vendor=True):
            lines += 1
            record["_source"] = str(path)
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
    cases = [_case_view(n, r, r.get("_base_dir")) for n, r in enumerate(records, 1)]
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
        record["generated_images"] = [
            {"data_uri": image.data_uri(), "mime_type": image.mime_type}
            for image in find_generated_images(record["tool_trace"])
        ]
    else:
        record = dict(reply)
    if question is not None:
        record["question"] = question
    if images:
        record["images"] = list(images)
    return _render([record], title or "R1V4 reply", [], 1)[0]
