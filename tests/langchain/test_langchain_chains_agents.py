"""R1V4 inside LangChain's own machinery: LCEL chains, batch with concurrency, and a full agent
tool loop with ``langchain.agents.create_agent`` -- over loopback, in every tool mode."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from r1v4.testing import (
    LocalR1V4Server,
    RecordedRequest,
    Reply,
    deep_research_transcript,
    general_transcript,
)

ANSWER = "The square is red."
TRANSCRIPT = general_transcript("What colour?", ANSWER)
TAGS = ("<think>", "</think>", "<tool_call>", "<observation>", "<answer>")
PROMPT = ChatPromptTemplate.from_messages(
    [("system", "You are a careful visual agent."), ("human", "{question}")]
)


def test_lcel_chain_returns_the_answer_only(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    chain = PROMPT | make_llm() | StrOutputParser()
    r1v4_server.enqueue(Reply(content=TRANSCRIPT, chunk_size=3, repeat=2))
    assert chain.invoke({"question": "What colour?"}) == ANSWER
    pieces = list(chain.stream({"question": "What colour?"}))
    assert "".join(pieces) == ANSWER
    assert not any(tag in piece for piece in pieces for tag in TAGS)
    sent = r1v4_server.requests[-1].messages
    assert sent[0] == {"role": "system", "content": "You are a careful visual agent."}


async def test_lcel_chain_async_deep_research(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    answer = "Found it."
    chain = PROMPT | make_llm(enable_search=True) | StrOutputParser()
    r1v4_server.enqueue(Reply(content=deep_research_transcript("Where?", answer), repeat=2))
    assert await chain.ainvoke({"question": "Where?"}) == answer
    assert "".join([p async for p in chain.astream({"question": "Where?"})]) == answer


def slow_echo(request: RecordedRequest) -> Reply:
    return Reply(content=f"echo: {request.last_user_text}", first_byte_delay=0.4)


def assert_all_in_flight_together(server: LocalR1V4Server, n: int) -> None:
    """On the server's own clock: every request arrived before any reply was finished (each
    waits 0.4 s before its first byte), so none waited for another."""
    requests = server.requests
    assert len(requests) == n
    finished = [r.completed_at for r in requests]
    assert None not in finished
    assert max(r.received_at for r in requests) < min(t for t in finished if t is not None)


def test_batch_runs_concurrently_and_keeps_order(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    questions = [f"question {i}" for i in range(6)]
    r1v4_server.enqueue(*[slow_echo] * 6)
    results = make_llm().batch(questions, config={"max_concurrency": 6})
    assert [r.content for r in results] == [f"echo: {q}" for q in questions]
    assert_all_in_flight_together(r1v4_server, 6)


async def test_abatch_runs_concurrently_and_keeps_order(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    questions = [f"q{i}" for i in range(8)]
    r1v4_server.enqueue(*[slow_echo] * 8)
    results = await make_llm().abatch(questions, config={"max_concurrency": 8})
    assert [r.content for r in results] == [f"echo: {q}" for q in questions]
    assert_all_in_flight_together(r1v4_server, 8)
    # One client, one pool: concurrent calls share connections instead of one client each.
    assert r1v4_server.connections_opened <= 8


def test_batch_with_errors_returned(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    from r1v4 import BadRequestError

    r1v4_server.enqueue(Reply(content="fine"))
    results = make_llm(max_retries=0).batch(["ok"], return_exceptions=True)
    assert results[0].content == "fine"
    results = make_llm(model="nope", max_retries=0).batch(["x"], return_exceptions=True)
    assert isinstance(results[0], BadRequestError)


# ---------------------------------------------------------------------------- agents

calls: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    calls.append(city)
    return f"sunny in {city}"


FINAL = "It is sunny in Paris."


def script_agent(server: LocalR1V4Server, native: bool) -> None:
    if native:
        first = Reply(
            reasoning="I should look it up.",
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}],
        )
    else:
        first = Reply(
            content='<think>I should look it up.</think><tool_call>{"name": "get_weather", '
            '"arguments": {"city": "Paris"}}</tool_call>'
        )
    # The final turn is a full R1V4 transcript whose own server-side "code" call must not be
    # mistaken for a call the agent should run.
    server.enqueue(first, Reply(content=general_transcript("weather", FINAL), chunk_size=5))


def check_run(messages: list[Any], server: LocalR1V4Server) -> None:
    ai_call, tool_msg, final = messages[1], messages[2], messages[3]
    assert isinstance(ai_call, AIMessage) and ai_call.tool_calls[0]["args"] == {"city": "Paris"}
    assert isinstance(tool_msg, ToolMessage) and tool_msg.content == "sunny in Paris"
    assert tool_msg.tool_call_id == ai_call.tool_calls[0]["id"]
    assert isinstance(final, AIMessage) and final.content == FINAL
    assert final.tool_calls == []
    assert final.additional_kwargs["server_tool_calls"][0]["name"] == "code"
    assert len(messages) == 4
    assert calls == ["Paris"]


def user_says(text: str) -> Any:
    """An agent's input: the ("user", text) shorthand langgraph takes, which its input type (messages
    and dicts) leaves out."""
    return {"messages": [("user", text)]}


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


def test_agent_loop_native(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    script_agent(r1v4_server, native=True)
    agent = create_agent(make_llm(tool_mode="native"), [get_weather])
    result = agent.invoke(user_says("Weather in Paris?"))
    check_run(result["messages"], r1v4_server)
    second = r1v4_server.requests[1].body
    assert [t["function"]["name"] for t in second["tools"]] == ["get_weather"]
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "sunny in Paris",
    }
    # The earlier turn's reasoning is not sent back.
    assert "look it up" not in str(second["messages"])


async def test_agent_loop_native_async_streaming(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    script_agent(r1v4_server, native=True)
    agent = create_agent(make_llm(tool_mode="native", streaming=True), [get_weather])
    result = await agent.ainvoke(user_says("Weather in Paris?"))
    check_run(result["messages"], r1v4_server)
    assert all(r.body["stream"] is True for r in r1v4_server.requests)


@pytest.mark.parametrize("mode", ["prompted", "auto"])
def test_agent_loop_on_a_server_without_tool_support(
    make_llm: Any, no_native_tools_server: LocalR1V4Server, mode: str
) -> None:
    server = no_native_tools_server
    script_agent(server, native=False)
    llm = make_llm(base_url=server.base_url, tool_mode=mode)
    result = create_agent(llm, [get_weather]).invoke(user_says("Weather?"))
    check_run(result["messages"], server)
    accepted = [r for r in server.requests if r.status == 200]
    assert len(accepted) == 2
    if mode == "auto":
        # The first request carried tools and was refused; the rest went out prompted.
        assert "tools" in server.requests[0].body and server.requests[0].status == 400
    assert all("tools" not in r.body for r in accepted)
    assert "<tool_response>" in str(accepted[1].body["messages"])


async def test_agent_loop_prompted_async_stream(
    make_llm: Any, no_native_tools_server: LocalR1V4Server
) -> None:
    server = no_native_tools_server
    script_agent(server, native=False)
    agent = create_agent(make_llm(base_url=server.base_url, tool_mode="prompted"), [get_weather])
    final_state: Any = None
    async for state in agent.astream(user_says("Weather?"), stream_mode="values"):
        final_state = state
    check_run(final_state["messages"], server)


def test_agent_structured_response_uses_the_tool_strategy(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    """R1V4's profile says no provider-native structured output, so ``create_agent`` asks for
    the schema as a tool call, which works on every server and in every tool mode."""
    from pydantic import BaseModel

    class Forecast(BaseModel):
        city: str
        sky: str

    r1v4_server.enqueue(
        Reply(tool_calls=[{"name": "Forecast", "arguments": {"city": "Paris", "sky": "clear"}}])
    )
    agent = create_agent(make_llm(tool_mode="native"), [], response_format=Forecast)
    result = agent.invoke(user_says("Forecast for Paris?"))
    assert result["structured_response"] == Forecast(city="Paris", sky="clear")
    body = r1v4_server.requests[-1].body
    assert "response_format" not in body
    assert [t["function"]["name"] for t in body["tools"]] == ["Forecast"]
