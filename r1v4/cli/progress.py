"""Progress of a batch run: a live bar on a terminal, one plain line per case otherwise."""

from __future__ import annotations

import time
from typing import IO, Any

__all__ = ["Progress", "make_progress"]


class Progress:
    """Counts cases (``ok``, ``failed``) and tokens; the plain form writes a log line per
    finished case."""

    def __init__(self, total: int, skipped: int, stream: IO[str]) -> None:
        self.total = total
        self.skipped = skipped
        self.ok = 0
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
        return self.ok + self.failed

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.finished / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        return (self.total - self.finished) / rate if rate > 0 else None

    def record(self, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            self.ok += 1
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


class _BarProgress(Progress):
    """The same counts as a live ``tqdm`` bar: done / failed, tokens, rate and ETA."""

    def __init__(self, total: int, skipped: int, stream: IO[str]) -> None:
        super().__init__(total, skipped, stream)
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            file=stream,
            desc="r1v4 batch",
            unit="case",
            dynamic_ncols=True,
            delay=0,
        )
        self._bar.set_postfix(failed=0, tokens=0, refresh=False)

    def __enter__(self) -> Progress:
        if self.skipped:
            self.note(f"{self.skipped} case(s) already done, skipped")
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def _on_record(self, record: dict[str, Any]) -> None:
        if record["status"] != "ok":
            error = record["error"] or {}
            self.note(f"{record['id']} failed: {error.get('type')}: {error.get('message')}")
        self._bar.set_postfix(failed=self.failed, tokens=self.tokens, refresh=False)
        self._bar.update(1)

    def note(self, text: str) -> None:
        self._bar.write(text, file=self._stream)


def make_progress(total: int, skipped: int, stream: IO[str]) -> Progress:
    """A live bar when ``stream`` is a terminal, else plain log lines (CI, Slurm, ``| tee``)."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return _BarProgress(total, skipped, stream)
    return Progress(total, skipped, stream)
