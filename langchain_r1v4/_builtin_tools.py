"""A LangChain tool as a backend of R1V4's own tools (``r1v4.tools.R1V4Tools``).

R1V4's ``text_search``, ``image_search`` and ``web_content`` take a plain callable
``query -> results``; :func:`tool_backend` turns a LangChain ``BaseTool`` (``TavilySearch``,
``DuckDuckGoSearchResults``, a ``@tool`` function, …) into one, with an async ``acall`` for
async calls. What the tool returns is given to the core as plain data (documents and messages
become dicts and text); the core reads every common result shape from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool

from r1v4 import InvalidRequestError

__all__ = ["tool_backend"]

# The argument a search or fetch tool takes its query (or URL) in, when it has several.
_QUERY_KEYS = ("query", "q", "search_query", "url", "urls", "input", "text")


class _LangChainBackend:
    """``backend(query)`` and ``await backend.acall(query)`` over one LangChain tool."""

    __slots__ = ("_key", "tool")

    def __init__(self, tool: BaseTool) -> None:
        self.tool = tool
        args = list(tool.args)
        self._key = args[0] if len(args) == 1 else next((k for k in _QUERY_KEYS if k in args), None)

    def __repr__(self) -> str:
        return f"tool_backend({self.tool.name!r})"

    def _input(self, query: str) -> str | dict[str, Any]:
        if self._key is None:
            return query
        return {self._key: [query] if self._key == "urls" else query}

    def __call__(self, query: str) -> Any:
        return _plain(self.tool.invoke(self._input(query)))

    async def acall(self, query: str) -> Any:
        return _plain(await self.tool.ainvoke(self._input(query)))


def tool_backend(tool: BaseTool) -> _LangChainBackend:
    """A LangChain tool as a search or web-content backend of ``R1V4Tools``.

    Example:
        .. code-block:: python

            from langchain_tavily import TavilySearch
            from langchain_r1v4 import tool_backend
            from r1v4.tools import R1V4Tools

            tools = R1V4Tools(text_search=tool_backend(TavilySearch(max_results=5)))

    Args:
        tool: any LangChain tool. It is invoked with the query alone when it takes one
            argument, else with ``{"query": …}`` (or ``url``, ``q``, … whichever it has).

    Returns:
        A callable ``query -> results`` with ``async acall(query)``; what the tool returns
        (text, dicts, lists, ``Document`` s, a message) as plain data.

    Raises:
        InvalidRequestError: ``tool`` is not a LangChain ``BaseTool``.
    """
    if not isinstance(tool, BaseTool):
        raise InvalidRequestError(
            f"tool_backend takes a LangChain BaseTool, got {type(tool).__name__}"
        )
    return _LangChainBackend(tool)


def _plain(value: Any) -> Any:
    """LangChain's objects in a tool's answer as plain data the core reads."""
    if isinstance(value, Document):
        meta = dict(value.metadata)
        source = meta.get("source")
        if (
            "url" not in meta
            and isinstance(source, str)
            and source.startswith(("http://", "https://"))
        ):
            meta["url"] = source
        return {**meta, "content": value.page_content}
    if isinstance(value, BaseMessage):
        return _plain(value.content)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
