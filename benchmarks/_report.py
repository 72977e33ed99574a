"""Table rows, the printed table, and the Markdown and JSON written to ``benchmarks/results/``."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PASS, MISS = "PASS", "MISS"
NOT_AVAILABLE = "NOT AVAILABLE"
ERROR = "ERROR"


@dataclass
class Row:
    figure: str
    contender: str
    value: float | None  # the median, in ``unit``
    unit: str
    text: str  # how the value is shown
    x_floor: float | None = None
    x_peer: float | None = None
    target: str = ""
    status: str = ""  # PASS / MISS / NOT AVAILABLE / ERROR / "" (no target)
    note: str = ""


def verdict(ok: bool | None) -> str:
    if ok is None:
        return ""
    return PASS if ok else MISS


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.machine(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": list(load) if load else None,
    }


_HEADERS = ("Figure", "Contender", "Median", "× floor", "× peer", "Target", "Result")


def _cells(row: Row) -> tuple[str, ...]:
    status = row.status
    return (
        row.figure,
        row.contender,
        row.text,
        _x(row.x_floor),
        _x(row.x_peer),
        row.target,
        status,
    )


def text_table(rows: list[Row]) -> str:
    cells = [_HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_HEADERS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {r.contender} ({r.figure}): {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "|".join("---" for _ in _HEADERS) + "|",
    ]
    for r in rows:
        cells = [c.replace("|", "\\|") for c in _cells(r)]
        if r.status in (MISS, ERROR, NOT_AVAILABLE):
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(
    out_dir: Path,
    rows: list[Row],
    meta: dict[str, Any],
    raw: dict[str, Any],
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    # A run of some figures only (--only) must not replace the last full table.
    stem = "quick" if meta.get("quick") else "latest" if meta.get("complete") else "partial"
    json_path = out_dir / f"{stem}.json"
    md_path = out_dir / f"{stem}.md"
    payload = {**meta, "rows": [asdict(r) for r in rows], "raw": raw}
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    m = meta["machine"]
    notes = [f"- **{r.contender}** ({r.figure}): {r.note}" for r in rows if r.note]
    md = [
        "# r1v4 benchmarks",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {m['nproc']} CPU(s), {m['cpu']}, {m['implementation']} {m['python']}, "
        f"{m['platform']}  ",
        f"Started: {meta['started']}, took {meta['duration_s']:.0f} s"
        + (" (quick smoke run: sizes too small to mean anything)" if meta.get("quick") else ""),
        "",
        markdown_table(rows),
        "",
        *(["Notes:", "", *notes, ""] if notes else []),
        "How each figure is measured: see `python -m benchmarks --help` and the docstrings in "
        "`benchmarks/`.",
        "",
    ]
    md_path.write_text("\n".join(md), encoding="utf-8")
    return md_path, json_path


def eprint(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)
