"""A LlamaIndex tool as a backend of R1V4's own tools (``r1v4.tools.R1V4Tools``).

R1V4's ``text_search``, ``image_search`` and ``web_content`` take a plain callable
``query -> results``; :func:`tool_backend` turns a LlamaIndex tool (a ``FunctionTool``, a tool
of a ``ToolSpec`` such as Tavily's or DuckDuckGo's, a ``QueryEngineTool``, any ``BaseTool``) into
one, with an async ``acall`` for async calls. The tool's ``raw_output`` is given to the core as
plain data (documents and nodes become dicts); a ``ToolOutput`` flagged as an error raises, so
the core answers the model that the tool failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.schema import BaseNode, NodeWithScore
from llama_index.core.tools import BaseTool, ToolOutput
from llama_index.core.tools.types import adapt_to_async_tool

from r1v4 import InvalidRequestError

__all__ = ["tool_backend"]

# The argument a search or fetch tool takes its query (or URL) in, when it has several.
_QUERY_KEYS = ("query", "q", "search_query", "url", "urls", "input", "text")


class _LlamaIndexBackend:
    """``backend(query)`` and ``await backend.acall(query)`` over one LlamaIndex tool."""

    __slots__ = ("_key", "_tool", "tool")

    def __init__(self, tool: BaseTool) -> None:
        self.tool = tool
        self._tool = adapt_to_async_tool(tool)
        schema = tool.metadata.fn_schema
        fields = list(schema.model_fields) if schema is not None else []
        self._key = (
            fields[0] if len(fields) == 1 else next((k for k in _QUERY_KEYS if k in fields), None)
        )

    def __repr__(self) -> str:
        return f"tool_backend({self.tool.metadata.name!r})"

    def _kwargs(self, query: str) -> dict[str, Any]:
        assert self._key is not None
        return {self._key: [query] if self._key == "urls" else query}

    def __call__(self, query: str) -> Any:
        output = self._tool.call(**self._kwargs(query)) if self._key else self._tool.call(query)
        return _read(output)

    async def acall(self, query: str) -> Any:
        if self._key:
            output = await self._tool.acall(**self._kwargs(query))
        else:
            output = await self._tool.acall(query)
        return _read(output)


def tool_backend(tool: BaseTool) -> _LlamaIndexBackend:
    """A LlamaIndex tool as a search or web-content backend of ``R1V4Tools``.

    Example:
        .. code-block:: python

            from llama_index.tools.tavily_research import TavilyToolSpec
            from llama_index_r1v4 import tool_backend
            from r1v4.tools import R1V4Tools

            search = TavilyToolSpec(api_key="...").to_tool_list()[0]
            tools = R1V4Tools(text_search=tool_backend(search))

    Args:
        tool: any LlamaIndex tool. It is called with the query as its one argument, or as
            ``query=`` (or ``url=``, ``q=``, … whichever its schema has).

    Returns:
        A callable ``query -> results`` with ``async acall(query)``.

    Raises:
        InvalidRequestError: ``tool`` is not a LlamaIndex ``BaseTool``.
    """
    if not isinstance(tool, BaseTool):
        raise InvalidRequestError(
            f"tool_backend takes a LlamaIndex BaseTool, got {type(tool).__name__}"
        )
    return _LlamaIndexBackend(tool)


def _read(output: Any) -> Any:
    if isinstance(output, ToolOutput):
        if output.is_error:
            raise RuntimeError(output.content)
        raw = output.raw_output
        if isinstance(raw, (str, Mapping, list, tuple, BaseNode, NodeWithScore)):
            return _plain(raw)
        return output.content
    return _plain(output)


def _plain(value: Any) -> Any:
    """LlamaIndex's objects in a tool's answer as plain data the core reads."""
    if isinstance(value, NodeWithScore):
        value = value.node
    if isinstance(value, BaseNode):
        meta = dict(value.metadata)
        return {**meta, "content": value.get_content()}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
