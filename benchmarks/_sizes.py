"""How big each figure's runs are: the full run, and the quick smoke run CI does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    cpu_chunks: int
    cpu_rounds: int
    ttft_rounds: int
    rt_calls: int
    rt_rounds: int
    keepalive_calls: int
    streams: int
    stream_chunks: int
    stall_s: float
    image_bytes: int
    image_repeats: int
    import_repeats: int
    minimal_chunks: int
    minimal_rounds: int
    growth_chunks: tuple[int, ...]
    growth_rounds: int
    generated_bytes: int
    soak_calls: int
    soak_concurrency: int
    resume_results: int
    sandbox_repeats: int
    loop_repeats: int
    loop_rounds: tuple[int, ...]
    loop_replies: int


FULL = Sizes(
    cpu_chunks=3000,
    cpu_rounds=9,
    ttft_rounds=40,
    rt_calls=50,
    rt_rounds=7,
    keepalive_calls=100,
    streams=1000,
    stream_chunks=200,
    stall_s=15.0,
    image_bytes=10_000_000,
    image_repeats=7,
    import_repeats=5,
    minimal_chunks=3000,
    minimal_rounds=9,
    growth_chunks=(3000, 30_000, 100_000),
    growth_rounds=3,
    generated_bytes=5_000_000,
    soak_calls=20_000,
    soak_concurrency=200,
    resume_results=100_000,
    sandbox_repeats=15,
    loop_repeats=15,
    loop_rounds=(1, 4, 16),
    loop_replies=7,
)
# Small enough for a CI smoke run on two busy cores; the numbers mean nothing.
QUICK = Sizes(
    cpu_chunks=100,
    cpu_rounds=2,
    ttft_rounds=2,
    rt_calls=3,
    rt_rounds=2,
    keepalive_calls=4,
    streams=40,
    stream_chunks=40,
    stall_s=10.0,
    image_bytes=500_000,
    image_repeats=2,
    import_repeats=1,
    minimal_chunks=100,
    minimal_rounds=2,
    growth_chunks=(100, 300, 1000),
    growth_rounds=1,
    generated_bytes=200_000,
    soak_calls=120,
    soak_concurrency=20,
    resume_results=500,
    sandbox_repeats=2,
    loop_repeats=2,
    loop_rounds=(1, 2, 4),
    loop_replies=1,
)
