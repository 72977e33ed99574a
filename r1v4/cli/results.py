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
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from r1v4.report.records import record_of

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


def _key(case_id: str) -> int:
    """What the store keeps of a case id: 64 bits of its BLAKE2b hash (two ids of a file of a
    million cases share one with a chance of about 3 in 10^8)."""
    digest = hashlib.blake2b(case_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _safe_name(case_id: str) -> str:
    """A folder name for a case: readable, and distinct per id even where the readable part is
    not ("a/b", "a b" and "a_b" clean to the same text, long ids to the same prefix)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._")[:60] or "case"
    digest = hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:10]
    return f"{cleaned}-{digest}"


class ResultStore:
    """An open results file: which cases are done, and an append that survives a crash.

    What the store holds in memory is the status of each case id (hashed, a few dozen bytes a
    case), never a record: opening it reads the file one line at a time, and an append forgets
    the line once it is on disk, so a run over a results file of any size stays small.

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
        # Keys (see _key) of the cases with an "ok" record, and of those with only others.
        self._ok: set[int] = set()
        self._failed: set[int] = set()
        try:
            self._load()
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

    def _load(self) -> None:
        """Learn each case's status from the file, streaming it; cut off a torn last line."""
        whole = 0
        with open(self.path, "rb") as f:
            for number, line in enumerate(f, 1):  # split on b"\n" only, endings kept
                if not line.endswith(b"\n"):
                    break  # torn by a crash mid-write: cut off below
                whole += len(line)
                record = record_of(line)
                if record is not None:
                    self._note(record["id"], record.get("status"))
                elif line.strip():
                    log.warning("%s:%d: not a result record, ignored", self.path, number)
        size = os.fstat(self._fd).st_size
        if whole < size:
            log.warning(
                "%s: dropping %d byte(s) of a line torn by an interrupted write",
                self.path,
                size - whole,
            )
            os.ftruncate(self._fd, whole)
            os.fsync(self._fd)

    def _note(self, case_id: str, status: object) -> None:
        key = _key(case_id)
        if status == "ok":
            self._ok.add(key)
            self._failed.discard(key)
        elif key not in self._ok:  # a case done once stays done, whatever a later line says
            self._failed.add(key)

    def status(self, case_id: str) -> Literal["ok", "failed"] | None:
        """``"ok"`` when the case has a successful record, ``"failed"`` when it has only
        others, ``None`` when it has none."""
        key = _key(case_id)
        if key in self._ok:
            return "ok"
        return "failed" if key in self._failed else None

    def done(self, case_id: str, *, retry_failed: bool) -> bool:
        status = self.status(case_id)
        return status == "ok" or (status == "failed" and not retry_failed)

    def __len__(self) -> int:
        """How many cases have a record."""
        return len(self._ok) + len(self._failed)

    def drop_failed(self, case_ids: Iterable[str]) -> int:
        """Rewrite the file without the failed records of ``case_ids`` (they are about to run
        again), atomically: a crash leaves either the old file or the new one.

        Every other line is kept byte for byte, lines this version cannot read included; the
        file is copied line by line, never held whole.
        """
        dropped = {key for key in map(_key, case_ids) if key in self._failed}
        if not dropped:
            return 0
        tmp = self._temp_path()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with open(fd, "wb") as new, open(self.path, "rb") as old:
                for line in old:  # split on b"\n" only, endings kept
                    record = record_of(line)
                    if record is None or _key(record["id"]) not in dropped:
                        new.write(line)
                new.flush()
                os.fsync(new.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot rewrite {self.path}: {exc}") from exc
        _fsync_dir(self.path.parent)
        # Appends go to the new file; the lock (on the lock file) was held throughout.
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        self._failed -= dropped
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
        """Append one record as one line, and sync it to disk before returning; the store
        keeps only its status."""
        try:
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in a case): escaped, as JSON can
            line = (json.dumps(record) + "\n").encode("ascii")
        _write_all(self._fd, line)
        os.fsync(self._fd)
        self._note(record["id"], record.get("status"))

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
