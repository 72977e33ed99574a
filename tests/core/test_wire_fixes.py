"""The wire as real servers need it (issue #14, part 2), against the local server.

Content-Type on every request; a request given as a plain mapping; ``finish_reason: ""`` on every
chunk; a stream complete at ``[DONE]`` although the server holds the connection; ``Retry-After``
honoured up to a cap and reported beyond it; the prompted-tools switch only on real refusals;
untagged content verbatim.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from langchain_r1v4 import ChatR1V4
from llama_index_r1v4 import R1V4
from r1v4 import (
    AsyncR1V4Client,
    BadRequestError,
    R1V4Client,
    RateLimitError,
    accumulate,
)
from r1v4.testing import LocalR1V4Server, Reply

KEY = "test-key"
HI: dict[str, Any] = {"model": "skywork/r1v4-lite", "messages": [{"role": "user", "content": "hi"}]}


def _client(server: LocalR1V4Server, **kw: Any) -> R1V4Client:
    return R1V4Client(api_key=KEY, base_url=server.base_url, **kw)


def _aclient(server: LocalR1V4Server, **kw: Any) -> AsyncR1V4Client:
    return AsyncR1V4Client(api_key=KEY, base_url=server.base_url, **kw)


def _stream_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# ------------------------------------------------------------------------------ Content-Type


def test_content_type_on_every_request(r1v4_server: LocalR1V4Server) -> None:
    with _client(r1v4_server) as client:
        client.create(**HI)
        list(client.stream(**HI))

    async def go() -> None:
        async with _aclient(r1v4_server) as aclient:
            await aclient.create(**HI)
            [c async for c in aclient.stream(**HI)]

    asyncio.run(go())
    ChatR1V4(api_key=KEY, base_url=r1v4_server.base_url).invoke("hi")
    R1V4(api_key=KEY, base_url=r1v4_server.base_url).complete("hi")
    assert len(r1v4_server.requests) == 6
    for request in r1v4_server.requests:
        assert request.headers["content-type"] == "application/json"


# ------------------------------------------------------------------------------ plain mapping


def test_request_as_a_plain_mapping(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="one"), Reply(content="two"))
    with _client(r1v4_server) as client:
        assert client.create(dict(HI)).message.content == "one"
        assert _stream_text(list(client.stream(dict(HI)))) == "two"


def test_request_as_a_plain_mapping_async(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="one"), Reply(content="two"))

    async def go() -> tuple[str, str]:
        async with _aclient(r1v4_server) as aclient:
            first = (await aclient.create(dict(HI))).message.content
            second = _stream_text([c async for c in aclient.stream(dict(HI))])
        return first, second

    assert asyncio.run(go()) == ("one", "two")


# ------------------------------------------------------------------------------ finish_reason ""


def test_empty_finish_reason_on_every_chunk(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="Hello there, world", chunk_size=3, chunk_finish_reason=""))
    with _client(r1v4_server) as client:
        chunks = list(client.stream(**HI))
    assert _stream_text(chunks) == "Hello there, world"
    assert accumulate(chunks).choices[0].finish_reason == "stop"


def test_empty_finish_reason_on_every_chunk_async(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(
        Reply(content="<think>hm</think><answer>Yes</answer>", chunk_finish_reason="")
    )

    async def go() -> list[Any]:
        async with _aclient(r1v4_server) as aclient:
            return [c async for c in aclient.stream(**HI)]

    reply = accumulate(asyncio.run(go()))
    assert (reply.message.content, reply.message.reasoning) == ("Yes", "hm")


# ------------------------------------------------------------------------------ [DONE]

HELD = 30.0  # seconds the server holds the connection open after [DONE]


def test_stream_is_complete_at_done(r1v4_server: LocalR1V4Server) -> None:
    """The caller has the whole stream at ``[DONE]``, while the server still holds the body
    open; that connection is then closed, not reused."""
    r1v4_server.enqueue(Reply(content="held open", hold_after_done=HELD), Reply(content="next"))
    with _client(r1v4_server, max_retries=0) as client:
        assert _stream_text(list(client.stream(**HI))) == "held open"
        assert not r1v4_server.requests[0].completed
        assert client.create(**HI).message.content == "next"
    assert r1v4_server.connections_opened == 2


def test_stream_is_complete_at_done_async(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="held open", hold_after_done=HELD), Reply(content="next"))

    async def go() -> tuple[str, bool, str]:
        async with _aclient(r1v4_server, max_retries=0) as aclient:
            text = _stream_text([c async for c in aclient.stream(**HI)])
            held = not r1v4_server.requests[0].completed
            return text, held, (await aclient.create(**HI)).message.content

    assert asyncio.run(go()) == ("held open", True, "next")
    assert r1v4_server.connections_opened == 2


def test_connection_kept_when_the_body_ends_at_done(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="a"), Reply(content="b"))
    with _client(r1v4_server) as client:
        assert _stream_text(list(client.stream(**HI))) == "a"
        assert _stream_text(list(client.stream(**HI))) == "b"
    assert r1v4_server.connections_opened == 1


def test_langchain_last_chunk_with_usage_at_done(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="held open", hold_after_done=HELD))
    llm = ChatR1V4(api_key=KEY, base_url=r1v4_server.base_url, max_retries=0)
    chunks = list(llm.stream("hi"))
    assert not r1v4_server.requests[0].completed
    assert "".join(str(c.content) for c in chunks) == "held open"
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] > 0


# ------------------------------------------------------------------------------ Retry-After


def _rate_limited(after: str) -> Reply:
    return Reply(status=429, headers={"Retry-After": after})


def test_retry_after_beyond_the_cap_is_reported_not_slept(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(_rate_limited("300"))
    with _client(r1v4_server, max_retries=2) as client, pytest.raises(RateLimitError) as info:
        client.create(**HI)
    assert info.value.retry_after == 300.0
    assert len(r1v4_server.requests) == 1


def test_retry_after_within_the_cap_is_honoured_and_logged(
    r1v4_server: LocalR1V4Server, caplog: pytest.LogCaptureFixture
) -> None:
    r1v4_server.enqueue(_rate_limited("1"), Reply(content="after the wait"))
    with caplog.at_level(logging.INFO, logger="r1v4"), _client(r1v4_server, max_retries=1) as c:
        assert c.create(**HI).message.content == "after the wait"
    assert len(r1v4_server.requests) == 2
    retries = [r for r in caplog.records if r.levelno == logging.INFO and "429" in r.getMessage()]
    assert retries, [r.getMessage() for r in caplog.records]


def test_retry_after_on_the_error_when_retries_run_out(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(_rate_limited("7"))
    with _client(r1v4_server, max_retries=0) as client, pytest.raises(RateLimitError) as info:
        client.create(**HI)
    assert info.value.retry_after == 7.0


# ------------------------------------------------------------------------------ tool refusals

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ASK_TOOLS = {**HI, "tools": [WEATHER]}
PROMPTED_CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Berlin"}}</tool_call>'

VLLM_AUTO = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
REFUSALS = {
    "vllm": Reply(
        status=400,
        body={
            "error": {"message": VLLM_AUTO, "type": "BadRequestError", "param": None, "code": 400}
        },
    ),
    "vllm-flat": Reply(
        status=400,
        body={
            "object": "error",
            "message": VLLM_AUTO,
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        },
    ),
    "sglang": Reply(
        status=500,
        body={
            "object": "error",
            "message": "Internal server error: Unsupported tool_call_parser: None",
            "type": "InternalServerError",
            "param": None,
            "code": 500,
        },
    ),
    "llama.cpp": Reply(
        status=500,
        body={
            "error": {
                "code": 500,
                "message": "tools param requires --jinja flag",
                "type": "server_error",
            }
        },
    ),
}


@pytest.mark.parametrize("server_kind", list(REFUSALS))
def test_prompted_after_a_real_refusal(r1v4_server: LocalR1V4Server, server_kind: str) -> None:
    r1v4_server.enqueue(REFUSALS[server_kind], Reply(content=PROMPTED_CALL))
    with _client(r1v4_server) as client:
        reply = client.create(**ASK_TOOLS)
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in reply.message.tool_calls]
    assert calls == [("get_weather", {"city": "Berlin"})]
    first, second = r1v4_server.requests
    assert "tools" in first.body and "tools" not in second.body


NOT_REFUSALS = {
    "tool message": "messages[2]: a tool message needs a tool_call_id",
    "tool schema": "tools[0].function.parameters: 'type' must be 'object'",
    "tool_choice": "tool_choice names 'lookup', which is not among the tools",
}


@pytest.mark.parametrize("message", list(NOT_REFUSALS.values()), ids=list(NOT_REFUSALS))
def test_other_errors_naming_a_tool_do_not_switch(
    r1v4_server: LocalR1V4Server, message: str
) -> None:
    r1v4_server.enqueue(
        Reply(status=400, body={"error": {"message": message, "type": "invalid_request_error"}}),
        Reply(content="native still"),
    )
    with _client(r1v4_server) as client:
        with pytest.raises(BadRequestError) as info:
            client.create(**ASK_TOOLS)
        assert info.value.message == message
        assert client.create(**ASK_TOOLS).message.content == "native still"
    assert [("tools" in r.body) for r in r1v4_server.requests] == [True, True]


# ------------------------------------------------------------------------------ verbatim text

UNTAGGED = "The leaves unfold,\n"


def test_untagged_content_is_verbatim(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=UNTAGGED, repeat=2))
    with _client(r1v4_server) as client:
        assert client.create(**HI).message.content == UNTAGGED
        assert accumulate(list(client.stream(**HI))).message.content == UNTAGGED


def test_untagged_content_is_verbatim_in_the_adapters(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="  " + UNTAGGED, repeat=4))
    llm = ChatR1V4(api_key=KEY, base_url=r1v4_server.base_url)
    assert llm.invoke("hi").content == "  " + UNTAGGED
    assert "".join(str(c.content) for c in llm.stream("hi")) == "  " + UNTAGGED
    li = R1V4(api_key=KEY, base_url=r1v4_server.base_url)
    assert li.complete("hi").text == "  " + UNTAGGED
    assert "".join(r.delta or "" for r in li.stream_complete("hi")) == "  " + UNTAGGED


def test_answer_tags_are_still_trimmed_inside(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="<think>x</think><answer>\n  Paris.\n</answer>", repeat=2))
    with _client(r1v4_server) as client:
        assert client.create(**HI).message.content == "Paris."
        assert accumulate(list(client.stream(**HI))).message.content == "Paris."
