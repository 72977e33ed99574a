"""Data URIs already checked in this process, so a later pass returns them untouched.

A request carries the whole conversation, so without this every call would decode and check
every image of the history again, and an image an adapter has just encoded would be decoded
once more by the client. Where Pillow is installed that check is a decode of the image: for a
10 MB photo passed again (figure 5b of the benchmarks) about 100 ms of CPU (130-510 ms wall on
a busy two-core machine) on every turn, against 0.07 ms for the very string this registry
holds and 1-6 ms for an equal one built anew. A URI is found by identity first (the very
``str`` a check returned, which is what a history of messages hands back on each turn: O(1)),
then by content: an equal URI built anew, as an adapter does from a base64 block on every
call, costs one ``memcmp`` instead of a decode. Strings cannot be weakly referenced, so each
entry keeps its URI alive: the registry is bounded by count (256) and by total length
(32 MiB of text, which a history usually holds anyway), the least recently used leaving first.
A forked child starts with an empty registry: a thread of the parent may have been halfway
through an update at fork time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeGuard

from r1v4._fork import ForkAware
from r1v4._images._inputs import Options

__all__ = ["CHECKED", "CheckedUris"]

_SAMPLE = 32  # characters of the payload that, with its length, pick the one candidate


@dataclass(frozen=True, slots=True)
class _Entry:
    uri: str
    size: int
    """Decoded bytes."""
    pixels: int | None
    """Width x height from the header; ``None`` when the header did not say."""


class CheckedUris(ForkAware):
    """A bounded, thread-safe registry of canonical data URIs that passed every check."""

    __slots__ = ("_by_content", "_by_id", "_chars", "_lock", "max_chars", "max_entries")

    def __init__(self, max_entries: int = 256, max_chars: int = 32 * 1024 * 1024) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._reset()

    def passes(self, source: object, opts: Options) -> TypeGuard[str]:
        """Whether ``source`` equals a checked URI and its image meets ``opts``' limits."""
        if type(source) is not str:  # a str subclass may behave differently: check it
            return False
        with self._lock:
            # An entry holds its URI, so no other live object can have its id.
            entry = self._by_id.get(id(source))
            if entry is None:
                entry = self._by_content.get(_content_key(source))
                if entry is None or entry.uri != source:
                    return False
            self._by_id.move_to_end(id(entry.uri))
        if entry.size > opts.max_bytes:
            return False
        return opts.max_pixels is None or (
            entry.pixels is not None and entry.pixels <= opts.max_pixels
        )

    def add(self, uri: str, size: int, dims: tuple[int, int] | None) -> str:
        """Remember ``uri``, an image of ``size`` bytes and ``dims`` pixels; returns it."""
        if len(uri) > self.max_chars:
            return uri
        entry = _Entry(uri, size, dims[0] * dims[1] if dims else None)
        with self._lock:
            self._drop(self._by_id.pop(id(uri), None))
            self._by_id[id(uri)] = entry
            self._by_content[_content_key(uri)] = entry
            self._chars += len(uri)
            while len(self._by_id) > self.max_entries or self._chars > self.max_chars:
                self._drop(self._by_id.popitem(last=False)[1])
        return uri

    def after_fork(self) -> None:
        # Only a cache: the child starts empty rather than trust state another thread of the
        # parent may have left half-updated, under a lock nothing in the child would release.
        self._reset()

    def clear(self) -> None:
        with self._lock:
            self._by_id.clear()
            self._by_content.clear()
            self._chars = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def _reset(self) -> None:
        # A plain lock, not a ForkSafeLock: `passes` runs for every image of every request, and
        # after_fork replaces this lock with the rest.
        self._lock = threading.Lock()
        self._by_id: OrderedDict[int, _Entry] = OrderedDict()
        self._by_content: dict[tuple[int, str], _Entry] = {}
        self._chars = 0

    def _drop(self, entry: _Entry | None) -> None:
        if entry is None:
            return
        self._chars -= len(entry.uri)
        key = _content_key(entry.uri)
        if self._by_content.get(key) is entry:
            del self._by_content[key]


def _content_key(uri: str) -> tuple[int, str]:
    # A slice from the middle of the payload: the ends are alike across images of one
    # format (headers, PNG's IEND), the middle is not. Cheap: no pass over the whole string.
    middle = len(uri) // 2 + 16  # past any data URI header
    return len(uri), uri[middle : middle + _SAMPLE]


CHECKED = CheckedUris()
"""The process-wide registry every entry point consults and feeds."""
