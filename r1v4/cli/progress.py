"""Progress of a batch run: a live bar on a terminal, one plain line per case otherwise."""

from __future__ import annotations

import time
from typing import IO, Any

__all__ = ["Progress", "make_progress"]


class Progress:
    """Counts cases and tokens; the plain form writes a log line per finished case."""

    def __init__(self, total: int, skipped: int, stream: IO[str]) -> None:
        self.total = total
        self.skipped = skipped
        self.done = 0
        self.failed = 0
        self.tokens = 0
        self.started = time.monotonic()
        self._stream = stream

    def __enter__(self) -> Progress:
        self._say(f"{self.total} case(s) to run ({self.skipped} already done)")
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.finished / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        return (self.total - self.finished) / rate if rate > 0 else None

    def record(self, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            self.done += 1
        else:
            self.failed += 1
        usage = record.get("usage") or {}
        self.tokens += int(usage.get("total_tokens") or 0)
        self._on_record(record)

    def _on_record(self, record: dict[str, Any]) -> None:
        eta = self.eta()
        detail = "ok"
        if record["status"] != "ok":
            error = record["error"] or {}
            detail = f"FAILED {error.get('type')}: {error.get('message')}"
        self._say(
            f"[{self.finished}/{self.total}] {record['id']} {detail} "
            f"({record['timings']['seconds']:.1f} s; {self.tokens} tokens so far; "
            f"{self.rate():.2f} cases/s; ETA {'?' if eta is None else f'{eta:.0f} s'})"
        )

    def note(self, text: str) -> None:
        self._say(text)

    def _say(self, text: str) -> None:
        print(f"r1v4 batch: {text}", file=self._stream, flush=True)


class _RichProgress(Progress):
    """The same counts as a live ``rich`` bar: done / failed, tokens, rate and ETA."""

    def __init__(self, total: int, skipped: int, stream: IO[str]) -> None:
        super().__init__(total, skipped, stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._console = Console(file=stream)
        self._bar = Bar(
            TextColumn("[bold]r1v4 batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[tokens]} tokens"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self._console,
        )
        self._task = self._bar.add_task("cases", total=total, failed=0, tokens=0, rate="")

    def __enter__(self) -> Progress:
        self._bar.start()
        if self.skipped:
            self.note(f"{self.skipped} case(s) already done, skipped")
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def _on_record(self, record: dict[str, Any]) -> None:
        if record["status"] != "ok":
            error = record["error"] or {}
            self.note(f"{record['id']} failed: {error.get('type')}: {error.get('message')}")
        self._bar.update(
            self._task,
            completed=self.finished,
            failed=self.failed,
            tokens=self.tokens,
            rate=f"{self.rate():.2f}/s",
        )

    def note(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False)


def make_progress(total: int, skipped: int, stream: IO[str]) -> Progress:
    """A live bar when ``stream`` is a terminal, else plain log lines (CI, Slurm, ``| tee``)."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return _RichProgress(total, skipped, stream)
    return Progress(total, skipped, stream)
