"""``python -m benchmarks``: every contender against one local R1V4 server in another process.

Figures (each a median over repeated, interleaved runs, with its ratio to the floor and to the
peer a user would otherwise pick); each lives in the module named after its key:

1. ``cpu_per_chunk``: client CPU per streamed chunk (process CPU time, so the server's cost is
   out of it);
2. ``ttft``: time to first token added over the floor, on a warm connection;
3. ``round_trips``: non-stream round trips per second on one pooled connection;
4. ``concurrency``: 1,000 concurrent streams of ``AsyncR1V4Client`` on one event loop, then
   again with half of them cancelled midway (in a child process, for a clean peak RSS);
5. ``image``: a ~10 MB photo turned into a data URI against
   ``base64.b64encode(open(p, "rb").read())``;
6. ``imports``: import time over each package's framework (``python -X importtime``, fresh
   interpreters), and that ``import r1v4`` loads no Pillow, LangChain or LlamaIndex;
7. ``keepalive``: TCP connections opened per 100 calls of one client, sync and async;
8. ``vs_minimal``: each adapter's CPU per chunk against a minimal model of its framework
   streaming the same SSE;
9. ``chunk_growth``: CPU per chunk at 3k, 30k and 100k chunks, and how it grows;
10. ``generated_image``: a ~5 MB image the server generated, inside a streamed observation,
    parsed and decoded by ``TranscriptParser`` against ``base64.b64decode`` of its base64 alone
    (time and peak memory, in a child process).
11. ``soak``: 20,000 calls over every path with faults at random, concurrency 200: every call
    ends in its answer or a typed error, no socket or pool slot leaked, RSS flat (a full run
    writes the figures into docs/reliability.md).
12. ``batch_resume``: the peak RSS of a whole ``r1v4 batch`` process resuming over 100,000
    results, short records against full ones (the same cases), beside every record held.
13. ``sandbox``: one run of R1V4's ``code`` tool in the bubblewrap sandbox (import Pillow and
    numpy, save a PNG, the observation made), against bubblewrap's bare start (in a child
    process).
14. ``loop_round``: one round of the tool loop through the client (``builtin_tools=``), from
    the round that made the call to the follow-up received by the local server (in another
    process), against bubblewrap's bare start and ``R1V4Tools.run`` alone; and how the loop's
    own cost per round grows over a reply of 16 rounds (in a child process).

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import (
    _batch_resume,
    _chunk_growth,
    _concurrency,
    _conns,
    _cpu_per_chunk,
    _generated_image,
    _image,
    _imports,
    _keepalive,
    _loop_round,
    _round_trips,
    _sandbox,
    _soak,
    _ttft,
    _vs_minimal,
)
from benchmarks._contenders import CONTENDERS, unavailable_reason
from benchmarks._harness import Harness, error_row
from benchmarks._report import ERROR, MISS, Row, eprint, machine, text_table, write
from benchmarks._server import ServerProcess
from benchmarks._sizes import FULL, QUICK

RESULTS = Path(__file__).resolve().parent / "results"

FIGURES = (
    "cpu_per_chunk",
    "ttft",
    "round_trips",
    "concurrency",
    "image",
    "imports",
    "keepalive",
    "vs_minimal",
    "chunk_growth",
    "generated_image",
    "soak",
    "batch_resume",
    "sandbox",
    "loop_round",
)


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
            figure_rows = [error_row(key, "harness", f"{type(exc).__name__}: {exc}", "")]
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
            run("cpu_per_chunk", lambda: _cpu_per_chunk.rows(harness, sizes, missing))
            run("ttft", lambda: _ttft.rows(harness, sizes, missing))
            run("round_trips", lambda: _round_trips.rows(harness, sizes, missing))
            run("keepalive", lambda: _keepalive.rows(harness, sizes, available, missing))
            run("vs_minimal", lambda: _vs_minimal.rows(harness, sizes, missing))
            run("chunk_growth", lambda: _chunk_growth.rows(harness, sizes, missing))
        finally:
            harness.close()
        run("concurrency", lambda: _concurrency.rows(server.base_url, sizes))
    full_soak = not args.quick and args.out == RESULTS
    run("soak", lambda: _soak.rows(sizes.soak_calls, sizes.soak_concurrency, full_soak))
    run("image", lambda: _image.rows(sizes))
    run("generated_image", lambda: _generated_image.rows(sizes))
    run("imports", lambda: _imports.rows(sizes, missing_modules))
    run("batch_resume", lambda: _batch_resume.rows(sizes))
    run("sandbox", lambda: _sandbox.rows(sizes))
    run("loop_round", lambda: _loop_round.rows(sizes))

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
