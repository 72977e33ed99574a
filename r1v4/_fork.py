"""What a forked child must not inherit from its parent: connections and locks.

After ``os.fork()`` the child calls :meth:`ForkAware.after_fork` on every live
:class:`ForkAware`, so it never uses its parent's sockets, nor a lock a parent's thread held.
"""

from __future__ import annotations

import os
import threading
import weakref

__all__ = ["ForkAware", "ForkSafeLock"]


class ForkAware:
    """An object holding connections or locks that a forked child must not inherit: after
    ``os.fork()`` the child calls :meth:`after_fork` on every live one."""

    __slots__ = ("__weakref__",)

    def __init__(self) -> None:
        _LIVE.add(self)

    def after_fork(self) -> None:
        raise NotImplementedError


_LIVE: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for owner in list(_LIVE):
        owner.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ForkSafeLock(ForkAware):
    """A ``threading.Lock`` made anew in a forked child: a thread of the parent may have held it
    at fork time, and nothing would release it there."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
