"""``llama_index_r1v4.tool_backend``: a LlamaIndex tool as the backend of R1V4's own search and
web-content tools (sync and async), its answer read into R1V4's observation shapes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.schema import Document, NodeWithScore, TextNode
from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.types import BaseTool

from llama_index_r1v4 import R1V4, tool_backend
from r1v4 import InvalidRequestError, ServerToolResult
from r1v4.testing import LocalR1V4Server, Reply, make_image, tool_call
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


# ------------------------------------------------------------------ R1V4(builtin_tools=...)

LOOP_CROP = {"code": "img.crop((0, 0, 10, 8)).save('crop.png')\nprint(img.size)"}
LOOP_ROUND = "<think>I crop.</think>" + tool_call("code", LOOP_CROP).rstrip("\n")
LOOP_ANSWER = "<think>Plain.</think><answer>A plain corner.</answer>"


def loop_question() -> list[ChatMessage]:
    picture = make_image("PNG", (40, 30))
    return [
        ChatMessage(
            role="user",
            blocks=[TextBlock(text="What is in the corner?"), ImageBlock(image=picture)],
        )
    ]


@pytest.fixture(scope="module")
def sandboxed() -> R1V4Tools:
    return R1V4Tools()


@pytest.mark.parametrize("path", ["chat", "stream_chat", "achat", "astream_chat"])
def test_r1v4_runs_r1v4s_tools_and_answers_as_one_message(
    path: str, r1v4_server: LocalR1V4Server, r1v4_api_key: str, sandboxed: R1V4Tools
) -> None:
    r1v4_server.enqueue(
        Reply(content=LOOP_ROUND, usage={"prompt_tokens": 100, "completion_tokens": 10}, id="r1"),
        Reply(content=LOOP_ANSWER, usage={"prompt_tokens": 300, "completion_tokens": 7}),
    )
    llm = R1V4(api_key=r1v4_api_key, base_url=r1v4_server.base_url, builtin_tools=sandboxed)
    response: ChatResponse
    if path == "chat":
        response = llm.chat(loop_question())
    elif path == "achat":
        response = asyncio.run(llm.achat(loop_question()))
    elif path == "stream_chat":
        *_, response = llm.stream_chat(loop_question())
    else:

        async def last() -> ChatResponse:
            responses: list[ChatResponse] = [
                r async for r in await llm.astream_chat(loop_question())
            ]
            return responses[-1]

        response = asyncio.run(last())
    message = response.message
    assert message.content == "A plain corner."
    thinking = [b for b in message.blocks if isinstance(b, ThinkingBlock)]
    assert [b.content for b in thinking] == ["I crop.\n\nPlain."]
    assert not [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    (server_call,) = message.additional_kwargs["server_tool_calls"]
    assert server_call["name"] == "code" and server_call["args"] == LOOP_CROP
    (image,) = message.additional_kwargs["generated_images"]
    assert (image.width, image.height) == (10, 8)
    assert response.raw is not None
    assert response.raw["id"] == "r1" and response.raw["finish_reason"] == "stop"
    assert response.raw["usage"]["prompt_tokens"] == 400
    assert response.raw["usage"]["completion_tokens"] == 17
    assert len(r1v4_server.requests) == 2


def test_a_call_can_bring_its_own_builtin_tools(
    r1v4_server: LocalR1V4Server, r1v4_api_key: str, sandboxed: R1V4Tools
) -> None:
    r1v4_server.enqueue(Reply(content=LOOP_ROUND), Reply(content=LOOP_ANSWER))
    llm = R1V4(api_key=r1v4_api_key, base_url=r1v4_server.base_url)
    response = llm.chat(loop_question(), builtin_tools=sandboxed)
    assert response.message.content == "A plain corner."
    assert "builtin_tools" not in r1v4_server.requests[-1].body


def test_builtin_tools_must_be_r1v4_tools(r1v4_api_key: str) -> None:
    with pytest.raises(ValueError, match="R1V4Tools"):
        R1V4(api_key=r1v4_api_key, builtin_tools=search)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream_chat"])
def test_against_a_bare_inference_server_the_reply_is_whole(
    stream: bool, self_hosted_server: LocalR1V4Server, r1v4_api_key: str, sandboxed: R1V4Tools
) -> None:
    llm = R1V4(api_key=r1v4_api_key, base_url=self_hosted_server.base_url, builtin_tools=sandboxed)
    if stream:
        *_, response = llm.stream_chat(loop_question())
    else:
        response = llm.chat(loop_question())
    follow_ups = [r.followup for r in self_hosted_server.requests if r.followup is not None]
    assert follow_ups and all(f.ok for f in follow_ups)
    assert response.message.content
    kwargs = response.message.additional_kwargs
    assert len(kwargs["server_tool_calls"]) == len(follow_ups)
    assert len(kwargs["generated_images"]) == 1
    assert "transcript_issues" not in kwargs
