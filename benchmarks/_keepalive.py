"""Figure 7: keep-alive, the TCP connections one fresh client opens over 100 calls."""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks import _conns
from benchmarks._contenders import Contender, Driver, expected_answer
from benchmarks._harness import MAIN, SHORT_PROMPT, Harness, Samples, per_contender
from benchmarks._report import Row, verdict
from benchmarks._sizes import Sizes


def measure(h: Harness, available: dict[str, bool], calls: int) -> Samples:
    """TCP connections a fresh client opens over ``calls`` calls (stream and non-stream in
    turn), sync calls or async calls on one event loop."""
    out = Samples()
    expected = expected_answer(SHORT_PROMPT)
    for c in MAIN:
        if not available.get(c.name):
            continue
        loop = asyncio.new_event_loop()
        driver: Driver | None = None
        try:
            driver = c.make(h.base_url, loop)
            before = _conns.opened[h.port]
            for i in range(calls):
                got = driver.stream(SHORT_PROMPT) if i % 2 else driver.call(SHORT_PROMPT)
                if got != expected:
                    raise AssertionError(f"wrong answer: {got!r}")
            out.values[c.name] = [float(_conns.opened[h.port] - before)]
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


def rows(
    h: Harness, s: Sizes, available: dict[str, bool], missing: dict[str, str]
) -> tuple[list[Row], dict[str, Any]]:
    samples = measure(h, available, s.keepalive_calls)
    figure = f"7 keep-alive: conns/{s.keepalive_calls} calls"

    def make(c: Contender, value: float) -> Row:
        row = Row(figure, c.name, value, "connections", f"{value:.0f}")
        if c.ours:
            # Issue 10: the pool is reused across calls (within one event loop for async).
            row.target = "≤ 1"
            row.status = verdict(value <= 1)
        return row

    raw = {"calls": s.keepalive_calls, "connections": samples.values, "errors": samples.errors}
    return per_contender(figure, samples, missing, "connections", make), raw
