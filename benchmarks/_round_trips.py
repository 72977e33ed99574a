"""Figure 3: non-stream round trips per second, back to back on one pooled connection."""

from __future__ import annotations

import gc
import time
from typing import Any

from benchmarks._contenders import Contender, Driver, expected_answer
from benchmarks._harness import MAIN, SHORT_PROMPT, Harness, Samples, per_contender
from benchmarks._report import Row
from benchmarks._sizes import Sizes


def measure(h: Harness, calls: int, rounds: int) -> Samples:
    """Non-stream calls per second, back to back, on the driver's pooled connection."""
    expected = expected_answer(SHORT_PROMPT)

    def check(driver: Driver) -> None:
        got = driver.call(SHORT_PROMPT)
        if got != expected:
            raise AssertionError(f"wrong answer: {got!r}")

    def one(name: str, driver: Driver) -> float:
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            got = driver.call(SHORT_PROMPT)
        took = time.perf_counter() - start
        if got != expected:
            raise AssertionError(f"wrong answer: {got!r}")
        return calls / took

    return h.interleave(rounds, one, check, h.names(MAIN))


def rows(h: Harness, s: Sizes, missing: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    samples = measure(h, s.rt_calls, s.rt_rounds)
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
    return per_contender(figure, samples, missing, "calls/s", make), raw
