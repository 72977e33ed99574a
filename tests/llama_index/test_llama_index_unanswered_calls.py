"""An R1V4 tool call no observation answered, in LlamaIndex (issue 22): a transcript issue
``unanswered_tool_call`` in ``additional_kwargs["transcript_issues"]``, never in
``server_tool_calls`` nor a ``ToolCallBlock`` (unless the caller bound that name) -- the same from
``chat``, ``stream_chat``, ``achat`` and ``astream_chat``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.tools import FunctionTool

from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server, Reply, observation, tool_call

CROP = {"code": "img.crop((0,0,10,10))"}
SELF_HOSTED = "<think>I should crop the image.</think>" + tool_call("code", CROP).rstrip("\n")
QUESTION = "What is in the corner?"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


def code(code: str) -> str:
    """Run Python code."""
    return "ran"


WEATHER = FunctionTool.from_defaults(get_weather)
CODE = FunctionTool.from_defaults(code, name="code")


def chat(llm: R1V4, tools: Sequence[FunctionTool]) -> ChatResponse:
    return llm.chat_with_tools(list(tools), user_msg=QUESTION)


def stream_chat(llm: R1V4, tools: Sequence[FunctionTool]) -> ChatResponse:
    responses = list(llm.stream_chat_with_tools(list(tools), user_msg=QUESTION))
    return responses[-1]


def achat(llm: R1V4, tools: Sequence[FunctionTool]) -> ChatResponse:
    return asyncio.run(llm.achat_with_tools(list(tools), user_msg=QUESTION))


def astream_chat(llm: R1V4, tools: Sequence[FunctionTool]) -> ChatResponse:
    async def run() -> ChatResponse:
        stream = await llm.astream_chat_with_tools(list(tools), user_msg=QUESTION)
        return [r async for r in stream][-1]

    return asyncio.run(run())


WAYS = [chat, stream_chat, achat, astream_chat]
Way = Callable[[R1V4, Sequence[FunctionTool]], ChatResponse]


@pytest.fixture(params=WAYS, ids=[w.__name__ for w in WAYS])
def way(request: pytest.FixtureRequest) -> Way:
    return request.param  # type: ignore[no-any-return]


def unanswered(response: ChatResponse) -> list[dict[str, Any]]:
    issues = response.message.additional_kwargs.get("transcript_issues", [])
    return [i for i in issues if i["kind"] == "unanswered_tool_call"]


def call_blocks(response: ChatResponse) -> list[ToolCallBlock]:
    return [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]


def test_a_call_written_as_text_is_an_issue_not_a_server_call(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: Way
) -> None:
    r1v4_server.enqueue(Reply(content=SELF_HOSTED, finish_reason="stop", chunk_size=4))
    response = way(llm, [])

    assert (response.message.content or "") == ""
    assert call_blocks(response) == []
    assert "server_tool_calls" not in response.message.additional_kwargs
    (issue,) = unanswered(response)
    assert "img.crop" in issue["text"] and "'code'" in issue["detail"]
    assert response.raw is not None and response.raw["finish_reason"] == "stop"


def test_a_native_code_call_not_bound_is_not_handed_to_the_agent(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: Way
) -> None:
    r1v4_server.enqueue(
        Reply(reasoning="Crop.", tool_calls=[{"name": "code", "arguments": CROP}], chunk_size=5)
    )
    response = way(llm, [WEATHER])

    assert call_blocks(response) == []
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    assert "server_tool_calls" not in response.message.additional_kwargs
    (issue,) = unanswered(response)
    assert json.loads(issue["text"]) == {"name": "code", "arguments": CROP}
    assert response.raw is not None and response.raw["finish_reason"] == "stop"


def test_a_native_code_call_the_user_bound_stays_their_call(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: Way
) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[{"name": "code", "arguments": CROP, "id": "c1"}]))
    response = way(llm, [CODE])

    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_name, c.tool_kwargs, c.tool_id) for c in calls] == [("code", CROP, "c1")]
    assert unanswered(response) == []


def test_an_answered_call_is_server_trace_as_before(
    llm: R1V4, r1v4_server: LocalR1V4Server, way: Way
) -> None:
    content = (
        SELF_HOSTED + observation({"result": "ok", "type": "code"}) + "<answer>A cat.</answer>"
    )
    r1v4_server.enqueue(Reply(content=content, chunk_size=3))
    response = way(llm, [])

    assert response.message.content == "A cat."
    kwargs = response.message.additional_kwargs
    (call,) = kwargs["server_tool_calls"]
    assert (call["id"], call["name"], call["args"]) == ("srvtool_0", "code", CROP)
    assert [r["tool_call_id"] for r in kwargs["server_tool_results"]] == ["srvtool_0"]
    assert unanswered(response) == []
