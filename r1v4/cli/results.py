"""The results file of ``r1v4 batch``: one JSON line per case, appended and synced as each ends.

Crash safety comes from three rules: a record is written with a single ``write`` of the whole
line (newline included) on an ``O_APPEND`` descriptor and ``fsync``-ed before the next one; a
rewrite (``--retry-failed`` dropping failed lines) goes to a temporary file that replaces the
old one atomically (a temporary file left by a crash before the rename is removed on the next
open); and on opening, anything after the last newline — a line torn by a crash mid-write — is
cut off, so every earlier line stays whole and the torn case simply runs again.
Generated images are written (and synced) before the line that references them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from r1v4.report.records import parse_lines, record_of

if TYPE_CHECKING:
    from filelock import BaseFileLock

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


def _lock(lock_path: Path, path: Path) -> BaseFileLock:
    """``lock_path``, locked for this store alone (another store of this process is refused
    too): ``flock`` on POSIX, ``msvcrt.locking`` on Windows, both dropped by the OS when the
    process dies, so a crashed run leaves no stale lock behind."""
    from filelock import FileLock, Timeout

    lock = FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise StoreError(f"{path} is being written by another r1v4 batch run") from None
    return lock


def _safe_name(case_id: str) -> str:
    """A folder name for a case: readable, and distinct per id even where the readable part is
    not ("a/b", "a b" and "a_b" clean to the same text, long ids to the same prefix)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._")[:60] or "case"
    digest = hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:10]
    return f"{cleaned}-{digest}"


class ResultStore:
    """An open results file: what is done, and an append that survives a crash.

    One run at a time holds ``RESULTS.jsonl.lock`` (a lock of its own rather than one on the
    results file, which a rewrite replaces with another file) for as long as the store is open.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.images_root = self.path.with_name(self.path.name + ".images")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.lock_path, self.path)
        try:
            self._remove_stale_temps()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except BaseException:
            self._lock.release()
            raise
        try:
            self.records = self._load()
        except BaseException:
            self.close()
            raise

    def _temp_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")

    def _remove_stale_temps(self) -> None:
        # A rewrite that died before its rename left its temporary file; holding the lock, no
        # live run can be writing one for this results file now.
        stale = re.compile(rf"\.{re.escape(self.path.name)}\.\d+\.tmp")
        for entry in self.path.parent.iterdir():
            if stale.fullmatch(entry.name):
                log.warning("%s: removing %s, left by an interrupted rewrite", self.path, entry)
                entry.unlink(missing_ok=True)

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
        again), atomically: a crash leaves either the old file or the new one.

        Every other line is kept byte for byte, lines this version cannot read included.
        """
        dropped = {cid for cid in case_ids if self.records.get(cid, {}).get("status", "ok") != "ok"}
        if not dropped:
            return 0
        kept = bytearray()
        with open(self.path, "rb") as old:
            for line in old:  # split on b"\n" only, endings kept
                record = record_of(line)
                if record is None or record["id"] not in dropped:
                    kept += line
        tmp = self._temp_path()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, bytes(kept))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot rewrite {self.path}: {exc}") from exc
        _fsync_dir(self.path.parent)
        # Appends go to the new file; the lock (on the lock file) was held throughout.
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
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
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = -1  # a second close must not close a descriptor reused since
        self._lock.release()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
