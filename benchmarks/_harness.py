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
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

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


def run_child(args: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``python -m ARGS`` (a figure that needs a process of its own); its last line's JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if proc.stderr.strip():
        # Warnings or logged errors of the child (e.g. "Task exception was never retrieved").
        out["stderr"] = proc.stderr[-3000:]
    return out


_Server = TypeVar("_Server", bound="ChildServer")


def bytecode_env() -> dict[str, str]:
    """This environment, but with bytecode written: a figure whose child imports numpy and
    Pillow in a sandbox measures them as a first import leaves them, not recompiled each run."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class ChildServer:
    """``python -m MODULE serve --port N`` as a child process: a local server that a figure's
    client measures against without sharing its interpreter. The child prints
    ``{"base_url": ...}`` once it serves, may answer lines on its stdin, and ends at SIGTERM
    or at the end of its input."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.base_url = ""

    def __enter__(self: _Server) -> _Server:
        from r1v4.testing import free_port

        self._log = tempfile.TemporaryFile("w+")  # closed in __exit__
        self._proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve", "--port", str(free_port())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._log.seek(0)
            raise RuntimeError(f"{self.module} did not start:\n{self._log.read()[-3000:]}")
        self.base_url = json.loads(line)["base_url"]
        return self

    def ask(self, line: str) -> Any:
        """Send ``line`` to the child; its one-line JSON answer."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{line}\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            proc.stdout.close()
        if self._log is not None:
            self._log.close()


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
