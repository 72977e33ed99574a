"""Search and web-content backends: plain callables, called the same way from sync and async.

A backend is a callable ``backend(query) -> results`` (``query`` is text; for ``image_search``
it may be an image URL or a data URI, see :class:`~r1v4.tools.R1V4Tools`). It may be an
``async def`` function, or an object with both ``__call__`` and ``async def acall(query)``
(as the LangChain and LlamaIndex adapters give); async calls use ``acall`` (or the coroutine
function) and run a plain function in a worker thread, so a blocking HTTP search never stalls
the event loop. What the backend returns is read by :mod:`r1v4.tools._shapes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

__all__ = ["Backend", "acall_backend", "call_backend"]

Backend: TypeAlias = Callable[[str], Any]
"""A search or web-content backend: ``query -> results`` (sync or async, see the module)."""


def call_backend(backend: Backend, query: str) -> Any:
    """``backend(query)``, from sync code (an async-only backend is run to completion here,
    when no event loop runs in this thread)."""
    result = backend(query)
    if isinstance(result, Awaitable):
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(_await(result))
        close = getattr(result, "close", None)
        if close is not None:
            close()  # never awaited: say so instead of warning at garbage collection
        raise RuntimeError(
            "this backend is async only; call R1V4Tools.arun (not run) from a running event loop"
        )
    return result


async def acall_backend(backend: Backend, query: str) -> Any:
    """``backend(query)`` from async code, without blocking the event loop."""
    import asyncio
    import inspect

    acall: Callable[[str], Awaitable[Any]] | None = getattr(backend, "acall", None)
    if acall is not None:
        return await acall(query)
    if inspect.iscoroutinefunction(backend) or inspect.iscoroutinefunction(
        getattr(backend, "__call__", None)  # noqa: B004 (an object's async __call__)
    ):
        return await backend(query)
    result = await asyncio.to_thread(backend, query)
    if inspect.isawaitable(result):
        return await result
    return result


async def _await(result: Awaitable[Any]) -> Any:
    return await result
