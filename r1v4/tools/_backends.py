"""Search and web-content backends: plain callables, called the same way from sync and async.

A backend is a callable ``backend(query) -> results`` (``query`` is text; for ``image_search``
it may be an image URL or a data URI, see :class:`~r1v4.tools.R1V4Tools`). It may be an
``async def`` function, or an object with both ``__call__`` and ``async def acall(query)``
(as the LangChain and LlamaIndex adapters give); async calls use ``acall`` (or the coroutine
function) and run a plain function in a worker thread, so a blocking HTTP search never stalls
the event loop. What the backend returns is read by :mod:`r1v4.tools._shapes`. The same two
calls, :func:`call_sync` and :func:`call_async`, run the user's tools of a plan
(:class:`~r1v4.tools.PlanRunner`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

__all__ = ["Backend", "acall_backend", "call_async", "call_backend", "call_sync"]

Backend: TypeAlias = Callable[[str], Any]
"""A search or web-content backend: ``query -> results`` (sync or async, see the module)."""


def call_backend(backend: Backend, query: str) -> Any:
    """``backend(query)``, from sync code (an async-only backend is run to completion here,
    when no event loop runs in this thread)."""
    return call_sync(backend, (query,), {}, method="R1V4Tools.arun (not run)")


async def acall_backend(backend: Backend, query: str) -> Any:
    """``backend(query)`` from async code, without blocking the event loop."""
    return await call_async(backend, (query,), {})


def call_sync(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], *, method: str
) -> Any:
    """``fn(*args, **kwargs)`` from sync code, for any callable a backend or a plan's tool may
    be: a coroutine function's coroutine is run to completion here when no event loop runs in
    this thread, and refused (``method`` names the async call to use instead) when one does.
    (``args`` and ``kwargs`` as values, not ``*args``, so a tool's parameter may be named
    anything, ``method`` and ``fn`` included.)"""
    result = fn(*args, **kwargs)
    if isinstance(result, Awaitable):
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(_await(result))
        close = getattr(result, "close", None)
        if close is not None:
            close()  # never awaited: say so instead of warning at garbage collection
        raise RuntimeError(f"this tool is async only; call {method} from a running event loop")
    return result


async def call_async(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Any:
    """``fn(*args, **kwargs)`` from async code, without blocking the event loop: its
    ``acall`` when it has one (as the adapters' wrappers of framework tools do), a coroutine
    function awaited, anything else in a worker thread."""
    import asyncio
    import inspect

    acall: Callable[..., Awaitable[Any]] | None = getattr(fn, "acall", None)
    if acall is not None:
        return await acall(*args, **kwargs)
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 (an object's async __call__)
    ):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


async def _await(result: Awaitable[Any]) -> Any:
    return await result
