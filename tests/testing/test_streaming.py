"""The local R1V4 server: SSE framing, usage, reasoning fields and tool-call deltas."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from r1v4.testing import LocalR1V4Server, Reply
from testing.support import AUTH, chat_body, deltas, parse_sse, post_stream, url


def test_stream_framing_on_the_hosted_path(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="The answer is 42.", chunk_size=5))
    events = post_stream(r1v4_server)
    assert events[-1] == "[DONE]"
    first, *middle, finish, usage, _ = events
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert [e["choices"][0]["delta"]["content"] for e in middle] == [
        "The a",
        "nswer",
        " is 4",
        "2.",
    ]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["choices"][0]["delta"] == {}
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 4
    assert len({e["id"] for e in events[:-1]}) == 1


def test_usage_chunk_on_v1_only_when_asked(r1v4_server: LocalR1V4Server) -> None:
    plain = post_stream(r1v4_server, "openai")
    assert all(e == "[DONE]" or e["choices"] for e in plain)
    with_usage = post_stream(r1v4_server, "openai", stream_options={"include_usage": True})
    assert with_usage[-2]["choices"] == []
    assert with_usage[-2]["usage"]["total_tokens"] > 0


def test_custom_usage_and_finish_reason(r1v4_server: LocalR1V4Server) -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    r1v4_server.enqueue(Reply(content="cut", finish_reason="length", usage=usage, repeat=2))
    events = post_stream(r1v4_server)
    assert events[-3]["choices"][0]["finish_reason"] == "length"
    assert events[-2]["usage"] == usage
    data = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH).json()
    assert data["usage"] == usage
    assert data["choices"][0]["finish_reason"] == "length"


def test_finish_reason_on_every_chunk(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="Hi there", chunk_size=3, chunk_finish_reason=""))
    events = post_stream(r1v4_server)
    *chunks, finish, _usage, _done = events
    assert [e["choices"][0]["finish_reason"] for e in chunks] == [""] * len(chunks)
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert deltas(events, "content") == "Hi there"


def test_hold_after_done_keeps_the_body_open(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="held", hold_after_done=30.0))
    with (
        httpx.Client(timeout=30.0) as http,
        http.stream(
            "POST", url(r1v4_server), json=chat_body(stream=True), headers=AUTH
        ) as response,
    ):
        seen = b""
        for piece in response.iter_raw():
            seen += piece
            if seen.endswith(b"data: [DONE]\n\n"):
                break
        assert not r1v4_server.requests[0].completed  # [DONE] sent, the body still open
    assert deltas(parse_sse(seen), "content") == "held"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_fields(r1v4_server: LocalR1V4Server, field: str) -> None:
    reply = Reply(content="Final.", reasoning="Let me think it through.", reasoning_field=field)  # type: ignore[arg-type]
    r1v4_server.enqueue(reply, reply)
    events = post_stream(r1v4_server)
    assert deltas(events, field) == "Let me think it through."
    assert deltas(events, "content") == "Final."
    kinds = [
        key
        for e in events[1:]
        if isinstance(e, dict) and e["choices"]
        for key in e["choices"][0]["delta"]
    ]
    assert kinds == [field] * 3 + ["content"]  # reasoning deltas first, 8 characters each
    other = "reasoning" if field == "reasoning_content" else "reasoning_content"
    assert deltas(events, other) == ""
    message = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH).json()["choices"][0][
        "message"
    ]
    assert message[field] == "Let me think it through."
    assert message["content"] == "Final."
    assert other not in message


def test_inline_reasoning(r1v4_server: LocalR1V4Server) -> None:
    reply = Reply(content="Final.", reasoning="hmm", reasoning_field="inline", repeat=2)
    r1v4_server.enqueue(reply)
    events = post_stream(r1v4_server)
    assert deltas(events, "content") == "<think>hmm</think>Final."
    assert deltas(events, "reasoning_content") == ""
    message = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH).json()["choices"][0][
        "message"
    ]
    assert message == {"role": "assistant", "content": "<think>hmm</think>Final."}


def test_tool_call_deltas(r1v4_server: LocalR1V4Server) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}, "id": "call_a"},
        {"name": "lookup", "arguments": '{"q": "x"}'},
    ]
    r1v4_server.enqueue(Reply(tool_calls=calls, chunk_size=6, repeat=2))
    events = post_stream(r1v4_server, tools=[{"type": "function", "function": {"name": "f"}}])
    tool_deltas = [
        d["tool_calls"][0]
        for e in events
        if isinstance(e, dict) and e["choices"]
        for d in [e["choices"][0]["delta"]]
        if "tool_calls" in d
    ]
    by_index: dict[int, list[dict[str, Any]]] = {}
    for delta in tool_deltas:
        by_index.setdefault(delta["index"], []).append(delta)
    assert sorted(by_index) == [0, 1]
    first = by_index[0][0]
    assert first["id"] == "call_a"
    assert first["type"] == "function"
    assert first["function"]["name"] == "get_weather"
    assert len(by_index[0]) > 3  # the arguments really are split over several chunks
    arguments = "".join(d["function"].get("arguments", "") for d in by_index[0])
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert by_index[1][0]["id"].startswith("call_")
    assert "".join(d["function"].get("arguments", "") for d in by_index[1]) == '{"q": "x"}'
    assert events[-3]["choices"][0]["finish_reason"] == "tool_calls"

    message = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH).json()["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["content"] is None
    assert message["message"]["tool_calls"][0] == {
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps(calls[0]["arguments"])},
    }
