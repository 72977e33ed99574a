"""The results file of ``r1v4 batch``: one JSON line per case, appended and synced as each ends.

Crash safety comes from three rules: a record is written with a single ``write`` of the whole
line (newline included) on an ``O_APPEND`` descriptor and ``fsync``-ed before the next one; a
rewrite (``--retry-failed`` dropping failed lines) goes to a temporary file that replaces the
old one atomically; and on opening, anything after the last newline — a line torn by a crash
mid-write — is cut off, so every earlier line stays whole and the torn case simply runs again.
Generated images are written (and synced) before the line that references them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from r1v4.report.records import parse_lines

__all__ = ["ResultStore", "StoreError"]

log = logging.getLogger("r1v4.cli")


class StoreError(RuntimeError):
    """The results file cannot be used (locked by another run, unreadable...)."""


def _fsync_dir(path: Path) -> None:
    # A new or renamed file survives a power cut only once its directory entry is synced.
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _safe_name(case_id: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._")[:60]
    return cleaned or "case"


class ResultStore:
    """An open results file: what is done, and an append that survives a crash."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.images_root = self.path.with_name(self.path.name + ".images")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._lock()
            self.records = self._load()
        except BaseException:
            os.close(self._fd)
            raise

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one run per file is on the user
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"{self.path} is being written by another r1v4 batch run") from None

    def _load(self) -> dict[str, dict[str, Any]]:
        data = self.path.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            log.warning(
                "%s: dropping %d byte(s) of a line torn by an interrupted write",
                self.path,
                len(data) - cut,
            )
            os.ftruncate(self._fd, cut)
            os.fsync(self._fd)
        by_id: dict[str, dict[str, Any]] = {}
        for record in parse_lines(data[:cut], self.path):
            previous = by_id.get(record["id"])
            # A case done once stays done, whatever a later line says.
            if previous is None or previous.get("status") != "ok":
                by_id[record["id"]] = record
        return by_id

    def done(self, case_id: str, *, retry_failed: bool) -> bool:
        record = self.records.get(case_id)
        if record is None:
            return False
        return record.get("status") == "ok" or not retry_failed

    def drop_failed(self, case_ids: set[str]) -> int:
        """Rewrite the file without the failed records of ``case_ids`` (they are about to run
        again), atomically: a crash leaves either the old file or the new one."""
        dropped = {cid for cid in case_ids if self.records.get(cid, {}).get("status", "ok") != "ok"}
        if not dropped:
            return 0
        lines = [
            json.dumps(record, ensure_ascii=False) + "\n"
            for cid, record in self.records.items()
            if cid not in dropped
        ]
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        # The lock and the descriptor follow the new file.
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        self._lock()
        for cid in dropped:
            del self.records[cid]
        return len(dropped)

    def write_image(self, case_id: str, n: int, data: bytes, mime_type: str) -> str:
        """Write a generated image beside the results; return its path relative to them."""
        ext = mime_type.split("/", 1)[1].replace("jpeg", "jpg")
        folder = self.images_root / _safe_name(case_id)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{n}.{ext}"
        tmp = folder / f".{n}.{ext}.tmp"
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        _fsync_dir(folder)
        return target.relative_to(self.path.parent).as_posix()

    def append(self, record: dict[str, Any]) -> None:
        """Append one record as one line, and sync it to disk before returning."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        _write_all(self._fd, line)
        os.fsync(self._fd)
        self.records[record["id"]] = record

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
