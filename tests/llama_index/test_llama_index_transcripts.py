"""R1V4's agentic transcripts in LlamaIndex (issue #5): answer, reasoning, server trace, sources,
plans and conversation history, sync and async, stream and non-stream, over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CitationBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from llama_index_r1v4 import R1V4, get_plan, get_sources
from r1v4 import PlanStep, Source
from r1v4.testing import (
    LocalR1V4Server,
    Reply,
    deep_research_transcript,
    general_transcript,
    planner_transcript,
)

KEY = "test-key"
QUESTION = [ChatMessage(role="user", content="Where was this photo taken?")]
TAGS = ("<think>", "</think>", "<answer>", "<tool_call>", "<observation>", "<plan>", "_search>")


def plain(llm: R1V4) -> ChatResponse:
    response: ChatResponse = llm.chat(QUESTION)
    return response


def streamed(llm: R1V4) -> ChatResponse:
    responses: list[ChatResponse] = list(llm.stream_chat(QUESTION))
    assert "".join(r.delta or "" for r in responses) == responses[-1].message.content
    return responses[-1]


def aplain(llm: R1V4) -> ChatResponse:
    response: ChatResponse = asyncio.run(llm.achat(QUESTION))
    return response


def astreamed(llm: R1V4) -> ChatResponse:
    async def run() -> list[ChatResponse]:
        return [r async for r in await llm.astream_chat(QUESTION)]

    responses = asyncio.run(run())
    assert "".join(r.delta or "" for r in responses) == responses[-1].message.content
    return responses[-1]


WAYS: dict[str, Callable[[R1V4], ChatResponse]] = {
    "chat": plain,
    "stream_chat": streamed,
    "achat": aplain,
    "astream_chat": astreamed,
}


def thinking(response: ChatResponse) -> str:
    return "".join(b.content or "" for b in response.message.blocks if isinstance(b, ThinkingBlock))


def assert_clean_answer(response: ChatResponse, expected: str) -> None:
    content = response.message.content or ""
    assert content == expected
    assert not any(tag in content for tag in TAGS)
    assert not [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]


@pytest.mark.parametrize("way", WAYS)
def test_general_mode(llm: R1V4, r1v4_server: LocalR1V4Server, way: str) -> None:
    text = general_transcript(final_answer="A red square.", rounds=2)
    r1v4_server.enqueue(Reply(content=text, chunk_size=7))
    response = WAYS[way](llm)
    assert_clean_answer(response, "A red square.")
    assert "crop the region of interest" in thinking(response)
    assert "so I can answer now" in thinking(response)
    kwargs = response.message.additional_kwargs
    calls = kwargs["server_tool_calls"]
    assert [c["name"] for c in calls] == ["code", "code"]
    assert "Image.open" in calls[0]["args"]["code"]
    results = kwargs["server_tool_results"]
    assert [r["tool_call_id"] for r in results] == [c["id"] for c in calls]
    assert results[0]["output"]["type"] == "code"
    assert kwargs["raw_content"] == text
    json.dumps(kwargs)  # JSON-safe: memory stores and workflow contexts serialise it


@pytest.mark.parametrize("way", WAYS)
def test_deep_research_mode(r1v4_server: LocalR1V4Server, way: str) -> None:
    llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url, enable_search=True)
    text = deep_research_transcript(final_answer="At the Example Observatory.", results=2)
    r1v4_server.enqueue(Reply(content=text, chunk_size=5))
    response = WAYS[way](llm)
    assert r1v4_server.last_request.body["enable_search"] is True
    assert_clean_answer(response, "At the Example Observatory.")
    kwargs = response.message.additional_kwargs
    assert [c["name"] for c in kwargs["server_tool_calls"]] == [
        "text_search",
        "image_search",
        "web_content",
    ]
    sources = kwargs["sources"]
    web = [s for s in sources if s["kind"] == "web"]
    images = [s for s in sources if s["kind"] == "image"]
    assert [s["url"] for s in web[:2]] == [
        "https://example.com/search/1",
        "https://example.com/search/2",
    ]
    assert web[0]["snippet"].startswith("Snippet 1")
    assert [s["image_url"] for s in images] == [
        "https://example.com/images/1.jpg",
        "https://example.com/images/2.jpg",
    ]
    assert "https://example.com/observatory" in [s["url"] for s in web]
    typed = get_sources(response)
    assert all(isinstance(s, Source) for s in typed)
    assert [(s.kind, s.url, s.image_url) for s in typed] == [
        (s["kind"], s.get("url"), s.get("image_url")) for s in sources
    ]
    citations = [b for b in response.message.blocks if isinstance(b, CitationBlock)]
    assert [c.source for c in citations] == [s.get("url") or s["image_url"] for s in sources]
    assert citations[0].title == "Result 1 for Where was this photo taken?"


@pytest.mark.parametrize("way", WAYS)
def test_planner_mode(r1v4_server: LocalR1V4Server, way: str) -> None:
    llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url, model="skywork/r1v4-vl-planner-lite")
    r1v4_server.enqueue(Reply(content=planner_transcript("What is in the image?"), chunk_size=9))
    response = WAYS[way](llm)
    assert r1v4_server.last_request.body["model"] == "skywork/r1v4-vl-planner-lite"
    assert_clean_answer(response, "")
    assert "break the task into 3 steps" in thinking(response)
    plan = get_plan(response)
    assert plan is not None
    assert all(isinstance(step, PlanStep) for step in plan)
    assert [s.tool_name for s in plan] == ["code", "text_search", "answer"]
    # The planner writes parameters as a JSON string; the plan holds them parsed.
    assert plan[1].parameters == {"query": "What is in the image?"}
    assert get_plan(response.message) == plan
    assert response.message.additional_kwargs["plan"][0]["tool_name"] == "code"


def test_plan_accessor_on_replies_without_a_plan(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="just text"))
    plain_reply = llm.chat(QUESTION)
    assert get_plan(plain_reply) is None
    assert get_sources(plain_reply) == []
    r1v4_server.enqueue(Reply(content=planner_transcript()))
    assert get_plan(llm.complete("plan it")) is not None


def test_short_reply_without_tags_and_reasoning_content(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(
        Reply(content="Just an answer."),
        Reply(content="<answer>Tagged.</answer>", reasoning="Separate reasoning."),
    )
    first = llm.chat(QUESTION)
    assert first.message.content == "Just an answer."
    assert first.message.additional_kwargs == {}
    second = llm.chat(QUESTION)
    assert second.message.content == "Tagged."
    assert thinking(second) == "Separate reasoning."


def test_trace_streams_as_it_is_parsed(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    text = general_transcript(final_answer="Done.")
    r1v4_server.enqueue(Reply(content=text, chunk_size=6))
    responses = list(llm.stream_chat(QUESTION))
    first_call = next(
        i for i, r in enumerate(responses) if r.message.additional_kwargs.get("server_tool_calls")
    )
    first_answer = next(i for i, r in enumerate(responses) if r.delta)
    assert first_call < first_answer  # the tool call is reported before the answer starts
    # Responses already handed out are snapshots: the later result does not appear in them.
    assert "server_tool_results" not in responses[first_call].message.additional_kwargs


# ----------------------------------------------------------------------------- history


def turn_two(
    r1v4_server: LocalR1V4Server, stream: bool, text: str | None = None, **options: Any
) -> dict[str, Any]:
    llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url, **options)
    text = text or general_transcript(final_answer="A red square.")
    r1v4_server.enqueue(Reply(content=text), Reply(content="Sure."))
    first = list(llm.stream_chat(QUESTION))[-1] if stream else llm.chat(QUESTION)
    conversation = [*QUESTION, first.message, ChatMessage(role="user", content="Thanks!")]
    llm.chat(conversation)
    sent: dict[str, Any] = r1v4_server.last_request.messages[1]
    assert sent["role"] == "assistant"
    return sent


@pytest.mark.parametrize("stream", [False, True])
def test_history_sends_the_answer_by_default(r1v4_server: LocalR1V4Server, stream: bool) -> None:
    assert turn_two(r1v4_server, stream) == {"role": "assistant", "content": "A red square."}


@pytest.mark.parametrize("stream", [False, True])
def test_history_can_send_the_transcript(r1v4_server: LocalR1V4Server, stream: bool) -> None:
    sent = turn_two(r1v4_server, stream, history="transcript")
    whole = general_transcript(final_answer="A red square.")
    # The server's trace goes back as it came; its reasoning only when asked.
    assert "<tool_call>" in sent["content"] and "<observation>" in sent["content"]
    assert "<think>" not in sent["content"] and "<think>" in whole
    assert sent["content"].endswith(whole[whole.rindex("<answer>") :].rstrip())
    # Asked for, the reasoning goes back once: inline, where the transcript had it.
    again = turn_two(r1v4_server, stream, history="transcript", send_reasoning=True)
    assert again["content"] == whole


@pytest.mark.parametrize("stream", [False, True])
def test_history_can_send_reasoning(r1v4_server: LocalR1V4Server, stream: bool) -> None:
    sent = turn_two(r1v4_server, stream, send_reasoning=True)
    assert sent["content"].startswith("<think>\nThe question is:")
    assert sent["content"].endswith("</think>\n\nA red square.")


def test_transcript_history_of_a_tool_calling_reply_sends_calls_once(
    r1v4_server: LocalR1V4Server,
) -> None:
    llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url, history="transcript")
    tool = {
        "type": "function",
        "function": {"name": "zoom", "parameters": {"type": "object", "properties": {}}},
    }
    r1v4_server.enqueue(
        Reply(content='Let me zoom.<tool_call>{"name": "zoom", "arguments": {}}</tool_call>'),
        Reply(content="Done."),
    )
    first = llm.chat(QUESTION, tools=[tool])
    call_id = first.message.blocks[-1].tool_call_id
    result = ChatMessage(role="tool", content="zoomed", additional_kwargs={"tool_call_id": call_id})
    llm.chat([*QUESTION, first.message, result], tools=[tool])
    sent = r1v4_server.last_request.messages[1]
    assert sent["content"] == "Let me zoom."
    assert [c["function"]["name"] for c in sent["tool_calls"]] == ["zoom"]


def test_history_in_a_memory_round_trip(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    from llama_index.core.memory import ChatMemoryBuffer
    from llama_index.core.storage.chat_store import SimpleChatStore

    r1v4_server.enqueue(Reply(content=deep_research_transcript(final_answer="There.")))
    reply = llm.chat(QUESTION)
    store = SimpleChatStore()
    memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="u")
    memory.put_messages([*QUESTION, reply.message])
    restored = SimpleChatStore.model_validate_json(store.model_dump_json())
    messages = restored.get_messages("u")
    assert messages[1].additional_kwargs["sources"] == reply.message.additional_kwargs["sources"]
    llm.chat([*messages, ChatMessage(role="user", content="More?")])
    assert r1v4_server.last_request.messages[1] == {"role": "assistant", "content": "There."}
