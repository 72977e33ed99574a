"""The figures measured in the harness process: CPU per chunk, time to first token, round
trips per second, keep-alive. Each returns raw samples; ``_main`` turns them into table rows.

Contenders run interleaved round by round (the order rotates each round), because this machine's
speed drifts with whatever else runs on it: a slow minute then hits every contender alike, and
ratios are taken within a round before the median is taken over rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks import _conns
from benchmarks._contenders import CONTENDERS, Contender, Driver, expected_answer
from benchmarks._text import content_chunks, prompt_for_chunks

SHORT_PROMPT = "Say hello."


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

    # ------------------------------------------------------------------------------ helpers

    def _interleave(
        self, rounds: int, measure: Callable[[str, Driver], float], warmup: Callable[[Driver], None]
    ) -> Samples:
        out = Samples()
        live = {}
        for name, driver in self.drivers.items():
            if name in self.broken:
                out.errors[name] = self.broken[name]
                continue
            try:
                warmup(driver)
            except Exception as exc:
                out.errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            live[name] = driver
            out.values[name] = []
        names = list(live)
        for round_ in range(rounds):
            k = round_ % len(names) if names else 0
            for name in names[k:] + names[:k]:
                if name in out.errors:
                    continue
                try:
                    out.values[name].append(measure(name, live[name]))
                except Exception as exc:
                    out.errors[name] = f"{type(exc).__name__}: {exc}"
                    out.values.pop(name, None)
        return out

    # ------------------------------------------------------------------------------ figures

    def cpu_per_chunk(self, chunks: int, rounds: int) -> tuple[Samples, int]:
        """Client CPU (user + system, every thread of this process) per streamed chunk, in µs."""
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

        return self._interleave(rounds, measure, check), n

    def first_token(self, rounds: int) -> Samples:
        """Wall time from the call to the first answer text, in ms, on a warm connection."""
        expected = expected_answer(SHORT_PROMPT)

        def check(driver: Driver) -> None:
            for _ in range(2):  # the first call also opens the connection
                _, got = driver.first_token(SHORT_PROMPT)
                if got != expected:
                    raise AssertionError(f"wrong answer: {got!r}")

        def measure(name: str, driver: Driver) -> float:
            seconds, got = driver.first_token(SHORT_PROMPT)
            if got != expected:
                raise AssertionError(f"wrong answer: {got!r}")
            return seconds * 1e3

        return self._interleave(rounds, measure, check)

    def round_trips(self, calls: int, rounds: int) -> Samples:
        """Non-stream calls per second, back to back, on the driver's pooled connection."""
        expected = expected_answer(SHORT_PROMPT)

        def check(driver: Driver) -> None:
            got = driver.call(SHORT_PROMPT)
            if got != expected:
                raise AssertionError(f"wrong answer: {got!r}")

        def measure(name: str, driver: Driver) -> float:
            gc.collect()
            start = time.perf_counter()
            for _ in range(calls):
                got = driver.call(SHORT_PROMPT)
            took = time.perf_counter() - start
            if got != expected:
                raise AssertionError(f"wrong answer: {got!r}")
            return calls / took

        return self._interleave(rounds, measure, check)

    def keepalive(self, available: dict[str, bool], calls: int) -> Samples:
        """TCP connections a fresh client opens over ``calls`` calls (stream and non-stream in
        turn), sync calls or async calls on one event loop."""
        out = Samples()
        expected = expected_answer(SHORT_PROMPT)
        for c in self.contenders:
            if not available.get(c.name):
                continue
            loop = asyncio.new_event_loop()
            driver: Driver | None = None
            try:
                driver = c.make(self.base_url, loop)
                before = _conns.opened[self.port]
                for i in range(calls):
                    got = driver.stream(SHORT_PROMPT) if i % 2 else driver.call(SHORT_PROMPT)
                    if got != expected:
                        raise AssertionError(f"wrong answer: {got!r}")
                out.values[c.name] = [float(_conns.opened[self.port] - before)]
            except Exception as exc:
                out.errors[c.name] = f"{type(exc).__name__}: {exc}"
            finally:
                try:
                    if driver is not None:
                        driver.close()
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()
        return out
