"""The code's working directory on the host: made fresh per run, holding the conversation's
images; afterwards the images the code saved are read back from it, and it is removed.

Reading back is done as if the directory were hostile, because its content was written by the
model's code: symbolic links (which could point at the user's files), FIFOs and devices are
skipped, files are opened with ``O_NOFOLLOW``, the walk is bounded in depth and entries, and
only whole images within the size limit are returned (checked by their bytes, not their names).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from r1v4._errors import ImageError
from r1v4._images._sniff import identify
from r1v4.tools._executor import CodeFile
from r1v4.tools._limits import CodeLimits
from r1v4.tools._results import ToolImage

__all__ = ["Workspace"]

_MAX_DEPTH = 4
_MAX_ENTRIES = 2000


class Workspace:
    """A fresh directory holding ``files``; :meth:`collect` the images made, then :meth:`close`."""

    __slots__ = ("_inputs", "path")

    def __init__(self, files: tuple[CodeFile, ...], parent: str | None = None) -> None:
        self.path = tempfile.mkdtemp(prefix="r1v4-code-", dir=parent)
        self._inputs: dict[str, tuple[int, int, int]] = {}
        try:
            for f in files:
                target = os.path.join(self.path, f.name)
                with open(target, "xb") as out:
                    out.write(f.data)
                st = os.stat(target)
                self._inputs[f.name] = (st.st_ino, st.st_size, st.st_mtime_ns)
        except BaseException:
            self.close()
            raise

    def collect(self, limits: CodeLimits) -> tuple[tuple[ToolImage, ...], tuple[str, ...]]:
        """The images the code saved (new or changed files), oldest first, and notes on those
        not returned."""
        found: list[tuple[int, str, int]] = []
        for rel, st in self._walk():
            if self._inputs.get(rel) == (st.st_ino, st.st_size, st.st_mtime_ns):
                continue  # a conversation image the code left alone
            found.append((st.st_mtime_ns, rel, st.st_size))
        found.sort()
        images: list[ToolImage] = []
        notes: list[str] = []
        extra = 0
        for _, rel, size in found:
            head = self._read(rel, 64)
            if head is None or identify(head)[0] is None:
                continue  # not an image (or one of a kind no request takes)
            if len(images) >= limits.images:
                extra += 1
                continue
            if size > limits.image_bytes:
                notes.append(
                    f"{rel} was not returned: {size:,} bytes, over the limit of "
                    f"{limits.image_bytes:,} bytes per image."
                )
                continue
            data = self._read(rel, limits.image_bytes + 1)
            if data is None:
                continue
            try:
                images.append(ToolImage.from_bytes(rel, data, limits.image_bytes))
            except ImageError as exc:
                notes.append(f"{rel} was not returned: {exc.message}.")
        if extra:
            notes.append(
                f"{extra} more image(s) were not returned: at most {limits.images} per run."
            )
        return tuple(images), tuple(notes)

    def close(self) -> None:
        """Remove the directory, whatever modes the code left on what it made."""
        if sys.version_info >= (3, 12):
            shutil.rmtree(self.path, onexc=_force)
        else:
            shutil.rmtree(self.path, onerror=_force)

    # -- reading what the code left -----------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        seen = 0
        pending: list[tuple[str, int]] = [("", 0)]
        while pending:
            rel_dir, depth = pending.pop()
            try:
                entries = list(os.scandir(os.path.join(self.path, rel_dir)))
            except OSError:
                continue
            for entry in sorted(entries, key=lambda e: e.name):
                seen += 1
                if seen > _MAX_ENTRIES:
                    return
                rel = os.path.join(rel_dir, entry.name)
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode) and depth < _MAX_DEPTH:
                    pending.append((rel, depth + 1))
                elif stat.S_ISREG(st.st_mode):
                    yield rel, st

    def _read(self, rel: str, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of a regular file, never through a link; None if unreadable."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(os.path.join(self.path, rel), flags)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            return f.read(limit)


def _force(func: Callable[..., Any], path: str, _exc: Any) -> None:
    """``rmtree``'s error handler: make the parent writable and the entry removable, retry."""
    with contextlib.suppress(OSError):
        parent = Path(path).parent
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
        func(path)
