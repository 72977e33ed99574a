"""``python -m benchmarks``: every contender against one local R1V4 server in another process.

Figures (each a median over repeated, interleaved runs, with its ratio to the floor and to the
peer a user would otherwise pick):

1. client CPU per streamed chunk (process CPU time, so the server's cost is out of it);
2. time to first token added over the floor, on a warm connection;
3. non-stream round trips per second on one pooled connection;
4. 1,000 concurrent streams of ``AsyncR1V4Client`` on one event loop, then again with half of
   them cancelled midway (in a child process, for a clean peak RSS);
5. a ~10 MB photo turned into a data URI against ``base64.b64encode(open(p, "rb").read())``;
6. import time over each package's framework (``python -X importtime``, fresh interpreters), and
   that ``import r1v4`` loads no Pillow, LangChain or LlamaIndex;
7. keep-alive: TCP connections opened per 100 calls of one client, sync and async;
8. a ~5 MB image the server generated, inside a streamed observation, parsed and decoded by
   ``TranscriptParser`` against ``base64.b64decode`` of its base64 alone (time, peak memory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import _conns, _imports
from benchmarks._contenders import CONTENDERS, Contender, unavailable_reason
from benchmarks._figures import Harness, Samples
from benchmarks._report import (
    ERROR,
    MISS,
    NOT_AVAILABLE,
    Row,
    eprint,
    machine,
    text_table,
    verdict,
    write,
)
from benchmarks._server import ServerProcess

RESULTS = Path(__file__).resolve().parent / "results"
BY_NAME = {c.name: c for c in CONTENDERS}


@dataclass(frozen=True)
class Sizes:
    cpu_chunks: int
    cpu_rounds: int
    ttft_rounds: int
    rt_calls: int
    rt_rounds: int
    keepalive_calls: int
    streams: int
    stream_chunks: int
    stall_s: float
    image_bytes: int
    image_repeats: int
    import_repeats: int
    generated_bytes: int


FULL = Sizes(
    cpu_chunks=3000,
    cpu_rounds=9,
    ttft_rounds=40,
    rt_calls=50,
    rt_rounds=7,
    keepalive_calls=100,
    streams=1000,
    stream_chunks=200,
    stall_s=15.0,
    image_bytes=10_000_000,
    image_repeats=7,
    import_repeats=5,
    generated_bytes=5_000_000,
)
# Small enough for a CI smoke run on two busy cores; the numbers mean nothing.
QUICK = Sizes(
    cpu_chunks=100,
    cpu_rounds=2,
    ttft_rounds=2,
    rt_calls=3,
    rt_rounds=2,
    keepalive_calls=4,
    streams=40,
    stream_chunks=40,
    stall_s=10.0,
    image_bytes=500_000,
    image_repeats=2,
    import_repeats=1,
    generated_bytes=200_000,
)

FIGURES = (
    "cpu_per_chunk",
    "ttft",
    "round_trips",
    "concurrency",
    "image",
    "imports",
    "keepalive",
    "generated_image",
)


# ------------------------------------------------------------------------------- row helpers


def _peer_ratio_target(c: Contender) -> tuple[str, float] | None:
    """Figure 1's target for ``c``: ("floor" or "peer", maximum ratio)."""
    if not c.ours:
        return None
    if c.family == "core":
        return ("floor", 1.5)
    return ("peer", 0.4)


def _missing_row(figure: str, c: Contender, reason: str, unit: str) -> Row:
    return Row(figure, c.name, None, unit, "—", status=NOT_AVAILABLE, note=reason)


def _error_row(figure: str, name: str, error: str, unit: str) -> Row:
    return Row(figure, name, None, unit, "—", status=ERROR, note=error)


def _per_contender(
    figure: str,
    samples: Samples,
    missing: dict[str, str],
    unit: str,
    make: Callable[[Contender, float], Row],
) -> list[Row]:
    rows = []
    for c in CONTENDERS:
        if c.name in missing:
            rows.append(_missing_row(figure, c, missing[c.name], unit))
        elif c.name in samples.errors:
            rows.append(_error_row(figure, c.name, samples.errors[c.name], unit))
        else:
            value = samples.median(c.name)
            if value is not None:
                rows.append(make(c, value))
    return rows


