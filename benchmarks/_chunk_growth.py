"""Figure 9: client CPU per streamed chunk at 3k, 30k and 100k chunks, beside the floor and the
minimal framework models, and how it grows.

Growth is the per-chunk cost at the largest size over that at the smallest. LlamaIndex's
contract (every ``ChatResponse`` carries the message so far) makes its minimal LLM's cost grow
with the length of the reply; that growth is the framework's. What r1v4 adds is its *added
growth*: its ratio to its yardstick at the largest size over the same ratio at the smallest
(1.0 = it grows exactly as the yardstick does).
"""

from __future__ import annotations

from typing import Any

from benchmarks._contenders import BY_NAME
from benchmarks._harness import Harness, Samples, error_row, missing_row
from benchmarks._report import Row, verdict
from benchmarks._sizes import Sizes

# contender -> the yardstick its growth is compared with
YARDSTICKS = {
    "r1v4 core": "floor",
    "ChatR1V4": "minimal LangChain",
    "R1V4 (LlamaIndex)": "minimal LlamaIndex",
}
# Per-chunk costs on this shared machine move by several percent from run to run.
ADDED_GROWTH = 1.1
MEASURED = tuple(
    BY_NAME[n]
    for n in (
        "floor",
        "r1v4 core",
        "minimal LangChain",
        "ChatR1V4",
        "minimal LlamaIndex",
        "R1V4 (LlamaIndex)",
    )
)


def _growth(small: Samples, large: Samples, name: str) -> float | None:
    a, b = small.median(name), large.median(name)
    return None if a is None or b is None or a <= 0 else b / a


def rows(h: Harness, s: Sizes, missing: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    names = h.names(MEASURED)
    by_size: dict[int, Samples] = {}
    for size in s.growth_chunks:
        samples, chunks = h.cpu_per_chunk(size, s.growth_rounds, names)
        by_size[chunks] = samples
    sizes = sorted(by_size)
    small, large = by_size[sizes[0]], by_size[sizes[-1]]
    figure = f"9 CPU/chunk at {' / '.join(f'{n:,}' for n in sizes)} chunks"
    out: list[Row] = []
    for c in MEASURED:
        if c.name in missing:
            out.append(missing_row(figure, c.name, missing[c.name], "µs"))
            continue
        failed = next(
            (by_size[n].errors[c.name] for n in sizes if c.name in by_size[n].errors), None
        )
        if failed is not None:
            out.append(error_row(figure, c.name, failed, "µs"))
            continue
        costs = [by_size[n].median(c.name) for n in sizes]
        growth = _growth(small, large, c.name)
        text = " / ".join("—" if v is None else f"{v:.1f}" for v in costs) + " µs"
        text += "" if growth is None else f", grows {growth:.2f}×"
        row = Row(figure, c.name, growth, "× growth", text)
        yardstick = YARDSTICKS.get(c.name)
        if yardstick is not None:
            at_small = small.ratio(c.name, yardstick)
            at_large = large.ratio(c.name, yardstick)
            added = None if not at_small or at_large is None else at_large / at_small
            row.x_peer = added
            row.target = f"added growth ≤ {ADDED_GROWTH}× ({yardstick})"
            row.status = verdict(None if added is None else added <= ADDED_GROWTH)
            if at_small is not None and at_large is not None:
                row.note = (
                    f"× {yardstick}: {at_small:.2f} at {sizes[0]:,} chunks, "
                    f"{at_large:.2f} at {sizes[-1]:,}"
                )
        out.append(row)
    raw = {
        "rounds": s.growth_rounds,
        "samples_us": {str(n): by_size[n].values for n in sizes},
        "errors": {str(n): by_size[n].errors for n in sizes},
    }
    return out, raw
