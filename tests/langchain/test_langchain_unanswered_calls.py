"""An R1V4 tool call no observation answered, in LangChain (issue 22): a transcript issue
``unanswered_tool_call`` in ``response_metadata["transcript_issues"]``, never in
``server_tool_calls`` nor in ``tool_calls`` (unless the caller bound that name) -- the same from
``invoke``, ``stream``, ``ainvoke`` and ``astream``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, cast

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import tool

from r1v4.testing import LocalR1V4Server, Reply, observation, tool_call

CROP = {"code": "img.crop((0,0,10,10))"}
SELF_HOSTED = "<think>I should crop the image.</think>" + tool_call("code", CROP).rstrip("\n")


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


@tool
def code(code: str) -> str:
    """Run Python code."""
    return "ran"


Model = Runnable[Any, BaseMessage]


def invoke(llm: Model) -> BaseMessage:
    return llm.invoke("What is in the corner?")


def stream(llm: Model) -> BaseMessage:
    chunks = list(llm.stream("What is in the corner?"))
    full: Any = chunks[0]  # an AIMessageChunk: chunks add up
    for chunk in chunks[1:]:
        full += chunk
    return cast(BaseMessage, full)


def ainvoke(llm: Model) -> BaseMessage:
    return asyncio.run(llm.ainvoke("What is in the corner?"))


def astream(llm: Model) -> BaseMessage:
    async def run() -> BaseMessage:
        chunks = [c async for c in llm.astream("What is in the corner?")]
        full: Any = chunks[0]  # an AIMessageChunk: chunks add up
        for chunk in chunks[1:]:
            full += chunk
        return cast(BaseMessage, full)

    return asyncio.run(run())


WAYS = [invoke, stream, ainvoke, astream]


@pytest.fixture(params=WAYS, ids=[w.__name__ for w in WAYS])
def way(request: pytest.FixtureRequest) -> Callable[[Model], BaseMessage]:
    return request.param  # type: ignore[no-any-return]


def unanswered(message: BaseMessage) -> list[dict[str, Any]]:
    issues = message.response_metadata.get("transcript_issues", [])
    return [i for i in issues if i["kind"] == "unanswered_tool_call"]


def test_a_call_written_as_text_is_an_issue_not_a_server_call(
    make_llm: Callable[..., BaseChatModel],
    r1v4_server: LocalR1V4Server,
    way: Callable[[Model], BaseMessage],
) -> None:
    r1v4_server.enqueue(Reply(content=SELF_HOSTED, finish_reason="stop", chunk_size=4))
    message = way(make_llm())

    assert isinstance(message, AIMessage)
    assert message.content == "" and message.tool_calls == []
    assert message.additional_kwargs["reasoning_content"] == "I should crop the image."
    assert "server_tool_calls" not in message.additional_kwargs
    (issue,) = unanswered(message)
    assert "img.crop" in issue["text"] and "'code'" in issue["detail"]
    assert message.response_metadata["finish_reason"] == "stop"


def test_a_native_code_call_not_bound_is_not_handed_to_the_agent(
    make_llm: Callable[..., BaseChatModel],
    r1v4_server: LocalR1V4Server,
    way: Callable[[Model], BaseMessage],
) -> None:
    r1v4_server.enqueue(
        Reply(reasoning="Crop.", tool_calls=[{"name": "code", "arguments": CROP}], chunk_size=5)
    )
    message = way(make_llm().bind_tools([get_weather]))

    assert isinstance(message, AIMessage)
    assert message.tool_calls == [] and message.invalid_tool_calls == []
    assert "server_tool_calls" not in message.additional_kwargs
    (issue,) = unanswered(message)
    assert json.loads(issue["text"]) == {"name": "code", "arguments": CROP}
    assert message.response_metadata["finish_reason"] == "stop"


def test_a_native_code_call_the_user_bound_stays_their_call(
    make_llm: Callable[..., BaseChatModel],
    r1v4_server: LocalR1V4Server,
    way: Callable[[Model], BaseMessage],
) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[{"name": "code", "arguments": CROP, "id": "c1"}]))
    message = way(make_llm().bind_tools([code]))

    assert isinstance(message, AIMessage)
    assert [(c["name"], c["args"], c["id"]) for c in message.tool_calls] == [("code", CROP, "c1")]
    assert unanswered(message) == []
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_an_answered_call_is_server_trace_as_before(
    make_llm: Callable[..., BaseChatModel],
    r1v4_server: LocalR1V4Server,
    way: Callable[[Model], BaseMessage],
) -> None:
    content = (
        SELF_HOSTED + observation({"result": "ok", "type": "code"}) + "<answer>A cat.</answer>"
    )
    r1v4_server.enqueue(Reply(content=content, chunk_size=3))
    message = way(make_llm())

    assert message.content == "A cat."
    (call,) = message.additional_kwargs["server_tool_calls"]
    assert (call["id"], call["name"], call["args"]) == ("srvtool_0", "code", CROP)
    (result,) = message.additional_kwargs["server_tool_results"]
    assert result["tool_call_id"] == "srvtool_0"
    assert unanswered(message) == []
