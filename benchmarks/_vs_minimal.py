"""Figure 8: each adapter's client CPU per streamed chunk against the least its framework
requires (``_minimal``): ``ChatR1V4.stream`` against a minimal LangChain chat model,
``R1V4.stream_chat`` against a minimal LlamaIndex LLM, both reading the same SSE."""

from __future__ import annotations

from typing import Any

from benchmarks._contenders import BY_NAME, Contender
from benchmarks._harness import Harness, per_contender
from benchmarks._report import NOT_AVAILABLE, Row, verdict
from benchmarks._sizes import Sizes

# adapter -> (its yardstick, the largest ratio allowed)
TARGETS = {
    "ChatR1V4": ("minimal LangChain", 1.0),
    "R1V4 (LlamaIndex)": ("minimal LlamaIndex", 1.1),
}
MEASURED = tuple(
    BY_NAME[n] for n in ("ChatR1V4", "minimal LangChain", "R1V4 (LlamaIndex)", "minimal LlamaIndex")
)


def rows(h: Harness, s: Sizes, missing: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    samples, chunks = h.cpu_per_chunk(s.minimal_chunks, s.minimal_rounds, h.names(MEASURED))
    figure = f"8 CPU/chunk vs minimal ({chunks} chunks)"

    def make(c: Contender, value: float) -> Row:
        row = Row(figure, c.name, value, "µs", f"{value:.1f} µs")
        if c.name in TARGETS:
            yardstick, limit = TARGETS[c.name]
            ratio = samples.ratio(c.name, yardstick)
            row.x_peer = ratio
            row.target = f"≤ {limit}× {yardstick}"
            row.status = verdict(None if ratio is None else ratio <= limit)
            if ratio is None:
                row.status = NOT_AVAILABLE
                row.note = f"{yardstick} was not measured"
        return row

    raw = {
        "chunks": chunks,
        "rounds": s.minimal_rounds,
        "samples_us": samples.values,
        "errors": samples.errors,
    }
    return per_contender(figure, samples, missing, "µs", make, MEASURED), raw
