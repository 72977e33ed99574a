"""Figure 2: time to first token added over the floor, on a warm connection."""

from __future__ import annotations

from typing import Any

from benchmarks._contenders import Contender, Driver, expected_answer
from benchmarks._harness import MAIN, SHORT_PROMPT, Harness, Samples, per_contender
from benchmarks._report import Row, verdict
from benchmarks._sizes import Sizes

ADDED_MS = 1.0


def measure(h: Harness, rounds: int) -> Samples:
    """Wall time from the call to the first answer text, in ms, on a warm connection."""
    expected = expected_answer(SHORT_PROMPT)

    def check(driver: Driver) -> None:
        for _ in range(2):  # the first call also opens the connection
            _, got = driver.first_token(SHORT_PROMPT)
            if got != expected:
                raise AssertionError(f"wrong answer: {got!r}")

    def one(name: str, driver: Driver) -> float:
        seconds, got = driver.first_token(SHORT_PROMPT)
        if got != expected:
            raise AssertionError(f"wrong answer: {got!r}")
        return seconds * 1e3

    return h.interleave(rounds, one, check, h.names(MAIN))


def rows(h: Harness, s: Sizes, missing: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    samples = measure(h, s.ttft_rounds)
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
            row.target = f"≤ +{ADDED_MS:.0f} ms"
            row.status = verdict(None if added is None else added <= ADDED_MS)
        return row

    raw = {"rounds": s.ttft_rounds, "samples_ms": samples.values, "errors": samples.errors}
    return per_contender(figure, samples, missing, "ms", make), raw
