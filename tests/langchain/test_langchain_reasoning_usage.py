"""Reasoning in each wire form stays out of ``content``; usage arrives in both call styles."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk

from r1v4.testing import LocalR1V4Server, Reply

ANSWER = "The answer is 42, as computed."
REASONING = "First I multiply six by seven; that gives forty-two."
FORMS = ["reasoning_content", "reasoning", "inline"]


class Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        assert isinstance(token, str)  # a chat model's tokens are text
        self.tokens.append(token)


def reply(form: str) -> Reply:
    return Reply(content=ANSWER, reasoning=REASONING, reasoning_field=form, chunk_size=5)  # type: ignore[arg-type]


def check_split(message: AIMessage) -> None:
    assert message.content == ANSWER
    assert message.additional_kwargs["reasoning_content"] == REASONING
    assert "<think>" not in message.text and "multiply" not in message.text


@pytest.mark.parametrize("form", FORMS)
def test_invoke_keeps_reasoning_out_of_content(
    make_llm: Any, r1v4_server: LocalR1V4Server, form: str
) -> None:
    r1v4_server.enqueue(reply(form))
    check_split(make_llm().invoke("6*7?"))


@pytest.mark.parametrize("form", FORMS)
def test_stream_sends_reasoning_first_in_chunks_of_its_own(
    make_llm: Any, r1v4_server: LocalR1V4Server, form: str
) -> None:
    r1v4_server.enqueue(reply(form))
    handler = Tokens()
    chunks = list(make_llm().stream("6*7?", config={"callbacks": [handler]}))
    reasoning_at = [i for i, c in enumerate(chunks) if c.additional_kwargs.get("reasoning_content")]
    answer_at = [i for i, c in enumerate(chunks) if c.content]
    assert len(reasoning_at) > 1 and len(answer_at) > 1  # it really streamed
    assert max(reasoning_at) < min(answer_at)
    assert not set(reasoning_at) & set(answer_at)
    full = chunks[0]
    for c in chunks[1:]:
        full += c
    check_split(full)
    # Callbacks see the answer, token by token, and never the reasoning.
    assert "".join(handler.tokens) == ANSWER
    assert len([t for t in handler.tokens if t]) == len(answer_at)


@pytest.mark.parametrize("form", FORMS)
async def test_async_paths_match(make_llm: Any, r1v4_server: LocalR1V4Server, form: str) -> None:
    llm = make_llm()
    r1v4_server.enqueue(reply(form), reply(form))
    check_split(await llm.ainvoke("6*7?"))
    full: AIMessageChunk | None = None
    first_answer_seen = False
    async for chunk in llm.astream("6*7?"):
        if chunk.content:
            first_answer_seen = True
        elif chunk.additional_kwargs.get("reasoning_content"):
            assert not first_answer_seen, "reasoning after the answer started"
        full = chunk if full is None else full + chunk
    assert full is not None
    check_split(full)


def test_v1_output_has_standard_reasoning_blocks(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    llm = make_llm(output_version="v1")
    r1v4_server.enqueue(reply("inline"), reply("reasoning"))
    message = llm.invoke("6*7?")
    assert message.content == [
        {"type": "reasoning", "reasoning": REASONING},
        {"type": "text", "text": ANSWER},
    ]
    full: Any = None
    for chunk in llm.stream("6*7?"):
        full = chunk if full is None else full + chunk
    assert [(b["type"], b.get("reasoning", b.get("text"))) for b in full.content] == [
        ("reasoning", REASONING),
        ("text", ANSWER),
    ]


def test_lazy_content_blocks_on_v0_messages(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(reply("reasoning_content"))
    message = make_llm().invoke("6*7?")
    assert message.content == ANSWER  # v0 content stays a string
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]


# ------------------------------------------------------------------------------- usage


def test_usage_non_stream_and_stream_agree(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    usage = {
        "prompt_tokens": 11,
        "completion_tokens": 20,
        "total_tokens": 31,
        "completion_tokens_details": {"reasoning_tokens": 12},
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    r1v4_server.enqueue(Reply(content=ANSWER, reasoning=REASONING, usage=usage, repeat=2))
    llm = make_llm()
    expected = {
        "input_tokens": 11,
        "output_tokens": 20,
        "total_tokens": 31,
        "output_token_details": {"reasoning": 12},
        "input_token_details": {"cache_read": 3},
    }
    assert llm.invoke("hi").usage_metadata == expected
    chunks = list(llm.stream("hi"))
    with_usage = [c for c in chunks if c.usage_metadata]
    assert with_usage == [chunks[-1]]  # once, on the last chunk
    assert chunks[-1].usage_metadata == expected
    assert chunks[-1].chunk_position == "last"
    assert r1v4_server.requests[-1].body["stream_options"] == {"include_usage": True}


async def test_usage_async_and_counted_by_server(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    llm = make_llm()
    plain = await llm.ainvoke("count these four words")
    assert plain.usage_metadata is not None
    assert plain.usage_metadata["input_tokens"] == 4  # the server counts whitespace words
    full: Any = None
    async for chunk in llm.astream("count these four words"):
        full = chunk if full is None else full + chunk
    assert full.usage_metadata == plain.usage_metadata


def test_stream_usage_can_be_turned_off(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    chunks = list(make_llm(stream_usage=False).stream("hi"))
    assert all(c.usage_metadata is None for c in chunks)
    assert "stream_options" not in r1v4_server.requests[-1].body
    # ... and back on for one call
    chunks = list(make_llm(stream_usage=False).stream("hi", stream_usage=True))
    assert chunks[-1].usage_metadata is not None


def test_usage_on_the_hosted_path(r1v4_server: LocalR1V4Server) -> None:
    from langchain_r1v4 import ChatR1V4

    llm = ChatR1V4(api_key="test-key", base_url=r1v4_server.hosted_base_url)
    chunks = list(llm.stream("two words"))
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata["input_tokens"] == 2
    assert r1v4_server.requests[-1].path == "/api/v1/chat/completions"


def test_streamed_answer_chunks_are_whole_messages_of_their_own(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    """Answer pieces are built from a validated template (the hot path): each must equal the
    validated message and share no dict or list with another chunk."""
    r1v4_server.enqueue(Reply(content=ANSWER, chunk_size=5))
    chunks = [c for c in make_llm().stream("Hi") if c.content]
    assert len(chunks) >= 3 and "".join(c.content for c in chunks) == ANSWER
    for chunk in chunks:
        validated = AIMessageChunk(
            content=chunk.content,
            id=chunk.id,
            response_metadata={"model_provider": "skywork"},
        )
        assert chunk == validated
        assert chunk.content_blocks == validated.content_blocks
    first, second = chunks[0], chunks[1]
    for field in ("additional_kwargs", "response_metadata", "tool_calls", "tool_call_chunks"):
        assert getattr(first, field) is not getattr(second, field), field
    first.additional_kwargs["mine"] = 1
    first.response_metadata["mine"] = 1
    assert "mine" not in second.additional_kwargs and "mine" not in second.response_metadata
