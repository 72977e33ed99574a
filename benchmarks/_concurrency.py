"""Figure 4, run in its own process: N concurrent streams of ``AsyncR1V4Client`` on one loop.

A process of its own so that its peak RSS is this figure's alone (not the other figures' leftovers)
and so that the sockets counted afterwards can only be these streams' sockets.

``python -m benchmarks._concurrency BASE_URL --streams 1000 --chunks 200`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import threading
import time
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

from benchmarks._conns import install, open_sockets, opened
from benchmarks._contenders import expected_answer
from benchmarks._harness import run_child
from benchmarks._report import Row, verdict
from benchmarks._server import API_KEY, MODEL
from benchmarks._sizes import Sizes
from benchmarks._text import prompt_for_chunks

MB = 1024 * 1024


class RssSampler:
    """Peak RSS while a pass runs, sampled from a thread (the loop is busy)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._proc = psutil.Process()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = self._proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


async def one_pass(
    base_url: str, streams: int, chunks: int, cancel_half: bool, stall: float
) -> dict[str, Any]:
    import r1v4

    prompt = prompt_for_chunks(chunks)
    expected = expected_answer(prompt)
    # One client, as an application would share it; its pool belongs to this loop.
    client = r1v4.AsyncR1V4Client(api_key=API_KEY, base_url=base_url)
    messages = [{"role": "user", "content": prompt}]
    in_flight = 0
    peak_in_flight = 0
    halfway: dict[int, asyncio.Event] = {}

    async def run(i: int) -> str:
        nonlocal in_flight, peak_in_flight
        parts: list[str] = []
        started = False
        try:
            async for chunk in client.stream(model=MODEL, messages=messages):
                if not started:
                    started = True
                    in_flight += 1
                    peak_in_flight = max(peak_in_flight, in_flight)
                for choice in chunk.choices:
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                if i in halfway and len(parts) == chunks // 2:
                    halfway[i].set()
        finally:
            if started:
                in_flight -= 1
        return "".join(parts)

    async def cancel_midway(task: asyncio.Task[str], event: asyncio.Event) -> None:
        # From outside the stream, as when a web request goes away or a user stops a
        # generation: the CancelledError lands at whatever the stream awaits next.
        await event.wait()
        task.cancel()

    start = time.perf_counter()
    tasks = [asyncio.create_task(run(i)) for i in range(streams)]
    cancellers = []
    if cancel_half:
        for i in range(1, streams, 2):
            halfway[i] = asyncio.Event()
            cancellers.append(asyncio.create_task(cancel_midway(tasks[i], halfway[i])))
    # Bounded: a stream waiting for a pool slot that never comes back would otherwise wait for
    # the client's pool timeout (600 s). When no stream at all finishes for `stall` seconds the
    # rest are reported as stuck, not waited for.
    stuck: set[asyncio.Task[str]] = set(tasks)
    while stuck:
        done, stuck = await asyncio.wait(stuck, timeout=stall, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            break
    wall = time.perf_counter() - start
    leaked = _pool_requests_in_use(await client.http_client())
    for task in (*stuck, *cancellers):
        task.cancel()
    await asyncio.gather(*stuck, *cancellers, return_exceptions=True)

    errors: list[str] = []
    completed = cancelled = 0
    for i, task in enumerate(tasks):
        if task in stuck:
            errors.append(f"stream {i}: stuck (nothing finished for {stall:.0f} s)")
            continue
        result: BaseException | str | None = (
            task.exception() if not task.cancelled() else asyncio.CancelledError()
        )
        if result is None:
            result = task.result()
        if isinstance(result, asyncio.CancelledError) and i in halfway:
            cancelled += 1
        elif isinstance(result, BaseException):
            errors.append(f"stream {i}: {type(result).__name__}: {result}")
        elif result != expected:
            errors.append(f"stream {i}: wrong answer ({len(result)} of {len(expected)} chars)")
        else:
            # A to-be-cancelled stream may also end first, if its last bytes were already read.
            completed += 1
    idle_pooled = open_sockets(_port(base_url))
    await client.aclose()
    return {
        "wall_s": wall,
        "errors": len(errors),
        "error_samples": errors[:5],
        "completed": completed,
        "cancelled": cancelled,
        "stuck": len(stuck),
        "peak_in_flight": peak_in_flight,
        "pool_slots_leaked": leaked,
        "idle_pooled_sockets_before_close": idle_pooled,
    }


def _pool_requests_in_use(http: httpx.AsyncClient) -> int | None:
    """Requests holding a connection in httpcore's pool once no stream is reading any more.

    Diagnostic only (httpcore internals, read, never changed): each one is a pool slot that a
    cancelled stream never gave back. Requests still queued for a slot are not counted.
    """
    pool = getattr(getattr(http, "_transport", None), "_pool", None)
    requests = getattr(pool, "_requests", None)
    if requests is None:
        return None
    return sum(1 for request in requests if getattr(request, "connection", None) is not None)


def _port(base_url: str) -> int:
    port = httpx.URL(base_url).port
    assert port is not None
    return port


def measure(
    base_url: str, streams: int, chunks: int, cancel_half: bool, stall: float
) -> dict[str, Any]:
    port = _port(base_url)
    before = opened[port]
    with RssSampler() as rss:
        result = asyncio.run(one_pass(base_url, streams, chunks, cancel_half, stall))
    # Counted before any gc.collect(): a socket that only the collector would close is a leak.
    result["sockets_left"] = open_sockets(port)
    gc.collect()
    result["sockets_left_after_gc"] = open_sockets(port)
    result["peak_rss_mb"] = rss.peak / MB
    result["connections_opened"] = opened[port] - before
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._concurrency")
    parser.add_argument("base_url")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument(
        "--stall", type=float, default=15.0, help="give up when no stream ends for this long"
    )
    args = parser.parse_args(argv)
    # 1,000 client sockets plus the interpreter's own files can pass a soft limit of 1,024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, 4 * args.streams + 256))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    install()
    import r1v4  # noqa: F401  (imported before the baseline, as an application would have it)

    baseline_mb = psutil.Process().memory_info().rss / MB
    full = measure(args.base_url, args.streams, args.chunks, cancel_half=False, stall=args.stall)
    half = measure(args.base_url, args.streams, args.chunks, cancel_half=True, stall=args.stall)
    out = {
        "streams": args.streams,
        "chunks": args.chunks,
        "baseline_rss_mb": baseline_mb,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "all_complete": full,
        "half_cancelled": half,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


def rows(base_url: str, s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = run_child(
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


if __name__ == "__main__":
    sys.exit(main())
