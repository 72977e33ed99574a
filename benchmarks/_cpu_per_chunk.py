"""Figure 1: client CPU per streamed chunk (3,000 chunks), each contender against the floor and
the peer a user would otherwise pick. Process CPU time, so the server's cost is out of it."""

from __future__ import annotations

from typing import Any

from benchmarks._contenders import Contender
from benchmarks._harness import MAIN, Harness, per_contender
from benchmarks._report import NOT_AVAILABLE, Row, verdict
from benchmarks._sizes import Sizes

# The core against the floor; the adapters against their peers (ChatOpenAI, OpenAILike).
CORE_X_FLOOR = 1.3
ADAPTER_X_PEER = 0.4


def _target(c: Contender) -> tuple[str, float] | None:
    """``c``'s target: ("floor" or "peer", maximum ratio)."""
    if not c.ours:
        return None
    if c.family == "core":
        return ("floor", CORE_X_FLOOR)
    return ("peer", ADAPTER_X_PEER)


def rows(h: Harness, s: Sizes, missing: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    samples, chunks = h.cpu_per_chunk(s.cpu_chunks, s.cpu_rounds, h.names(MAIN))
    figure = f"1 CPU/chunk ({chunks} chunks)"

    def make(c: Contender, value: float) -> Row:
        x_floor = None if c.family == "floor" else samples.ratio(c.name, c.floor)
        x_peer = samples.ratio(c.name, c.peer)
        row = Row(figure, c.name, value, "µs", f"{value:.1f} µs", x_floor, x_peer)
        target = _target(c)
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
    return per_contender(figure, samples, missing, "µs", make), {**raw, "errors": samples.errors}
