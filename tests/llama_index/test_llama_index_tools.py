"""Tool calling and agents over loopback HTTP: FunctionAgent, ReActAgent, AgentWorkflow,
structured output, in native, prompted and auto (fallback) tool modes."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
)
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server, Reply, general_transcript, observation

KEY = "test-key"


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def code(source: str) -> str:
    """Run Python code."""
    return "ran"


MULTIPLY = FunctionTool.from_defaults(multiply)
CALL = {"name": "multiply", "arguments": {"a": 6, "b": 7}, "id": "call_mul"}
TOOL_FIELDS = {"tools", "tool_choice", "parallel_tool_calls"}


def run_agent(agent: Any, question: str) -> tuple[Any, list[AgentStream]]:
    async def go() -> tuple[Any, list[AgentStream]]:
        handler = agent.run(question)
        streamed = [ev async for ev in handler.stream_events() if isinstance(ev, AgentStream)]
        return await handler, streamed

    return asyncio.run(go())


def tool_message(body: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in body["messages"] if m["role"] == "tool")


# ----------------------------------------------------------------------------- tool calls


def test_chat_with_tools_sends_tools_and_reads_calls(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[CALL]))
    history = [ChatMessage(role="system", content="Use tools.")]
    response = llm.chat_with_tools([MULTIPLY], user_msg="6 times 7?", chat_history=history)
    assert len(history) == 1  # the caller's list is not grown
    body = r1v4_server.last_request.body
    assert body["tools"][0]["function"]["name"] == "multiply"
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("call_mul", "multiply", {"a": 6, "b": 7})
    ]


def test_tool_required_and_named_tool_choice(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[CALL], repeat=2))
    llm.chat_with_tools([MULTIPLY], user_msg="go", tool_required=True)
    assert r1v4_server.last_request.body["tool_choice"] == "required"
    llm.chat_with_tools([MULTIPLY], user_msg="go", tool_choice="multiply")
    assert r1v4_server.last_request.body["tool_choice"] == {
        "type": "function",
        "function": {"name": "multiply"},
    }


def test_parallel_calls_kept_only_when_allowed(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    two = [CALL, {"name": "multiply", "arguments": {"a": 2, "b": 3}, "id": "call_2"}]
    r1v4_server.enqueue(Reply(tool_calls=two, repeat=2))
    one = llm.chat_with_tools([MULTIPLY], user_msg="go")
    assert [c.tool_id for c in llm.get_tool_calls_from_response(one)] == ["call_mul"]
    both = llm.chat_with_tools([MULTIPLY], user_msg="go", allow_parallel_tool_calls=True)
    assert [c.tool_id for c in llm.get_tool_calls_from_response(both)] == ["call_mul", "call_2"]
    assert "parallel_tool_calls" not in r1v4_server.last_request.body


def test_streamed_tool_call_is_readable_on_every_chunk(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[CALL], chunk_size=3))

    async def run() -> list[ChatResponse]:
        stream = await llm.astream_chat_with_tools([MULTIPLY], user_msg="6 times 7?")
        return [r async for r in stream]

    responses = asyncio.run(run())
    seen = [llm.get_tool_calls_from_response(r, error_on_no_tool_call=False) for r in responses]
    partial = [s for s in seen if s and s[0].tool_kwargs != {"a": 6, "b": 7}]
    assert partial, "arguments arrived in pieces"
    assert seen[-1][0].tool_kwargs == {"a": 6, "b": 7}
    assert seen[-1][0].tool_name == "multiply"


def test_get_tool_calls_tolerates_half_written_json(llm: R1V4) -> None:
    def response(arguments: Any) -> ChatResponse:
        block = ToolCallBlock(tool_call_id="c", tool_name="multiply", tool_kwargs=arguments)
        return ChatResponse(message=ChatMessage(role="assistant", blocks=[block]))

    for text, expected in [
        ('{"a": 6, "b"', {"a": 6}),
        ('{"a": 6, "b": 7', {"a": 6, "b": 7}),
        ('{"a": 6,', {"a": 6}),
        ('{"a": 6, "b": ', {"a": 6, "b": None}),
        ("", {}),
        ("[1, 2]", {}),
        ("}{", {}),
        ('{"a": 6, "b": 7}', {"a": 6, "b": 7}),
    ]:
        assert llm.get_tool_calls_from_response(response(text))[0].tool_kwargs == expected
    # A string value still arriving: whatever is readable, never an exception.
    assert "a" in llm.get_tool_calls_from_response(response('{"a": "si'))[0].tool_kwargs
    assert llm.get_tool_calls_from_response(response({"a": 1}))[0].tool_kwargs == {"a": 1}
    # Messages from elsewhere may carry OpenAI-style calls: dicts or SDK-like objects.
    from types import SimpleNamespace

    legacy = [
        {"id": "c1", "type": "function", "function": {"name": "multiply", "arguments": '{"a": 1'}},
        SimpleNamespace(id="c2", function=SimpleNamespace(name="multiply", arguments='{"b": 2}')),
    ]
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": legacy})
    found = llm.get_tool_calls_from_response(ChatResponse(message=message))
    assert [(c.tool_id, c.tool_kwargs) for c in found] == [("c1", {"a": 1}), ("c2", {"b": 2})]
    with pytest.raises(ValueError):
        llm.get_tool_calls_from_response(ChatResponse(message=ChatMessage(role="assistant")))
    assert (
        llm.get_tool_calls_from_response(
            ChatResponse(message=ChatMessage(role="assistant")), error_on_no_tool_call=False
        )
        == []
    )


def test_assistant_tool_calls_and_results_go_back_on_the_wire(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    messages = [
        ChatMessage(role="user", content="6 times 7?"),
        ChatMessage(
            role="assistant",
            blocks=[
                ToolCallBlock(
                    tool_call_id="call_mul", tool_name="multiply", tool_kwargs={"a": 6, "b": 7}
                )
            ],
        ),
        ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "call_mul"}),
        # The legacy form: OpenAI-style dicts in additional_kwargs.
        ChatMessage(
            role="assistant",
            content="",
            additional_kwargs={
                "tool_calls": [
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "multiply", "arguments": '{"a":1,"b":2}'},
                    }
                ]
            },
        ),
        ChatMessage(role="tool", content="2", additional_kwargs={"tool_call_id": "call_2"}),
    ]
    llm.chat(messages, tools=[MULTIPLY.metadata.to_openai_tool()])
    sent = r1v4_server.last_request.messages
    assert sent[1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_mul",
                "type": "function",
                "function": {"name": "multiply", "arguments": '{"a": 6, "b": 7}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "content": "42", "tool_call_id": "call_mul"}
    assert sent[3]["tool_calls"][0]["function"] == {
        "name": "multiply",
        "arguments": '{"a":1,"b":2}',
    }
    assert sent[4] == {"role": "tool", "content": "2", "tool_call_id": "call_2"}


def test_tool_message_without_call_id_is_refused(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    import r1v4

    with pytest.raises(r1v4.InvalidRequestError, match="tool_call_id"):
        llm.chat([ChatMessage(role="tool", content="42")])
    assert r1v4_server.requests == []


# ----------------------------------------------------------------------------- agents


@pytest.mark.parametrize("streaming", [True, False])
def test_function_agent_completes_a_tool_loop(
    llm: R1V4, r1v4_server: LocalR1V4Server, streaming: bool
) -> None:
    r1v4_server.enqueue(
        Reply(reasoning="I should multiply.", tool_calls=[CALL], chunk_size=4),
        Reply(content="6 times 7 is 42.", reasoning="The tool said 42.", chunk_size=4),
    )
    agent = FunctionAgent(tools=[multiply], llm=llm, streaming=streaming)
    result, streamed = run_agent(agent, "What is 6 times 7?")
    assert str(result.response.content) == "6 times 7 is 42."
    first, second = r1v4_server.requests
    assert first.body["stream"] is streaming
    assert first.body["tools"][0]["function"]["name"] == "multiply"
    assistant = next(m for m in second.messages if m["role"] == "assistant")
    assert assistant["tool_calls"][0]["id"] == "call_mul"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"a": 6, "b": 7}
    assert tool_message(second.body) == {
        "role": "tool",
        "content": "42",
        "tool_call_id": "call_mul",
    }
    # Reasoning is never sent back by default.
    assert "I should multiply." not in json.dumps(second.body)
    if streaming:
        assert "".join(e.delta for e in streamed) == "6 times 7 is 42."
        thoughts = "".join(e.thinking_delta or "" for e in streamed)
        assert thoughts == "I should multiply.The tool said 42."


def test_react_agent_completes_a_tool_loop(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(
        Reply(
            content='Thought: I need to multiply.\nAction: multiply\nAction Input: {"a": 6, "b": 7}',
            reasoning="Use the tool.",
        ),
        Reply(content="Thought: I can answer without using any more tools.\nAnswer: It is 42."),
    )
    agent = ReActAgent(tools=[multiply], llm=llm)
    result, _ = run_agent(agent, "What is 6 times 7?")
    assert str(result.response.content) == "It is 42."
    first, second = r1v4_server.requests
    assert "tools" not in first.body  # ReAct describes tools in the prompt
    assert "Observation: 42" in json.dumps(second.body)


def test_agent_workflow_from_tools_or_functions(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[CALL]), Reply(content="42."))
    workflow = AgentWorkflow.from_tools_or_functions([multiply], llm=llm)
    result, _ = run_agent(workflow, "What is 6 times 7?")
    assert str(result.response.content) == "42."
    assert tool_message(r1v4_server.requests[1].body)["content"] == "42"


# ----------------------------------------------------------------------------- tool modes


def test_function_agent_in_prompted_mode(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url, tool_mode="prompted")
    r1v4_server.enqueue(
        Reply(content='<tool_call>{"name": "multiply", "arguments": {"a": 6, "b": 7}}</tool_call>'),
        Reply(content="It is 42."),
    )
    result, _ = run_agent(FunctionAgent(tools=[multiply], llm=llm, streaming=True), "6 x 7?")
    assert str(result.response.content) == "It is 42."
    first, second = r1v4_server.requests
    for request in (first, second):
        assert not TOOL_FIELDS & request.body.keys()
        assert request.messages[0]["role"] == "system"
        assert "<tools>" in request.messages[0]["content"]
    assert second.messages[-1] == {
        "role": "user",
        "content": "<tool_response>\n42\n</tool_response>",
    }
    assert second.messages[-2]["role"] == "assistant"
    assert "<tool_call>" in second.messages[-2]["content"]


@pytest.mark.parametrize("streaming", [True, False])
def test_auto_mode_falls_back_when_the_server_refuses_tools(
    no_native_tools_server: LocalR1V4Server, streaming: bool, caplog: pytest.LogCaptureFixture
) -> None:
    server = no_native_tools_server
    llm = R1V4(api_key=KEY, base_url=server.base_url)
    server.enqueue(
        Reply(content='<tool_call>{"name": "multiply", "arguments": {"a": 6, "b": 7}}</tool_call>'),
        Reply(content="It is 42."),
    )
    with caplog.at_level(logging.INFO, logger="r1v4"):
        result, _ = run_agent(
            FunctionAgent(tools=[multiply], llm=llm, streaming=streaming), "6 x 7?"
        )
    assert str(result.response.content) == "It is 42."
    refused, first, second = server.requests
    assert refused.status == 400 and "tools" in refused.body
    for request in (first, second):
        assert not TOOL_FIELDS & request.body.keys()
        assert "<tools>" in request.messages[0]["content"]
    assert second.messages[-1] == {
        "role": "user",
        "content": "<tool_response>\n42\n</tool_response>",
    }
    assert "tool_mode='prompted'" in caplog.text


def test_server_code_call_stays_trace_even_with_a_bound_code_tool(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    code_tool = FunctionTool.from_defaults(code, name="code")
    r1v4_server.enqueue(
        Reply(content=general_transcript(final_answer="A red square.")),
        Reply(content='<tool_call>{"name": "code", "arguments": {"source": "1+1"}}</tool_call>'),
    )
    traced = llm.chat_with_tools([code_tool], user_msg="look")
    assert not [b for b in traced.message.blocks if isinstance(b, ToolCallBlock)]
    assert traced.message.content == "A red square."
    assert traced.message.additional_kwargs["server_tool_calls"][0]["name"] == "code"
    client_call = llm.chat_with_tools([code_tool], user_msg="run it")
    calls = llm.get_tool_calls_from_response(client_call)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("code", {"source": "1+1"})]


def test_unreadable_call_of_a_bound_tool_is_skipped_with_a_warning(
    llm: R1V4, r1v4_server: LocalR1V4Server, caplog: pytest.LogCaptureFixture
) -> None:
    bad = '<tool_call>{"name": "multiply", "arguments": {"a": 6,,}}</tool_call>'
    r1v4_server.enqueue(Reply(content=bad), Reply(content=bad, chunk_size=5))
    with caplog.at_level(logging.WARNING):
        plain = llm.chat_with_tools([MULTIPLY], user_msg="go")
        streamed = list(llm.stream_chat_with_tools([MULTIPLY], user_msg="go"))[-1]
    for response in (plain, streamed):
        assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
        invalid = response.message.additional_kwargs["invalid_tool_calls"]
        assert invalid[0]["name"] == "multiply"
    assert "multiply" in caplog.text


# ----------------------------------------------------------------------------- structured


class Album(BaseModel):
    """An album."""

    title: str
    year: int


def test_structured_predict_and_as_structured_llm(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    call = {"name": "Album", "arguments": {"title": "Kind of Blue", "year": 1959}}
    r1v4_server.enqueue(Reply(tool_calls=[call], reasoning="Miles Davis.", repeat=3))
    prompt = PromptTemplate("Name a famous album by {artist}.")
    album = llm.structured_predict(Album, prompt, artist="Miles Davis")
    assert album == Album(title="Kind of Blue", year=1959)
    assert r1v4_server.last_request.body["tool_choice"] == "required"
    assert "Miles Davis" in r1v4_server.last_request.messages[-1]["content"]
    assert asyncio.run(llm.astructured_predict(Album, prompt, artist="Miles Davis")) == album
    structured = llm.as_structured_llm(Album)
    response = structured.chat([ChatMessage(role="user", content="An album by Miles Davis?")])
    assert response.raw == album
    assert json.loads(response.message.content or "") == album.model_dump()


def test_structured_predict_in_prompted_mode(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url, tool_mode="prompted")
    r1v4_server.enqueue(
        Reply(
            content='<tool_call>{"name": "Album", "arguments": {"title": "Blue", "year": 1971}}</tool_call>'
        )
    )
    album = llm.structured_predict(Album, PromptTemplate("An album by {who}?"), who="Joni Mitchell")
    assert album == Album(title="Blue", year=1971)
    assert not TOOL_FIELDS & r1v4_server.last_request.body.keys()


def test_function_calling_program_sees_no_observation_as_call(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    # A call of a bound tool followed by <observation> is R1V4's own: it is not executed.
    text = (
        '<tool_call>{"name": "multiply", "arguments": {"a": 1, "b": 1}}</tool_call>'
        + observation({"result": "1", "type": "code"})
        + "<answer>done</answer>"
    )
    r1v4_server.enqueue(Reply(content=text))
    response = llm.chat_with_tools([MULTIPLY], user_msg="go")
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    assert response.message.content == "done"
