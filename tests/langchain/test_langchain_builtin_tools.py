"""``langchain_r1v4.tool_backend``: a LangChain tool as the backend of R1V4's own search and
web-content tools (sync and async), its answer read into R1V4's observation shapes."""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import BaseTool, tool
from pydantic import ValidationError

from langchain_r1v4 import ChatR1V4, tool_backend
from r1v4 import InvalidRequestError, ServerToolResult
from r1v4.testing import LocalR1V4Server, Reply, make_image_data_uri, tool_call
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


# ------------------------------------------------------------- ChatR1V4(builtin_tools=...)

LOOP_CROP = {"code": "img.crop((0, 0, 10, 8)).save('crop.png')\nprint(img.size)"}
LOOP_ROUND = "<think>I crop.</think>" + tool_call("code", LOOP_CROP).rstrip("\n")
LOOP_ANSWER = "<think>Plain.</think><answer>A plain corner.</answer>"


def loop_question() -> list[HumanMessage]:
    picture = make_image_data_uri("PNG", (40, 30))
    return [
        HumanMessage(
            content=[
                {"type": "text", "text": "What is in the corner?"},
                {"type": "image_url", "image_url": {"url": picture}},
            ]
        )
    ]


def script_rounds(server: LocalR1V4Server) -> None:
    server.enqueue(
        Reply(content=LOOP_ROUND, usage={"prompt_tokens": 100, "completion_tokens": 10}, id="r1"),
        Reply(content=LOOP_ANSWER, usage={"prompt_tokens": 300, "completion_tokens": 7}),
    )


@pytest.fixture(scope="module")
def sandboxed() -> R1V4Tools:
    return R1V4Tools()


@pytest.mark.parametrize("path", ["invoke", "stream", "ainvoke", "astream"])
def test_chat_r1v4_runs_r1v4s_tools_and_answers_as_one_message(
    path: str, make_llm: Callable[..., ChatR1V4], r1v4_server: LocalR1V4Server, sandboxed: R1V4Tools
) -> None:
    script_rounds(r1v4_server)
    model = make_llm(builtin_tools=sandboxed)
    message: BaseMessage
    if path == "invoke":
        message = model.invoke(loop_question())
    elif path == "ainvoke":
        message = asyncio.run(model.ainvoke(loop_question()))
    elif path == "stream":
        chunks = list(model.stream(loop_question()))
        message = reduce(operator.add, chunks)
    else:

        async def merged() -> BaseMessage:
            chunks = [c async for c in model.astream(loop_question())]
            return reduce(operator.add, chunks)

        message = asyncio.run(merged())
    assert isinstance(message, AIMessage)
    assert message.content == "A plain corner."
    assert message.tool_calls == []
    assert message.additional_kwargs["reasoning_content"] == "I crop.\n\nPlain."
    (server_call,) = message.additional_kwargs["server_tool_calls"]
    assert server_call["name"] == "code" and server_call["args"] == LOOP_CROP
    (result,) = message.additional_kwargs["server_tool_results"]
    assert '"(40, 30)"' in json.dumps(result)
    (image,) = message.additional_kwargs["generated_images"]
    assert (image["width"], image["height"]) == (10, 8)
    assert message.usage_metadata is not None
    assert (message.usage_metadata["input_tokens"], message.usage_metadata["output_tokens"]) == (
        400,
        17,
    )
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["id"] == "r1"  # one reply id: the first round's
    assert len(r1v4_server.requests) == 2


def test_a_call_can_bring_its_own_builtin_tools(
    make_llm: Callable[..., ChatR1V4], r1v4_server: LocalR1V4Server, sandboxed: R1V4Tools
) -> None:
    script_rounds(r1v4_server)
    message = make_llm().bind(builtin_tools=sandboxed).invoke(loop_question())
    assert message.content == "A plain corner."
    assert "builtin_tools" not in r1v4_server.requests[-1].body  # never sent to the server


def test_builtin_tools_must_be_r1v4_tools(make_llm: Callable[..., ChatR1V4]) -> None:
    with pytest.raises(ValidationError, match="R1V4Tools"):
        make_llm(builtin_tools=[tavily_like])


def test_an_agent_never_sees_r1v4s_own_calls(
    make_llm: Callable[..., ChatR1V4], r1v4_server: LocalR1V4Server, sandboxed: R1V4Tools
) -> None:
    from langchain.agents import create_agent

    script_rounds(r1v4_server)
    agent = create_agent(make_llm(builtin_tools=sandboxed), tools=[tavily_like])
    agent_input: Any = {"messages": loop_question()}  # langgraph's input type is narrower
    state = agent.invoke(agent_input)
    final = state["messages"][-1]
    assert isinstance(final, AIMessage) and final.content == "A plain corner."
    assert [type(m).__name__ for m in state["messages"]] == ["HumanMessage", "AIMessage"]


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_against_a_bare_inference_server_the_reply_is_whole(
    stream: bool, self_hosted_server: LocalR1V4Server, sandboxed: R1V4Tools
) -> None:
    # The local server's self-hosted mode refuses a follow-up without the round's observation
    # and the crop: every round it accepted was continued as R1V4 expects.
    model = ChatR1V4(
        api_key="test-key", base_url=self_hosted_server.base_url, builtin_tools=sandboxed
    )
    question = loop_question()
    message = reduce(operator.add, model.stream(question)) if stream else model.invoke(question)
    follow_ups = [r.followup for r in self_hosted_server.requests if r.followup is not None]
    assert follow_ups and all(f.ok for f in follow_ups)
    assert message.content
    assert len(message.additional_kwargs["server_tool_calls"]) == len(follow_ups)
    assert len(message.additional_kwargs["generated_images"]) == 1
    assert "transcript_issues" not in message.response_metadata