# ----------------------------------------------------------------------------------- figures


def cpu_rows(h: Harness, s: Sizes, missing: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    samples, chunks = h.cpu_per_chunk(s.cpu_chunks, s.cpu_rounds)
    figure = f"1 CPU/chunk ({chunks} chunks)"

    def make(c: Contender, value: float) -> Row:
        x_floor = None if c.family == "floor" else samples.ratio(c.name, c.floor)
        x_peer = samples.ratio(c.name, c.peer)
        row = Row(figure, c.name, value, "µs", f"{value:.1f} µs", x_floor, x_peer)
        target = _peer_ratio_target(c)
        if target is not None:
            against, limit = target
            ratio = x_floor if against == "floor" else x_peer
            row.target = f"≤ {limit}× {against}"
            row.status = verdict(None if ratio is None else ratio <= limit)
            if ratio is None:
                row.status = NOT_AVAILABLE
                row.note = f"its {against} was not measured"
        return row

    raw = {"chunks": chunks, "rounds": s.cpu_rounds, "samples_us": samples.values}
    return _per_contender(figure, samples, missing, "µs", make), {**raw, "errors": samples.errors}


def ttft_rows(h: Harness, s: Sizes, missing: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    samples = h.first_token(s.ttft_rounds)
    figure = "2 TTFT added"

    def make(c: Contender, value: float) -> Row:
        if c.family == "floor":
            return Row(figure, c.name, 0.0, "ms", f"0 (abs {value:.2f} ms)")
        added = samples.difference(c.name, c.floor)
        row = Row(
            figure,
            c.name,
            added,
            "ms",
            "—" if added is None else f"{added:+.2f} ms (abs {value:.2f} ms)",
            samples.ratio(c.name, c.floor),
            samples.ratio(c.name, c.peer),
        )
        if c.ours:
            row.target = "≤ +1 ms"
            row.status = verdict(None if added is None else added <= 1.0)
        return row

    raw = {"rounds": s.ttft_rounds, "samples_ms": samples.values, "errors": samples.errors}
    return _per_contender(figure, samples, missing, "ms", make), raw


def round_trip_rows(
    h: Harness, s: Sizes, missing: dict[str, str]
) -> tuple[list[Row], dict[str, Any]]:
    samples = h.round_trips(s.rt_calls, s.rt_rounds)
    figure = "3 round trips/s"

    def make(c: Contender, value: float) -> Row:
        # Rates: × floor is this contender's rate over the floor's (below 1 is slower).
        x_floor = None if c.family == "floor" else samples.ratio(c.name, c.floor)
        return Row(
            figure,
            c.name,
            value,
            "calls/s",
            f"{value:.0f} /s",
            x_floor,
            samples.ratio(c.name, c.peer),
        )

    raw = {
        "calls_per_round": s.rt_calls,
        "rounds": s.rt_rounds,
        "samples_per_s": samples.values,
        "errors": samples.errors,
    }
    return _per_contender(figure, samples, missing, "calls/s", make), raw


def keepalive_rows(
    h: Harness, s: Sizes, available: dict[str, bool], missing: dict[str, str]
) -> tuple[list[Row], dict[str, Any]]:
    samples = h.keepalive(available, s.keepalive_calls)
    figure = f"7 keep-alive: conns/{s.keepalive_calls} calls"

    def make(c: Contender, value: float) -> Row:
        row = Row(figure, c.name, value, "connections", f"{value:.0f}")
        if c.ours:
            # Issue 10: the pool is reused across calls (within one event loop for async).
            row.target = "≤ 1"
            row.status = verdict(value <= 1)
        return row

    raw = {"calls": s.keepalive_calls, "connections": samples.values, "errors": samples.errors}
    return _per_contender(figure, samples, missing, "connections", make), raw


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if proc.stderr.strip():
        # Warnings or logged errors of the child (e.g. "Task exception was never retrieved").
        out["stderr"] = proc.stderr[-3000:]
    return out


def concurrency_rows(base_url: str, s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = _child(
        [
            "benchmarks._concurrency",
            base_url,
            "--streams",
            str(s.streams),
            "--chunks",
            str(s.stream_chunks),
            "--stall",
            str(s.stall_s),
        ],
        timeout=900,
    )
    who = "r1v4 core async"
    rows: list[Row] = []
    rss = max(raw["all_complete"]["peak_rss_mb"], raw["half_cancelled"]["peak_rss_mb"])
    for key, label in (("all_complete", "4a"), ("half_cancelled", "4b")):
        p = raw[key]
        title = f"{label} {s.streams} streams" + (
            ", half cancelled" if key == "half_cancelled" else ""
        )
        rows.append(Row(f"{title}: wall", who, p["wall_s"], "s", f"{p['wall_s']:.2f} s"))
        rows.append(
            Row(
                f"{title}: errors",
                who,
                p["errors"],
                "streams",
                f"{p['errors']}" + (f" ({p['stuck']} stuck)" if p["stuck"] else ""),
                target="= 0",
                status=verdict(p["errors"] == 0),
                note="; ".join(p["error_samples"][:2]),
            )
        )
        rows.append(
            Row(
                f"{title}: sockets left",
                who,
                p["sockets_left"],
                "sockets",
                f"{p['sockets_left']}",
                target="= 0",
                status=verdict(p["sockets_left"] == 0),
            )
        )
        leaked = p["pool_slots_leaked"]
        if leaked is not None:
            rows.append(
                Row(
                    f"{title}: pool slots leaked",
                    who,
                    leaked,
                    "slots",
                    f"{leaked}",
                    target="= 0",
                    status=verdict(leaked == 0),
                    note=(
                        "connections a cancelled stream never gave back to httpx's pool (read "
                        "from httpcore internals); unusable until the client closes. httpcore "
                        "releases a connection behind a lock acquire that asyncio's native "
                        "cancel interrupts (encode/httpcore#1093, #1115)"
                        if leaked
                        else ""
                    ),
                )
            )
        rows.append(
            Row(
                f"{title}: peak concurrent",
                who,
                p["peak_in_flight"],
                "streams",
                f"{p['peak_in_flight']}",
                note=(
                    "streams receiving at the same moment; httpx's default pool allows 100 "
                    "connections, so more wait for a slot"
                    if p["peak_in_flight"] == 100 and key == "all_complete"
                    else ""
                ),
            )
        )
    rows.append(
        Row(
            f"4 {s.streams} streams: peak RSS",
            who,
            rss,
            "MB",
            f"{rss:.0f} MB (idle {raw['baseline_rss_mb']:.0f} MB)",
            target="< 300 MB",
            status=verdict(rss < 300),
        )
    )
    return rows, raw


def image_rows(s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = _child(
        ["benchmarks._image", "--bytes", str(s.image_bytes), "--repeats", str(s.image_repeats)],
        timeout=300,
    )
    mb = raw["file_bytes"] / 1e6
    t, m, x = raw["time_ms"], raw["peak_extra_bytes"], raw["peak_extra_x_file"]
    floor_name, ours = "floor: base64.b64encode(read())", "r1v4.image_to_data_uri(path)"
    rows = [
        Row(f"5 image {mb:.1f} MB: time", floor_name, t["floor"], "ms", f"{t['floor']:.1f} ms"),
        Row(
            f"5 image {mb:.1f} MB: time",
            ours,
            t["r1v4"],
            "ms",
            f"{t['r1v4']:.1f} ms",
            x_floor=raw["time_ratio"],
            target="≤ 1.3× floor",
            status=verdict(raw["time_ratio"] <= 1.3),
        ),
        Row(
            f"5 image {mb:.1f} MB: peak extra memory",
            floor_name,
            m["floor"] / 1e6,
            "MB",
            f"{m['floor'] / 1e6:.1f} MB ({x['floor']:.2f}× file)",
        ),
        Row(
            f"5 image {mb:.1f} MB: peak extra memory",
            ours,
            m["r1v4"] / 1e6,
            "MB",
            f"{m['r1v4'] / 1e6:.1f} MB ({x['r1v4']:.2f}× file)",
            x_floor=m["r1v4"] / m["floor"],
            target="≤ 2.5× file",
            status=verdict(x["r1v4"] <= 2.5),
        ),
    ]
    return rows, raw


def generated_image_rows(s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = _child(
        [
            "benchmarks._generated",
            "--bytes",
            str(s.generated_bytes),
            "--repeats",
            str(s.image_repeats),
        ],
        timeout=300,
    )
    mb = raw["image_bytes"] / 1e6
    t, m, x = raw["time_ms"], raw["peak_extra_bytes"], raw["peak_extra_x_image"]
    figure = f"8 generated image {mb:.1f} MB in a stream"
    floor_name, ours = "floor: base64.b64decode(b64)", "TranscriptParser + image.data"
    # Linear work has bounded ratios; buffering that grows with the square of the size would
    # blow through both targets at 5 MB.
    rows = [
        Row(f"{figure}: time", floor_name, t["floor"], "ms", f"{t['floor']:.1f} ms"),
        Row(
            f"{figure}: time",
            ours,
            t["r1v4"],
            "ms",
            f"{t['r1v4']:.1f} ms",
            x_floor=raw["time_ratio"],
            target="≤ 5× floor",
            status=verdict(raw["time_ratio"] <= 5),
        ),
        Row(
            f"{figure}: peak extra memory",
            floor_name,
            m["floor"] / 1e6,
            "MB",
            f"{m['floor'] / 1e6:.1f} MB ({x['floor']:.2f}× image)",
        ),
        Row(
            f"{figure}: peak extra memory",
            ours,
            m["r1v4"] / 1e6,
            "MB",
            f"{m['r1v4'] / 1e6:.1f} MB ({x['r1v4']:.2f}× image)",
            x_floor=m["r1v4"] / m["floor"],
            target="≤ 8× image",
            status=verdict(x["r1v4"] <= 8),
        ),
    ]
    return rows, raw


def import_rows(s: Sizes, missing_modules: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    raw: dict[str, Any] = {"repeats": s.import_repeats, "cases": {}, "frameworks": {}}
    measured: dict[str, float] = {}
    rows: list[Row] = []
    quick = s.import_repeats < 2
    # Quick runs skip the peers: each is seconds of framework import in a fresh interpreter.
    cases = [c for c in _imports.CASES if not quick or "r1v4" in c.module]
    _imports.warm_bytecode(
        [c.module for c in cases if "r1v4" in c.module and c.module not in missing_modules]
    )
    for case in cases:
        figure = f"6 import over {case.prelude_label}"
        if case.module in missing_modules:
            rows.append(
                Row(
                    figure,
                    case.name,
                    None,
                    "ms",
                    "—",
                    status=NOT_AVAILABLE,
                    note=missing_modules[case.module],
                )
            )
            continue
        try:
            result = _imports.measure(case.name, case.prelude, case.module, s.import_repeats)
        except Exception as exc:
            rows.append(_error_row(figure, case.name, f"{type(exc).__name__}: {exc}", "ms"))
            continue
        raw["cases"][case.name] = result
        value = float(result["median_ms"])  # type: ignore[arg-type]
        measured[case.module] = value
        row = Row(figure, case.name, value, "ms", f"{value:.1f} ms")
        if case.target_ms is not None:
            row.target = f"≤ {case.target_ms:.0f} ms"
            row.status = verdict(value <= case.target_ms)
            if value > case.target_ms:
                heavy = ", ".join(
                    f"{k} {v:.0f}"
                    for k, v in result["heaviest_self_ms"].items()  # type: ignore[attr-defined]
                )
                row.note = f"heaviest modules (self ms): {heavy}"
        rows.append(row)
    for row, case in zip(list(rows), cases, strict=True):
        if case.peer and case.peer in measured and row.value is not None:
            row.x_peer = row.value / measured[case.peer]
    for label, prelude in _imports.FRAMEWORKS.items():
        if quick and label != "httpx + pydantic (initialised)":
            continue
        value = _imports.framework_import(prelude, s.import_repeats)
        raw["frameworks"][label] = value
        rows.append(Row(f"6 import, cold: {label} itself", label, value, "ms", f"{value:.0f} ms"))
    found = _imports.forbidden_after_core_import()
    raw["forbidden_loaded_by_import_r1v4"] = found
    rows.append(
        Row(
            "6 `import r1v4` loads",
            "r1v4",
            float(len(found)),
            "packages",
            ", ".join(found) if found else "none of them",
            target="no PIL, langchain*, llama_index",
            status=verdict(not found),
        )
    )
    return rows, raw


# -------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run for CI")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"where to write results (default {RESULTS})"
    )
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"comma-separated subset of {','.join(FIGURES)}"
    )
    args = parser.parse_args(argv)
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = set(only) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    meta: dict[str, Any] = {
        "command": "python -m benchmarks" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": sizes.__dict__,
        "complete": set(only) == set(FIGURES),
    }

    _conns.install()
    missing = {c.name: r for c in CONTENDERS if (r := unavailable_reason(c)) is not None}
    available = {c.name: c.name not in missing for c in CONTENDERS}
    missing_modules = {
        case.module: reason
        for case in _imports.CASES
        for c in CONTENDERS
        if c.needs == case.module and (reason := missing.get(c.name))
    }
    meta["contenders"] = {
        c.name: {"available": c.name not in missing, "reason": missing.get(c.name)}
        for c in CONTENDERS
    }
    for name, reason in missing.items():
        eprint(f"!!! NOT AVAILABLE, NOT MEASURED: {name} ({reason})")

    by_figure: dict[str, list[Row]] = {}
    raw: dict[str, Any] = {}

    def run(key: str, fn: Callable[[], tuple[list[Row], dict[str, Any]]]) -> None:
        if key not in only:
            return
        eprint(f"... {key}")
        t0 = time.monotonic()
        try:
            figure_rows, figure_raw = fn()
        except Exception as exc:
            figure_rows = [_error_row(key, "harness", f"{type(exc).__name__}: {exc}", "")]
            figure_raw = {"error": f"{type(exc).__name__}: {exc}"}
        figure_raw["seconds"] = time.monotonic() - t0
        by_figure[key] = figure_rows
        raw[key] = figure_raw

    with ServerProcess() as server:
        meta["server"] = {"command": f"python -m r1v4.testing --port {server.port}"}
        eprint(f"local R1V4 server: pid {server.pid}, {server.base_url}")
        harness = Harness(server.base_url)
        try:
            harness.build(available)
            run("cpu_per_chunk", lambda: cpu_rows(harness, sizes, missing))
            run("ttft", lambda: ttft_rows(harness, sizes, missing))
            run("round_trips", lambda: round_trip_rows(harness, sizes, missing))
            run("keepalive", lambda: keepalive_rows(harness, sizes, available, missing))
        finally:
            harness.close()
        run("concurrency", lambda: concurrency_rows(server.base_url, sizes))
    run("image", lambda: image_rows(sizes))
    run("generated_image", lambda: generated_image_rows(sizes))
    run("imports", lambda: import_rows(sizes, missing_modules))

    meta["duration_s"] = time.monotonic() - started
    # In figure order, whatever order they ran in (the in-process ones share one server run).
    rows = [row for key in FIGURES for row in by_figure.get(key, [])]
    raw = {key: raw[key] for key in FIGURES if key in raw}
    md_path, json_path = write(args.out, rows, meta, raw)

    m = meta["machine"]
    print(
        f"\nr1v4 benchmarks — {m['nproc']} CPU(s) {m['cpu']}, Python {m['python']}"
        + (" — QUICK smoke run, numbers mean nothing" if args.quick else "")
    )
    print(text_table(rows))
    misses = [r for r in rows if r.status == MISS]
    errors = [r for r in rows if r.status == ERROR]
    print(
        f"\n{sum(r.status == 'PASS' for r in rows)} PASS, {len(misses)} MISS, "
        f"{len(errors)} ERROR, {len(missing)} contender(s) not available"
    )
    for name, reason in missing.items():
        print(f"!!! NOT AVAILABLE, NOT MEASURED: {name} ({reason})")
    print(f"\nWrote {md_path}\n      {json_path}")
    return 1 if errors else 0
