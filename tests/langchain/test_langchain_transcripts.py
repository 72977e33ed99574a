"""R1V4's agent transcripts (general, deep research, planner) over loopback: the answer alone in
``content``, the server's trace as trace, sources and plan as data -- the same from ``invoke``
and from an aggregated stream, sync and async."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage

from langchain_r1v4 import ChatR1V4, get_plan, get_sources
from r1v4.testing import (
    LocalR1V4Server,
    Reply,
    deep_research_transcript,
    general_transcript,
    planner_transcript,
)

GENERAL_ANSWER = "A red square on white."
RESEARCH_ANSWER = "It was taken at the Example Observatory."
GENERAL = general_transcript("What is shown?", GENERAL_ANSWER, rounds=2)
RESEARCH = deep_research_transcript("Where is this?", RESEARCH_ANSWER, results=2)
PLANNER = planner_transcript("What is shown?")
TAGS = ("<think>", "<tool_call>", "<observation>", "<answer>", "<plan>", "<text_search>")


def aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    return full


def same_message(a: BaseMessage, b: BaseMessage) -> None:
    assert a.content == b.content
    assert a.additional_kwargs == b.additional_kwargs
    # Two requests get two response ids from the server; everything else must match.
    assert {**a.response_metadata, "id": ""} == {**b.response_metadata, "id": ""}
    assert isinstance(a, AIMessage) and isinstance(b, AIMessage)
    assert a.tool_calls == b.tool_calls
    assert a.invalid_tool_calls == b.invalid_tool_calls
    assert a.usage_metadata == b.usage_metadata
    assert a.id == a.response_metadata["id"] and b.id == b.response_metadata["id"]


def run_both(
    llm: ChatR1V4, server: LocalR1V4Server, content: str, chunk_size: int
) -> tuple[AIMessage, list[AIMessageChunk]]:
    server.enqueue(Reply(content=content, chunk_size=chunk_size, repeat=2))
    message = llm.invoke("q")
    chunks = list(llm.stream("q"))
    return message, chunks


async def arun_both(
    llm: ChatR1V4, server: LocalR1V4Server, content: str, chunk_size: int
) -> tuple[AIMessage, list[AIMessageChunk]]:
    server.enqueue(Reply(content=content, chunk_size=chunk_size, repeat=2))
    message = await llm.ainvoke("q")
    chunks = [c async for c in llm.astream("q")]
    return message, chunks


def check_general(message: BaseMessage) -> None:
    assert message.content == GENERAL_ANSWER
    assert isinstance(message, AIMessage) and not message.tool_calls
    calls = message.additional_kwargs["server_tool_calls"]
    results = message.additional_kwargs["server_tool_results"]
    assert [(c["id"], c["name"], c["tag"]) for c in calls] == [
        ("srvtool_0", "code", "tool_call"),
        ("srvtool_1", "code", "tool_call"),
    ]
    assert "img.crop" in calls[0]["args"]["code"]
    assert [r["tool_call_id"] for r in results] == ["srvtool_0", "srvtool_1"]
    assert results[0]["output"]["type"] == "code"
    reasoning = message.additional_kwargs["reasoning_content"]
    assert "crop the region" in reasoning and "I can answer now" in reasoning
    assert message.response_metadata["raw_content"] == GENERAL


@pytest.mark.parametrize("chunk_size", [1, 7, 10_000])
def test_general_mode_sync(make_llm: Any, r1v4_server: LocalR1V4Server, chunk_size: int) -> None:
    message, chunks = run_both(make_llm(), r1v4_server, GENERAL, chunk_size)
    check_general(message)
    full = aggregate(chunks)
    check_general(full)
    same_message(message, full)
    assert not any(tag in c.text for c in chunks for tag in TAGS)


async def test_general_mode_async(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    message, chunks = await arun_both(make_llm(), r1v4_server, GENERAL, 5)
    check_general(message)
    same_message(message, aggregate(chunks))


def test_trace_streams_as_it_is_parsed(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=GENERAL, chunk_size=4))
    chunks = list(make_llm().stream("q"))
    kinds = []
    for chunk in chunks:
        if chunk.additional_kwargs.get("server_tool_calls"):
            kinds.append("call")
        if chunk.additional_kwargs.get("server_tool_results"):
            kinds.append("result")
        if chunk.content:
            kinds.append("answer")
    first_answer = kinds.index("answer")
    # Both rounds' calls and observations come, in order, before the first answer token.
    assert kinds[:first_answer] == ["call", "result", "call", "result"]
    # Each call is its own chunk, with no answer text riding on it.
    assert all(not c.content for c in chunks if c.additional_kwargs.get("server_tool_calls"))


def check_research(message: BaseMessage) -> None:
    assert message.content == RESEARCH_ANSWER
    calls = message.additional_kwargs["server_tool_calls"]
    assert [(c["name"], c["args"]) for c in calls] == [
        ("text_search", {"query": "Where is this?"}),
        ("image_search", {"query": "image_0"}),
        ("web_content", {"url": "https://example.com/observatory"}),
    ]
    sources = get_sources(message)
    assert [s.url for s in sources if s.kind == "web"] == [
        "https://example.com/search/1",
        "https://example.com/search/2",
        "https://example.com/observatory",
    ]
    assert [s.image_url for s in sources if s.kind == "image"] == [
        "https://example.com/images/1.jpg",
        "https://example.com/images/2.jpg",
    ]
    assert sources[0].title == "Result 1 for Where is this?"
    assert sources[0].snippet == "Snippet 1 about Where is this?."


@pytest.mark.parametrize("chunk_size", [3, 10_000])
def test_deep_research_sync(make_llm: Any, r1v4_server: LocalR1V4Server, chunk_size: int) -> None:
    llm = make_llm(enable_search=True)
    message, chunks = run_both(llm, r1v4_server, RESEARCH, chunk_size)
    check_research(message)
    full = aggregate(chunks)
    check_research(full)
    same_message(message, full)
    assert r1v4_server.requests[-1].body["enable_search"] is True


async def test_deep_research_async(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    message, chunks = await arun_both(make_llm(), r1v4_server, RESEARCH, 6)
    check_research(message)
    same_message(message, aggregate(chunks))


def test_deep_research_v1_blocks_and_citations(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm(output_version="v1")
    message, chunks = run_both(llm, r1v4_server, RESEARCH, 9)
    full = aggregate(chunks)
    for msg in (message, full):
        content = msg.content
        assert isinstance(content, list)
        blocks = [b for b in content if isinstance(b, dict)]
        assert len(blocks) == len(content)
        kinds = [b["type"] for b in blocks if b["type"] != "reasoning"]
        assert kinds == ["server_tool_call", "server_tool_result"] * 3 + ["text"]
        text = [b for b in blocks if b["type"] == "text"]
        assert len(text) == 1 and text[0]["text"] == RESEARCH_ANSWER
        cited = [a["url"] for a in text[0]["annotations"]]
        assert cited[:2] == ["https://example.com/search/1", "https://example.com/search/2"]
        assert all(a["type"] == "citation" for a in text[0]["annotations"])
        calls = [b for b in blocks if b["type"] == "server_tool_call"]
        results = [b for b in blocks if b["type"] == "server_tool_result"]
        assert [c["name"] for c in calls] == ["text_search", "image_search", "web_content"]
        assert [r["tool_call_id"] for r in results] == [c["id"] for c in calls]
        assert not msg.tool_calls  # the server's tools are never the agent's to run
    # The same trace whichever way it came (LangChain numbers streamed blocks; ignore that).
    assert without_index(message.content) == without_index(full.content)


def without_index(blocks: Any) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in b.items() if k != "index"} for b in blocks if b["type"] != "reasoning"
    ]


def check_plan(message: BaseMessage) -> None:
    steps = get_plan(message)
    assert steps is not None
    assert [s.tool_name for s in steps] == ["code", "text_search", "answer"]
    assert steps[1].parameters == {"query": "What is shown?"}  # parsed from its JSON string
    assert "img.crop" in steps[0].parameters["code"]
    assert message.content == ""  # a planner writes no answer
    assert "break the task into 3 steps" in message.additional_kwargs["reasoning_content"]


def test_planner_sync(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm(model="skywork/r1v4-vl-planner-lite")
    message, chunks = run_both(llm, r1v4_server, PLANNER, 11)
    check_plan(message)
    full = aggregate(chunks)
    check_plan(full)
    same_message(message, full)
    assert r1v4_server.requests[-1].body["model"] == "skywork/r1v4-vl-planner-lite"


async def test_planner_async_and_as_a_chain_step(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    llm = make_llm(model="skywork/r1v4-vl-planner-lite")
    message, chunks = await arun_both(llm, r1v4_server, PLANNER, 4)
    check_plan(message)
    same_message(message, aggregate(chunks))
    r1v4_server.enqueue(Reply(content=PLANNER))
    steps = await (llm | get_plan).ainvoke("plan it")
    assert [s.tool_name for s in steps] == ["code", "text_search", "answer"]


def test_planner_v1_has_the_plan_block(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=PLANNER))
    message = make_llm(output_version="v1").invoke("plan")
    plan = [b for b in message.content if b["type"] == "non_standard"]
    assert plan[0]["value"]["type"] == "plan"
    assert [s["tool_name"] for s in plan[0]["value"]["steps"]] == ["code", "text_search", "answer"]


def test_untagged_reply_is_all_answer(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="Just text, <b>bold</b> and a < b.", repeat=2))
    message, chunks = make_llm().invoke("q"), list(make_llm().stream("q"))
    assert message.content == "Just text, <b>bold</b> and a < b."
    assert "raw_content" not in message.response_metadata
    same_message(message, aggregate(chunks))


def test_malformed_transcript_loses_no_text(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    cut = '<think>checking</think><tool_call>{"name": "code", "argum'
    r1v4_server.enqueue(Reply(content=cut, repeat=2, finish_reason="length"))
    message = make_llm().invoke("q")
    chunks = list(make_llm().stream("q"))
    # The unclosed call is shown as text (the reply was cut off), and the issue is reported.
    assert message.content == '<tool_call>{"name": "code", "argum'
    assert message.response_metadata["finish_reason"] == "length"
    assert message.response_metadata["transcript_issues"][0]["kind"] == "unclosed_tag"
    same_message(message, aggregate(chunks))


# ---------------------------------------------------------------------- later turns


def second_turn(llm: ChatR1V4, server: LocalR1V4Server, first: Any) -> dict[str, Any]:
    llm.invoke([HumanMessage("What is shown?"), first, HumanMessage("And the colour?")])
    return server.requests[-1].messages[1]


def test_history_sends_the_answer_by_default(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm()
    r1v4_server.enqueue(Reply(content=GENERAL))
    first = llm.invoke("What is shown?")
    sent = second_turn(llm, r1v4_server, first)
    assert sent == {"role": "assistant", "content": GENERAL_ANSWER}


def test_history_transcript_mode_sends_the_raw_transcript(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content=GENERAL, chunk_size=3))
    first = aggregate(list(make_llm().stream("What is shown?")))
    sent = second_turn(make_llm(history="transcript"), r1v4_server, first)
    # The server's trace goes back as it came; its reasoning does not, unless asked.
    assert "<tool_call>" in sent["content"] and "<observation>" in sent["content"]
    assert "<think>" not in sent["content"] and GENERAL.startswith("<think>")
    assert sent["content"].endswith(GENERAL[GENERAL.rindex("<answer>") :].rstrip())
    with_reasoning = second_turn(
        make_llm(history="transcript", send_reasoning=True), r1v4_server, first
    )
    assert with_reasoning["content"] == GENERAL


def test_history_sends_reasoning_only_when_asked(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content="Red.", reasoning="It looks red."))
    first = make_llm().invoke("What colour?")
    assert "It looks red" not in second_turn(make_llm(), r1v4_server, first)["content"]
    sent = second_turn(make_llm(send_reasoning=True), r1v4_server, first)
    assert sent["content"] == "<think>\nIt looks red.\n</think>\n\nRed."


def test_history_from_v1_messages(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=RESEARCH))
    first = make_llm(output_version="v1").invoke("Where is this?")
    assert isinstance(first.content, list)
    sent = second_turn(make_llm(), r1v4_server, first)
    assert sent == {"role": "assistant", "content": RESEARCH_ANSWER}


def test_stream_events_v3_carry_the_trace(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    """LangChain's content-block event protocol sees reasoning, server trace and answer."""
    from langchain_tests.utils.stream_lifecycle import assert_valid_event_stream

    r1v4_server.enqueue(Reply(content=RESEARCH, chunk_size=4))
    stream = make_llm().stream_events("Where is this?", version="v3")
    events = list(stream)
    assert_valid_event_stream(events)
    message = stream.output
    kinds = [b["type"] for b in message.content_blocks]
    assert kinds == ["reasoning"] + ["server_tool_call", "server_tool_result"] * 3 + ["text"]
    assert message.text == RESEARCH_ANSWER
    assert message.tool_calls == []
