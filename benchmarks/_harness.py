"""The harness: every contender's driver against one server, run interleaved round by round,
and the table rows the figures share. The figures themselves live in modules named for them.

Contenders run interleaved round by round (the order rotates each round), because this machine's
speed drifts with whatever else runs on it: a slow minute then hits every contender alike, and
ratios are taken within a round before the median is taken over rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from benchmarks._contenders import CONTENDERS, Contender, Driver, expected_answer
from benchmarks._report import ERROR, NOT_AVAILABLE, Row
from benchmarks._text import content_chunks, prompt_for_chunks

SHORT_PROMPT = "Say hello."

# The contenders of figures 1-3 and 7: ours, the floor and the peers (not the yardsticks).
MAIN = tuple(c for c in CONTENDERS if not c.minimal)


@dataclass
class Samples:
    """Per-contender samples of one figure, one per round, plus what went wrong."""

    values: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def median(self, name: str) -> float | None:
        v = self.values.get(name)
        return statistics.median(v) if v else None

    def ratio(self, name: str, other: str | None, invert: bool = False) -> float | None:
        """Median over rounds of ``name / other`` within each round (``other / name`` if
        ``invert``, for rates where higher is better)."""
        if other is None:
            return None
        a, b = self.values.get(name), self.values.get(other)
        if not a or not b or len(a) != len(b):
            return None
        pairs = [(y, x) if invert else (x, y) for x, y in zip(a, b, strict=True)]
        ratios = [x / y for x, y in pairs if y > 0]
        return statistics.median(ratios) if ratios else None

    def difference(self, name: str, other: str) -> float | None:
        """Median over rounds of ``name - other`` within each round."""
        a, b = self.values.get(name), self.values.get(other)
        if not a or not b or len(a) != len(b):
            return None
        return statistics.median(x - y for x, y in zip(a, b, strict=True))


class Harness:
    """Builds each available contender's driver once, against one server, on one event loop."""

    def __init__(self, base_url: str, contenders: tuple[Contender, ...] = CONTENDERS) -> None:
        self.base_url = base_url
        self.port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        self.loop = asyncio.new_event_loop()
        self.contenders = contenders
        self.drivers: dict[str, Driver] = {}
        self.broken: dict[str, str] = {}

    def build(self, available: dict[str, bool]) -> None:
        for c in self.contenders:
            if not available.get(c.name):
                continue
            try:
                self.drivers[c.name] = c.make(self.base_url, self.loop)
            except Exception as exc:
                self.broken[c.name] = f"could not be built: {type(exc).__name__}: {exc}"
        # Everything loaded so far (three frameworks, the SDKs) lives for the whole run: frozen,
        # the collections the figures trigger between runs only scan what those runs allocated.
        gc.collect()
        gc.freeze()

    def close(self) -> None:
        for driver in self.drivers.values():
            # Best effort: a driver that cannot close already failed a figure, if it matters.
            with contextlib.suppress(Exception):
                driver.close()
        # Lets the core close its per-loop pool (it closes with the loop's async generators).
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def names(self, contenders: Iterable[Contender]) -> list[str]:
        """Those of ``contenders`` that were built (or failed to be: their figure says so)."""
        return [c.name for c in contenders if c.name in self.drivers or c.name in self.broken]

    def interleave(
        self,
        rounds: int,
        measure: Callable[[str, Driver], float],
        warmup: Callable[[Driver], None],
        names: Iterable[str],
    ) -> Samples:
        """``measure`` each named driver once per round, the order rotating each round."""
        out = Samples()
        live = {}
        for name in names:
            driver = self.drivers.get(name)
            if name in self.broken or driver is None:
                out.errors[name] = self.broken.get(name, "not built")
                continue
            try:
                warmup(driver)
            except Exception as exc:
                out.errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            live[name] = driver
            out.values[name] = []
        order = list(live)
        for round_ in range(rounds):
            k = round_ % len(order) if order else 0
            for name in order[k:] + order[:k]:
                if name in out.errors:
                    continue
                try:
                    out.values[name].append(measure(name, live[name]))
                except Exception as exc:
                    out.errors[name] = f"{type(exc).__name__}: {exc}"
                    out.values.pop(name, None)
        return out

    def cpu_per_chunk(self, chunks: int, rounds: int, names: Iterable[str]) -> tuple[Samples, int]:
        """Client CPU (user + system, every thread of this process) per streamed chunk, in µs;
        every answer checked. Figures 1, 8 and 9 are made of it."""
        prompt = prompt_for_chunks(chunks)
        expected = expected_answer(prompt)
        n = content_chunks(prompt)

        def check(driver: Driver) -> None:
            got = driver.stream(prompt)
            if got != expected:
                raise AssertionError(f"wrong answer: {len(got)} of {len(expected)} chars")

        def measure(name: str, driver: Driver) -> float:
            # Collect first, so one contender's garbage is not collected on another's clock.
            gc.collect()
            start = time.process_time()
            got = driver.stream(prompt)
            used = time.process_time() - start
            if got != expected:
                raise AssertionError(f"wrong answer: {len(got)} of {len(expected)} chars")
            return used / n * 1e6

        return self.interleave(rounds, measure, check, names), n


def run_child(args: list[str], timeout: float) -> dict[str, Any]:
    """``python -m ARGS`` (a figure that needs a process of its own); its last line's JSON."""
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


# ------------------------------------------------------------------------------------ rows


def missing_row(figure: str, name: str, reason: str, unit: str) -> Row:
    return Row(figure, name, None, unit, "—", status=NOT_AVAILABLE, note=reason)


def error_row(figure: str, name: str, error: str, unit: str) -> Row:
    return Row(figure, name, None, unit, "—", status=ERROR, note=error)


def per_contender(
    figure: str,
    samples: Samples,
    missing: dict[str, str],
    unit: str,
    make: Callable[[Contender, float], Row],
    contenders: Iterable[Contender] = MAIN,
) -> list[Row]:
    """One row per contender: not available, failed, or ``make(contender, median)``."""
    rows = []
    for c in contenders:
        if c.name in missing:
            rows.append(missing_row(figure, c.name, missing[c.name], unit))
        elif c.name in samples.errors:
            rows.append(error_row(figure, c.name, samples.errors[c.name], unit))
        else:
            value = samples.median(c.name)
            if value is not None:
                rows.append(make(c, value))
    return rows
