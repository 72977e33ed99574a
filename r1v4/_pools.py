"""Connection pools, each kept where it belongs: one per process, one per event loop.

- A forked child never uses its parent's sockets or locks (:class:`ForkAware`,
  :class:`ForkSafeLock`).
- The async client gets one pool per event loop, closed when that loop shuts down
  (:class:`LoopPools`); the sync client one pool, closed at garbage collection or exit
  (:class:`SyncPool`).
- How a stream's connection is closed (and given back) is :mod:`r1v4._stream_close`.

asyncio is imported where used: ``import r1v4`` stays cheap for a sync caller.
"""

from __future__ import annotations

import contextlib
import importlib
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import httpx

from r1v4._fork import ForkAware, ForkSafeLock

if TYPE_CHECKING:
    import asyncio

__all__ = ["LoopPools", "SyncPool", "shared_ssl_context"]

# httpx's default pool (100 connections, 20 kept alive) queues stream 101 behind streams that
# last minutes, and httpcore re-scans its whole queue on every request and release (quadratic):
# 1,000 concurrent streams on one loop stalled for good. The openai SDK's limits, measured with
# `python -m benchmarks` (figure 4).
_POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

_ssl_lock = threading.Lock()
_ssl_ctx: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process, with the transport modules imported.

    Building a context loads the CA bundle (tens of milliseconds) and httpx imports httpcore
    (and trio, when installed) on its first client: up to 200 ms. The async client makes one
    httpx client per event loop, inside that loop, where this would block every other task; so
    it is paid once, when an r1v4 client is constructed. Contexts are safe to share.
    """
    global _ssl_ctx
    if _ssl_ctx is None:
        with _ssl_lock:
            if _ssl_ctx is None:
                import certifi
                import httpcore  # noqa: F401

                for lazy in ("httpcore._backends.anyio", "anyio._backends._asyncio"):
                    with contextlib.suppress(ImportError):  # only a warm-up: never required
                        importlib.import_module(lazy)
                _ssl_ctx = ssl.create_default_context(cafile=certifi.where())
    return _ssl_ctx


def _pool_options(timeout: httpx.Timeout) -> dict[str, Any]:
    return {
        "timeout": timeout,
        "follow_redirects": False,
        "verify": shared_ssl_context(),
        "limits": _POOL_LIMITS,
    }


# ---------------------------------------------------------------------------------- sync


class SyncPool(ForkAware):
    """The sync client's ``httpx.Client``: the one given (used as given, never closed), or one
    made on first use, shared by every thread and closed at garbage collection or exit."""

    __slots__ = ("_client", "_finalizer", "_lock", "_own", "_timeout")

    def __init__(self, timeout: httpx.Timeout, given: httpx.Client | None) -> None:
        super().__init__()
        self._timeout = timeout
        self._own = given is None
        self._client = given
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._lock = ForkSafeLock()
        if self._own:
            shared_ssl_context()  # paid here, once per process, not on the first request

    @property
    def client(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = self._client = httpx.Client(**_pool_options(self._timeout))
                    # Closed at garbage collection or interpreter exit, whichever comes first,
                    # so an object nobody closed leaves no socket behind.
                    self._finalizer = weakref.finalize(self, client.close)
        return client

    def close(self) -> None:
        """Close the pooled connections (only if r1v4 created them)."""
        if self._own and self._client is not None:
            self._client.close()
            self._forget()

    def after_fork(self) -> None:
        if self._own:
            self._forget()  # the parent's sockets are the parent's to close

    def _forget(self) -> None:
        self._client = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None


# --------------------------------------------------------------------------------- async


class LoopPools(ForkAware):
    """The async client's ``httpx.AsyncClient``: the one given (it belongs to the loop it was
    made in, is used as given and never closed), or one per event loop, made on first use in
    that loop and closed when the loop shuts down (``asyncio.run`` finalises it).

    The close rides on an async generator the loop knows about: ``loop.shutdown_asyncgens()``
    (public asyncio API, which ``asyncio.run`` and ``asyncio.Runner`` await before closing the
    loop, while it can still run the close) finalises it. asyncio has no other documented hook
    for "this loop is ending": no close callback, and a ``weakref.finalize`` on the loop runs
    after it can no longer run a coroutine, so the sockets could not be closed cleanly. A loop
    closed without it (a hand-made loop's ``close()``) is forgotten on the next ``get()``.
    """

    __slots__ = ("_by_loop", "_given", "_lock", "_timeout")

    def __init__(self, timeout: httpx.Timeout, given: httpx.AsyncClient | None) -> None:
        super().__init__()
        self._timeout = timeout
        self._given = given
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop,
            tuple[httpx.AsyncClient, AsyncGenerator[None, None], list[bool]],
        ] = weakref.WeakKeyDictionary()
        self._lock = ForkSafeLock()
        if given is None:
            shared_ssl_context()  # built now rather than inside the first event loop

    def __len__(self) -> int:
        return len(self._by_loop)

    def after_fork(self) -> None:
        self._by_loop = weakref.WeakKeyDictionary()

    async def get(self) -> httpx.AsyncClient:
        """The client for the running event loop."""
        if self._given is not None:
            return self._given
        import asyncio

        loop = asyncio.get_running_loop()
        entry = self._by_loop.get(loop)
        if entry is not None:
            return entry[0]
        self._forget_closed_loops()
        client = httpx.AsyncClient(**_pool_options(self._timeout))
        abandoned: list[bool] = []
        keeper = self._close_with_loop(client, abandoned)
        # Starting the generator registers it with the loop; asyncio.run() closes live
        # generators before it closes the loop, which is how the pool gets closed in time.
        await keeper.__anext__()
        with self._lock:
            self._by_loop[loop] = (client, keeper, abandoned)
        return client

    async def close_running(self) -> None:
        """Close the running loop's pool, if r1v4 made one."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._by_loop.pop(loop, None)
        if entry is not None:
            await entry[1].aclose()

    def _forget_closed_loops(self) -> None:
        """Drop the pools of loops closed without ``shutdown_asyncgens`` (a hand-made loop's
        ``close()``): nothing can close them any more, and the map must not keep them alive."""
        with self._lock:
            dead = [(lp, e) for lp, e in self._by_loop.items() if lp.is_closed()]
            for lp, _ in dead:
                del self._by_loop[lp]
        for _, (_client, keeper, abandoned) in dead:
            abandoned.append(True)
            # Finish the keeper here, so no finaliser later asks the closed loop to do it.
            closing = keeper.aclose()
            with contextlib.suppress(StopIteration):
                closing.send(None)

    async def _close_with_loop(
        self, client: httpx.AsyncClient, abandoned: list[bool]
    ) -> AsyncGenerator[None, None]:
        # Holds no reference to its loop: the map is keyed weakly by the loop.
        try:
            yield
        finally:
            with self._lock:
                for lp, entry in list(self._by_loop.items()):
                    if entry[0] is client:
                        del self._by_loop[lp]
            if not abandoned:
                await client.aclose()
