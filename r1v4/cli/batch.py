"""``r1v4 batch``: every case of a cases file through R1V4, concurrently on one event loop.

Each case streams through :class:`r1v4.AsyncR1V4Client` (its ``max_retries`` is the only retry
layer), and its record is appended to the results file the moment it ends. SIGINT or SIGTERM
cancels the cases in flight (they run again on the next start) and returns with everything
finished already on disk; rerunning the same command resumes.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from r1v4 import DEFAULT_MODEL, AsyncR1V4Client, ChunkAccumulator, build_request
from r1v4.report.records import FORMAT, error_record, find_generated_images, reply_fields

from .cases import Case, Shard, load_cases
from .progress import Progress, make_progress
from .results import ResultStore

__all__ = ["BatchOptions", "BatchOutcome", "run_batch"]

DEFAULT_CONCURRENCY = 4
EXIT_FAILURES = 1
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}


@dataclass
class BatchOptions:
    """What ``r1v4 batch`` was asked to do (its command-line options)."""

    cases: Path
    output: Path
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    max_retries: int = 2
    timeout: float = 600.0
    shard: Shard | None = None
    retry_failed: bool = False
    enable_search: bool | None = None


@dataclass
class BatchOutcome:
    """What a run did: counts of this run, and the signal that stopped it, if any."""

    selected: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    interrupted_by: str | None = None
    failed_in_file: int = 0
    pending: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.interrupted_by is not None:
            return _SIGNAL_EXIT.get(self.interrupted_by, 130)
        return EXIT_FAILURES if self.failed_in_file else 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _question(case: Case) -> str:
    if case.question:
        return case.question
    for message in reversed(case.data.get("messages") or ()):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    p.get("text", "") for p in content if isinstance(p, dict) and "text" in p
                )
    return ""


async def run_case(client: AsyncR1V4Client, case: Case, options: BatchOptions) -> dict[str, Any]:
    """Run one case to its record (never raises for a failed call; cancellation propagates)."""
    model = case.data.get("model") or options.model
    enable_search = case.data.get("enable_search", options.enable_search)
    started_at, t0 = _now(), time.monotonic()
    first_token: float | None = None
    acc = ChunkAccumulator()
    error: dict[str, Any] | None = None
    try:
        request = build_request(
            model=model, messages=case.messages(), stream=True, enable_search=enable_search
        )
        async for chunk in client.stream(request):
            if first_token is None and chunk.choices:
                first_token = time.monotonic() - t0
            acc.add(chunk)
    except Exception as exc:  # a failed case is a record, never the end of the run
        error = error_record(exc)
    fields = reply_fields(acc.completion())
    if error is not None and not fields["answer"]:
        fields["answer"] = error["partial_content"]
        fields["reasoning"] = fields["reasoning"] or error["partial_reasoning"] or None
    return {
        "format": FORMAT,
        "id": case.id,
        "line": case.line,
        "status": "ok" if error is None else "failed",
        "case": case.data,
        "question": _question(case),
        "images": case.images,
        "model": model,
        "enable_search": enable_search,
        **fields,
        "timings": {
            "started_at": started_at,
            "finished_at": _now(),
            "seconds": round(time.monotonic() - t0, 3),
            "first_token_seconds": None if first_token is None else round(first_token, 3),
        },
        "error": error,
        "generated_images": [],
    }


def _save_images(store: ResultStore, record: dict[str, Any]) -> None:
    for n, image in enumerate(find_generated_images(record["tool_trace"])):
        record["generated_images"].append(
            {
                "path": store.write_image(record["id"], n, image.data, image.mime_type),
                "mime_type": image.mime_type,
                "bytes": len(image.data),
                "sha256": image.sha256,
                "tool_call_id": image.tool_call_id,
            }
        )


def _install_signals(on_signal: Callable[[str], None]) -> Callable[[], None]:
    """Route SIGINT/SIGTERM to ``on_signal`` on the running loop; returns the undo."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass

    def undo() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return undo


async def _run(
    options: BatchOptions, store: ResultStore, todo: list[Case], progress: Progress
) -> str | None:
    queue = collections.deque(todo)
    interrupted: list[str] = []

    async with AsyncR1V4Client(
        base_url=options.base_url, max_retries=options.max_retries, timeout=options.timeout
    ) as client:

        async def worker() -> None:
            while queue and not interrupted:
                case = queue.popleft()
                record = await run_case(client, case, options)
                # From here to the end of the loop body nothing awaits, so a cancellation
                # cannot split a record from its images or tear its line.
                _save_images(store, record)
                store.append(record)
                progress.record(record)

        count = min(options.concurrency, len(todo))
        workers = [asyncio.create_task(worker()) for _ in range(count)]

        def on_signal(name: str) -> None:
            if not interrupted:
                progress.note(f"{name}: stopping; cases in flight will run again on resume")
            interrupted.append(name)
            for task in workers:
                task.cancel()

        undo = _install_signals(on_signal)
        try:
            if workers:
                await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in workers:
                task.cancel()
            results = await asyncio.gather(*workers, return_exceptions=True)
            undo()
        for result in results:
            if isinstance(result, Exception):  # e.g. the disk is full: stop, loudly
                raise result
    return interrupted[0] if interrupted else None


def run_batch(options: BatchOptions, stream: IO[str] | None = None) -> BatchOutcome:
    """Run (or resume) a batch; the outcome's ``exit_code`` is what ``r1v4 batch`` exits with.

    Progress goes to ``stream`` (default: standard error).
    """
    if options.concurrency < 1:
        raise ValueError("--concurrency must be at least 1")
    cases = load_cases(options.cases)
    if options.shard is not None:
        cases = options.shard.select(cases)
    outcome = BatchOutcome(selected=len(cases))
    with ResultStore(options.output) as store:
        if options.retry_failed:
            store.drop_failed({case.id for case in cases})
        todo = [c for c in cases if not store.done(c.id, retry_failed=options.retry_failed)]
        outcome.skipped = len(cases) - len(todo)
        with make_progress(len(todo), outcome.skipped, stream or sys.stderr) as progress:
            outcome.interrupted_by = asyncio.run(_run(options, store, todo, progress))
        outcome.ok, outcome.failed = progress.done, progress.failed
        outcome.pending = [c.id for c in cases if c.id not in store.records]
        outcome.failed_in_file = sum(
            1 for c in cases if store.records.get(c.id, {}).get("status") == "failed"
        )
    return outcome
