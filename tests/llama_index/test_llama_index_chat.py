"""Chat and completion over loopback HTTP: answer, reasoning, streaming, usage, callbacks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ChatResponse,
    DocumentBlock,
    TextBlock,
    ThinkingBlock,
    VideoBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatStartEvent,
    LLMCompletionStartEvent,
)

import r1v4
from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server, Reply

USER = [ChatMessage(role="user", content="Why is the sky blue?")]
REASONING_FIELDS = ["reasoning_content", "reasoning", "inline"]


def thinking(message: ChatMessage) -> str | None:
    found = [b.content for b in message.blocks if isinstance(b, ThinkingBlock)]
    return found[0] if found else None


def collect(responses: Any) -> list[ChatResponse]:
    return list(responses)


async def acollect(responses: Any) -> list[ChatResponse]:
    return [r async for r in await responses]


# ----------------------------------------------------------------------------- reasoning


@pytest.mark.parametrize("field", REASONING_FIELDS)
def test_chat_separates_reasoning_from_answer(
    llm: R1V4, r1v4_server: LocalR1V4Server, field: str
) -> None:
    r1v4_server.enqueue(
        Reply(
            content="Rayleigh scattering.", reasoning="Short waves scatter.", reasoning_field=field
        )
    )
    response = llm.chat(USER)
    assert response.message.content == "Rayleigh scattering."
    assert thinking(response.message) == "Short waves scatter."
    assert "Short waves" not in str(response.message.content)
    assert response.message.role == "assistant"


@pytest.mark.parametrize("field", REASONING_FIELDS)
def test_stream_chat_deltas_and_thinking_deltas(
    llm: R1V4, r1v4_server: LocalR1V4Server, field: str
) -> None:
    r1v4_server.enqueue(
        Reply(
            content="Rayleigh scattering.",
            reasoning="Short waves scatter more.",
            reasoning_field=field,
            chunk_size=4,
        )
    )
    responses = collect(llm.stream_chat(USER))
    answer = "".join(r.delta or "" for r in responses)
    reasoning = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
    assert answer == "Rayleigh scattering."
    assert reasoning == "Short waves scatter more."
    # The first response already carries reasoning, with no answer yet.
    assert responses[0].additional_kwargs.get("thinking_delta")
    assert responses[0].delta == ""
    final = responses[-1].message
    assert final.content == "Rayleigh scattering."
    assert thinking(final) == "Short waves scatter more."


@pytest.mark.parametrize("field", REASONING_FIELDS)
def test_astream_chat_keeps_a_reasoning_only_first_chunk(
    llm: R1V4, r1v4_server: LocalR1V4Server, field: str
) -> None:
    # llama-index-llms-openai drops the first chunk here when it has no content.
    r1v4_server.enqueue(Reply(content="Blue.", reasoning="R", reasoning_field=field, chunk_size=8))
    responses = asyncio.run(acollect(llm.astream_chat(USER)))
    assert responses[0].additional_kwargs.get("thinking_delta") == "R"
    assert responses[0].delta == ""
    assert "".join(r.delta or "" for r in responses) == "Blue."
    assert thinking(responses[-1].message) == "R"


@pytest.mark.parametrize("field", REASONING_FIELDS)
def test_achat(llm: R1V4, r1v4_server: LocalR1V4Server, field: str) -> None:
    r1v4_server.enqueue(Reply(content="Blue.", reasoning="Think.", reasoning_field=field))
    response = asyncio.run(llm.achat(USER))
    assert response.message.content == "Blue."
    assert thinking(response.message) == "Think."


def test_stream_aggregate_equals_non_stream(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    reply = Reply(content="<think>inline thoughts</think>The answer.", chunk_size=3, repeat=3)
    r1v4_server.enqueue(reply)
    whole = llm.chat(USER).message
    streamed = collect(llm.stream_chat(USER))[-1].message
    astreamed = asyncio.run(acollect(llm.astream_chat(USER)))[-1].message
    assert whole.content == "The answer."
    for message in (streamed, astreamed):
        assert message.blocks == whole.blocks
        assert message.additional_kwargs == whole.additional_kwargs


def test_streamed_messages_are_not_changed_afterwards(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content="one two three four", reasoning="why", chunk_size=2))
    responses = collect(llm.stream_chat(USER))
    texts = [r.message.content for r in responses]
    assert texts == sorted(texts, key=len)  # cumulative, each a snapshot
    assert texts[0] != texts[-1]


def test_no_tag_reply_and_empty_reply(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=""), Reply(content=""))
    assert llm.chat(USER).message.content == ""
    responses = collect(llm.stream_chat(USER))
    assert responses, "a stream always yields at least one response"
    assert responses[-1].message.content == ""
    assert responses[-1].message.role == "assistant"


# ----------------------------------------------------------------------------- complete


def test_complete_and_stream_complete(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(
        Reply(content="Paris.", reasoning="Capital of France."),
        Reply(content="Paris.", reasoning="Capital of France.", chunk_size=2),
    )
    done = llm.complete("Capital of France?")
    assert done.text == "Paris."
    assert done.additional_kwargs["thinking"] == "Capital of France."
    assert done.raw["usage"]["completion_tokens"] > 0
    parts = list(llm.stream_complete("Capital of France?"))
    assert "".join(p.delta or "" for p in parts) == "Paris."
    assert parts[-1].text == "Paris."
    assert "".join(p.additional_kwargs.get("thinking_delta", "") for p in parts) == (
        "Capital of France."
    )
    assert r1v4_server.requests[0].messages == [{"role": "user", "content": "Capital of France?"}]


def test_acomplete_and_astream_complete(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="Paris."), Reply(content="Paris.", chunk_size=2))

    async def run() -> tuple[str, list[str]]:
        done = await llm.acomplete("Capital?")
        parts = [p.delta or "" async for p in await llm.astream_complete("Capital?")]
        return done.text, parts

    text, parts = asyncio.run(run())
    assert text == "Paris."
    assert "".join(parts) == "Paris."


# ----------------------------------------------------------------------------- callbacks


class _Recorder(BaseEventHandler):
    events: list[BaseEvent]

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def recorder() -> Any:
    dispatcher = get_dispatcher()  # the root: every llama_index event reaches it
    handler = _Recorder(events=[])
    dispatcher.add_event_handler(handler)
    try:
        yield handler
    finally:
        dispatcher.event_handlers.remove(handler)


def test_one_start_event_per_public_call(
    llm: R1V4, r1v4_server: LocalR1V4Server, recorder: Any
) -> None:
    r1v4_server.enqueue(Reply(content="ok", repeat=8))
    llm.chat(USER)
    list(llm.stream_chat(USER))
    llm.complete("hi")
    list(llm.stream_complete("hi"))

    async def run() -> None:
        await llm.achat(USER)
        [r async for r in await llm.astream_chat(USER)]
        await llm.acomplete("hi")
        [r async for r in await llm.astream_complete("hi")]

    asyncio.run(run())
    chat_starts = [e for e in recorder.events if isinstance(e, LLMChatStartEvent)]
    completion_starts = [e for e in recorder.events if isinstance(e, LLMCompletionStartEvent)]
    # complete() goes through a private chat: no chat event of its own.
    assert len(chat_starts) == 4
    assert len(completion_starts) == 4
    assert len(r1v4_server.requests) == 8


def test_token_counting_handler_counts_streamed_and_plain_calls(
    r1v4_server: LocalR1V4Server, r1v4_api_key: str
) -> None:
    counter = TokenCountingHandler()
    llm = R1V4(
        api_key=r1v4_api_key,
        base_url=r1v4_server.base_url,
        callback_manager=CallbackManager([counter]),
    )
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    r1v4_server.enqueue(Reply(content="a b c", usage=usage, repeat=4))
    llm.chat(USER)
    list(llm.stream_chat(USER))
    llm.complete("hi")
    list(llm.stream_complete("hi"))
    assert len(counter.llm_token_counts) == 4
    for event in counter.llm_token_counts:
        assert (event.prompt_token_count, event.completion_token_count) == (11, 7)
    assert counter.total_llm_token_count == 4 * 18


def test_stream_usage_is_in_raw_and_additional_kwargs(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    r1v4_server.enqueue(Reply(content="hi there", usage=usage, chunk_size=2))
    last = collect(llm.stream_chat(USER))[-1]
    assert last.raw["usage"] == usage
    assert last.additional_kwargs["prompt_tokens"] == 3
    assert last.additional_kwargs["completion_tokens"] == 2


def test_reasoning_and_cached_tokens_keep_openais_keys_in_raw(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    usage = {
        "prompt_tokens": 11,
        "completion_tokens": 20,
        "total_tokens": 31,
        "completion_tokens_details": {"reasoning_tokens": 12},
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    r1v4_server.enqueue(Reply(content="hi there", usage=usage, repeat=2))
    assert llm.chat(USER).raw["usage"] == usage
    assert collect(llm.stream_chat(USER))[-1].raw["usage"] == usage


# ----------------------------------------------------------------------------- request


def test_request_fields(r1v4_server: LocalR1V4Server, r1v4_api_key: str) -> None:
    llm = R1V4(
        api_key=r1v4_api_key,
        base_url=r1v4_server.base_url,
        enable_search=True,
        temperature=0.2,
        max_tokens=64,
        additional_kwargs={"top_p": 0.9, "seed": 7},
    )
    llm.chat(
        [ChatMessage(role="system", content="Be brief."), *USER],
        stop=["\n\n"],
        repetition_penalty=1.1,
    )
    body = r1v4_server.last_request.body
    assert body["model"] == "skywork/r1v4-lite"
    assert body["enable_search"] is True
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 64
    assert body["top_p"] == 0.9
    assert body["seed"] == 7
    assert body["stop"] == ["\n\n"]
    assert body["repetition_penalty"] == 1.1
    assert body["stream"] is False
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    assert r1v4_server.last_request.headers["authorization"] == f"Bearer {r1v4_api_key}"


@pytest.mark.parametrize(
    ("block", "name"),
    [
        (AudioBlock(audio=b"RIFF0000WAVE", format="wav"), "AudioBlock"),
        (VideoBlock(video=b"\x00\x00\x00\x18ftypmp42"), "VideoBlock"),
        (DocumentBlock(data=b"%PDF-1.4 hello"), "DocumentBlock"),
    ],
)
def test_unsupported_blocks_fail_before_any_request(
    llm: R1V4, r1v4_server: LocalR1V4Server, block: Any, name: str
) -> None:
    message = ChatMessage(role="user", blocks=[TextBlock(text="what is this?"), block])
    with pytest.raises(r1v4.InvalidRequestError, match=name):
        llm.chat([message])
    with pytest.raises(r1v4.InvalidRequestError, match=name):
        llm.stream_chat([message])
    with pytest.raises(r1v4.InvalidRequestError, match=name):
        asyncio.run(llm.astream_chat([message]))
    assert r1v4_server.requests == []


def test_server_errors_arrive_typed(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    bad = R1V4(api_key="wrong", base_url=r1v4_server.base_url)
    with pytest.raises(r1v4.AuthenticationError):
        bad.chat(USER)
    with pytest.raises(r1v4.AuthenticationError):
        collect(bad.stream_chat(USER))
    r1v4_server.enqueue(Reply(status=400, body={"error": {"message": "nope", "type": "x"}}))
    with pytest.raises(r1v4.BadRequestError, match="nope"):
        llm.chat(USER)
