"""Counting TCP connections client-side.

The server runs in another process and publishes no connection count over HTTP, so the client
counts its own connects: every httpx client (r1v4's, the openai SDK's, the floor's) opens its TCP
connections through httpcore's sync or anyio backend, and wrapping those two methods sees every
connect, whichever library or pool asked for it.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import psutil  # type: ignore[import-untyped]
from httpcore._backends.anyio import AnyIOBackend
from httpcore._backends.sync import SyncBackend

opened: Counter[int] = Counter()
"""TCP connections opened by this process since :func:`install`, by remote port."""

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    sync_connect = SyncBackend.connect_tcp
    async_connect = AnyIOBackend.connect_tcp

    @functools.wraps(sync_connect)
    def counting_connect(self: SyncBackend, host: str, port: int, *a: Any, **kw: Any) -> Any:
        stream = sync_connect(self, host, port, *a, **kw)
        opened[port] += 1
        return stream

    @functools.wraps(async_connect)
    async def counting_aconnect(
        self: AnyIOBackend, host: str, port: int, *a: Any, **kw: Any
    ) -> Any:
        stream = await async_connect(self, host, port, *a, **kw)
        opened[port] += 1
        return stream

    SyncBackend.connect_tcp = counting_connect  # type: ignore[method-assign]
    AnyIOBackend.connect_tcp = counting_aconnect  # type: ignore[method-assign]


def open_sockets(port: int) -> int:
    """TCP sockets this process holds to ``port`` right now (any state)."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port
    )
