"""``llama_index_r1v4.tool_backend``: a LlamaIndex tool as the backend of R1V4's own search and
web-content tools (sync and async), its answer read into R1V4's observation shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.schema import Document, NodeWithScore, TextNode
from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.types import BaseTool

from llama_index_r1v4 import tool_backend
from r1v4 import InvalidRequestError, ServerToolResult
from r1v4.tools import R1V4Tools


def search(query: str, max_results: int = 5) -> list[dict[str, Any]]:
    """Search the web."""
    return [
        {"title": "Kilimanjaro", "url": "https://example.com/kili", "content": f"About {query}."}
    ]


async def aload(url: str) -> list[Document]:
    """Read a web page (async only, as many LlamaIndex readers are)."""
    return [Document(text=f"The text of {url}.", metadata={"title": "A page"})]


class Retriever(BaseTool):
    """A tool that is only a BaseTool (no call/acall): it answers with scored nodes."""

    @property
    def metadata(self) -> ToolMetadata:
        return ToolMetadata(name="retriever", description="Find images.")

    def __call__(self, input: Any) -> ToolOutput:
        node = NodeWithScore(
            node=TextNode(
                text="a lighthouse",
                metadata={"title": "Lighthouse", "image_url": "https://example.com/l.jpg"},
            ),
            score=1.0,
        )
        return ToolOutput(
            content="a lighthouse",
            tool_name="retriever",
            raw_input={"input": input},
            raw_output=[node],
        )


def test_a_function_tool_answers_text_search() -> None:
    tools = R1V4Tools(executor=None, text_search=tool_backend(FunctionTool.from_defaults(search)))
    result = tools.run({"name": "text_search", "arguments": {"query": "Africa"}})
    assert json.loads(result.observation) == [
        {"title": "Kilimanjaro", "url": "https://example.com/kili", "snippet": "About Africa."}
    ]
    [res] = [e for e in result.events() if isinstance(e, ServerToolResult)]
    assert [s.url for s in res.sources] == ["https://example.com/kili"]


async def test_an_async_reader_answers_web_content() -> None:
    tools = R1V4Tools(
        executor=None,
        web_content=tool_backend(
            FunctionTool.from_defaults(async_fn=aload, name="aload", description="Read a page.")
        ),
    )
    result = await tools.arun(
        {"name": "web_content", "arguments": {"url": "https://example.com/a"}}
    )
    assert json.loads(result.observation) == [
        {
            "url": "https://example.com/a",
            "title": "A page",
            "content": "The text of https://example.com/a.",
        }
    ]


def test_a_plain_base_tool_with_nodes_answers_image_search() -> None:
    result = R1V4Tools(executor=None, image_search=tool_backend(Retriever())).run(
        {"name": "image_search", "arguments": {"query": "lighthouse"}}
    )
    assert json.loads(result.observation) == [
        {"title": "Lighthouse", "source": "https://example.com/l.jpg", "link": ""}
    ]


def test_an_error_output_is_an_observation() -> None:
    def failing(query: str) -> str:
        raise ConnectionError("search API down")

    result = R1V4Tools(
        executor=None, text_search=tool_backend(FunctionTool.from_defaults(failing))
    ).run({"name": "text_search", "arguments": {"query": "q"}})
    assert result.status == "error"
    assert "search API down" in json.loads(result.observation)["result"]
    with pytest.raises(InvalidRequestError, match="LlamaIndex BaseTool"):
        tool_backend(search)  # type: ignore[arg-type]
