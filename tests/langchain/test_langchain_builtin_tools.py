"""``langchain_r1v4.tool_backend``: a LangChain tool as the backend of R1V4's own search and
web-content tools (sync and async), its answer read into R1V4's observation shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.tools import BaseTool, tool

from langchain_r1v4 import tool_backend
from r1v4 import InvalidRequestError, ServerToolResult
from r1v4.tools import R1V4Tools

calls: list[Any] = []


@tool
def tavily_like(query: str, max_results: int = 5, topic: str = "general") -> dict[str, Any]:
    """Search the web (answers as TavilySearch does)."""
    calls.append(query)
    return {
        "query": query,
        "results": [
            {
                "title": "Kilimanjaro",
                "url": "https://example.com/kili",
                "content": "5,895 m.",
                "score": 0.9,
            }
        ],
    }


class PageLoader(BaseTool):
    """A web loader that answers with documents, as LangChain's loaders do."""

    name: str = "load_page"
    description: str = "Read a web page."

    def _run(self, url: str) -> list[Document]:
        return [
            Document(
                page_content=f"The text of {url}.", metadata={"source": url, "title": "A page"}
            )
        ]

    async def _arun(self, url: str) -> list[Document]:
        return [
            Document(
                page_content=f"Async text of {url}.", metadata={"source": url, "title": "A page"}
            )
        ]


@tool
def broken(query: str) -> str:
    """Always fails."""
    raise ConnectionError("search API down")


def test_a_tavily_like_tool_answers_text_search() -> None:
    calls.clear()
    tools = R1V4Tools(executor=None, text_search=tool_backend(tavily_like))
    result = tools.run(
        {"name": "text_search", "arguments": {"query": "tallest mountain in Africa"}}
    )
    assert calls == ["tallest mountain in Africa"]
    assert json.loads(result.observation) == [
        {"title": "Kilimanjaro", "url": "https://example.com/kili", "snippet": "5,895 m."}
    ]
    [res] = [e for e in result.events() if isinstance(e, ServerToolResult)]
    assert [(s.title, s.url) for s in res.sources] == [("Kilimanjaro", "https://example.com/kili")]
    assert repr(tool_backend(tavily_like)) == "tool_backend('tavily_like')"


async def test_documents_answer_web_content_sync_and_async() -> None:
    tools = R1V4Tools(executor=None, web_content=tool_backend(PageLoader()))
    call = {"name": "web_content", "arguments": {"url": "https://example.com/a"}}
    assert json.loads(tools.run(call).observation) == [
        {
            "url": "https://example.com/a",
            "title": "A page",
            "content": "The text of https://example.com/a.",
        }
    ]
    assert (
        json.loads((await tools.arun(call)).observation)[0]["content"]
        == "Async text of https://example.com/a."
    )


def test_a_tool_that_raises_is_an_observation() -> None:
    result = R1V4Tools(executor=None, text_search=tool_backend(broken)).run(
        {"name": "text_search", "arguments": {"query": "q"}}
    )
    assert result.status == "error"
    assert (
        json.loads(result.observation)["result"]
        == "The text_search tool failed: ConnectionError: search API down"
    )


def test_only_langchain_tools_are_adapted() -> None:
    with pytest.raises(InvalidRequestError, match="LangChain BaseTool"):
        tool_backend(lambda q: q)  # type: ignore[arg-type]
