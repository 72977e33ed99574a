"""ResponseParser and accumulation: the same result however the stream is cut."""

from __future__ import annotations

import json
from typing import Any

import pytest

from r1v4 import MalformedResponseError, ServerError, ServerToolCall, ServerToolResult, accumulate
from r1v4._sse import SSEDecoder
from r1v4._streaming import ResponseParser


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "model": "skywork/r1v4-lite",
            "created": 1,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        },
        ensure_ascii=False,
    )


def sse(payloads: list[str]) -> bytes:
    return b"".join(b"data: " + p.encode() + b"\n\n" for p in [*payloads, "[DONE]"])


def run_bytes(parts: list[bytes], tools: frozenset[str] = frozenset()) -> Any:
    dec, parser = SSEDecoder(), ResponseParser(tools)
    chunks = []
    for part in parts:
        for _, data in dec.feed(part):
            c = parser.parse_event(data)
            if c is not None:
                chunks.append(c)
    last = parser.finish()
    if last is not None:
        chunks.append(last)
    assert parser.done
    return accumulate(chunks)


def content_stream(pieces: list[str]) -> bytes:
    payloads = [chunk({"role": "assistant"})]
    payloads += [chunk({"content": p}) for p in pieces]
    payloads.append(chunk({}, "stop"))
    payloads.append(
        json.dumps(
            {
                "id": "chatcmpl-1",
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            }
        )
    )
    return sse(payloads)


TEXT = "<think>Weigh 世界 options 🌍.</think>The answer: 世界 🌍."


def test_inline_think_split_at_every_character_position() -> None:
    for i in range(len(TEXT) + 1):
        out = run_bytes([content_stream([TEXT[:i], TEXT[i:]])])
        assert out.message.reasoning == "Weigh 世界 options 🌍.", i
        assert out.message.content == "The answer: 世界 🌍.", i
        assert out.message.raw_content == TEXT


def test_utf8_and_think_split_at_every_byte_position() -> None:
    data = content_stream([TEXT[:9], TEXT[9:20], TEXT[20:]])
    for i in range(len(data) + 1):
        out = run_bytes([data[:i], data[i:]])
        assert out.message.reasoning == "Weigh 世界 options 🌍.", i
        assert out.message.content == "The answer: 世界 🌍.", i
        assert out.usage is not None and out.usage.total_tokens == 7


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_fields(field: str) -> None:
    payloads = [
        chunk({field: "think "}),
        chunk({field: "more"}),
        chunk({"content": "done"}, "stop"),
    ]
    out = run_bytes([sse(payloads)])
    assert out.message.reasoning == "think more"
    assert out.message.content == "done"


def test_native_tool_call_deltas_join_by_index() -> None:
    payloads = [
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "function": {"name": "get_time", "arguments": "{}"},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
    ]
    out = run_bytes([sse(payloads)])
    calls = out.message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "get_weather", '{"city": "Paris"}'),
        ("call_b", "get_time", "{}"),
    ]
    assert out.choices[0].finish_reason == "tool_calls"


def test_stream_and_non_stream_parse_to_the_same_completion() -> None:
    transcript = (
        '<think>Plan it.</think>\n<tool_call>{"name": "code", "arguments": {"code": "print(1)"}}</tool_call>\n'
        '<observation>{"result": "1", "type": "code"}</observation>\n<think>Got 1.</think>\n<answer>It is 1.</answer>'
    )
    body = json.dumps(
        {
            "id": "chatcmpl-1",
            "model": "skywork/r1v4-lite",
            "created": 1,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": transcript},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }
    )
    whole = ResponseParser().parse_completion(body)
    streamed = run_bytes(
        [content_stream([transcript[i : i + 7] for i in range(0, len(transcript), 7)])]
    )
    assert whole.message.content == streamed.message.content == "It is 1."
    assert whole.message.reasoning == streamed.message.reasoning == "Plan it.\n\nGot 1."
    assert whole.message.events == streamed.message.events
    kinds = [type(e) for e in whole.message.events]
    assert kinds == [ServerToolCall, ServerToolResult]
    assert whole.message.tool_calls == []  # server tools are trace, never client calls
    assert whole.usage == streamed.usage


def test_text_tool_call_for_a_bound_tool_becomes_a_client_call_with_stable_id() -> None:
    text = (
        'Let me check.<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    )
    tools = frozenset({"get_weather"})
    a = run_bytes([content_stream([text[:20], text[20:]])], tools)
    b = run_bytes([content_stream([text])], tools)
    assert a.message.content == "Let me check."
    [call] = a.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    assert call.id.startswith("call_") and call.id == b.message.tool_calls[0].id
    assert a.choices[0].finish_reason == "tool_calls"


def test_error_object_mid_stream_raises_with_partial() -> None:
    parser = ResponseParser()
    parser.parse_event(chunk({"content": "Hello"}))
    with pytest.raises(ServerError) as info:
        parser.parse_event(json.dumps({"error": {"message": "overloaded", "type": "server_error"}}))
    assert info.value.partial_content == "Hello"
    assert info.value.message == "overloaded"


def test_malformed_chunk_raises_with_partial() -> None:
    parser = ResponseParser()
    parser.parse_event(chunk({"reasoning_content": "mm"}))
    with pytest.raises(MalformedResponseError) as info:
        parser.parse_event("{not json")
    assert info.value.partial_reasoning == "mm"


def test_usage_only_chunk_with_empty_choices() -> None:
    parser = ResponseParser()
    c = parser.parse_event(
        json.dumps(
            {"id": "x", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
        )
    )
    assert c is not None and c.choices == [] and c.usage is not None
    assert c.usage.total_tokens == 3


def test_the_streamed_finish_chunk_says_tool_calls_for_calls_written_as_text() -> None:
    text = '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    dec, parser = SSEDecoder(), ResponseParser(frozenset({"get_weather"}))
    finishes = []
    for _, data in dec.feed(content_stream([text])):
        c = parser.parse_event(data)
        if c is not None:
            finishes += [ch.finish_reason for ch in c.choices if ch.finish_reason]
    assert finishes == ["tool_calls"]


def test_request_carries_response_format() -> None:
    from r1v4 import build_request

    req = build_request(
        model="m",
        messages=[{"role": "user", "content": "x"}],
        response_format={"type": "json_object"},
    )
    assert req.to_body()["response_format"] == {"type": "json_object"}


def test_a_native_call_without_id_gets_one_on_its_first_delta() -> None:
    payloads = [
        chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ]
    dec, parser = SSEDecoder(), ResponseParser()
    chunks = [c for _, d in dec.feed(sse(payloads)) if (c := parser.parse_event(d)) is not None]
    first = chunks[0].choices[0].delta.tool_calls
    assert first is not None and first[0].id
    assert chunks[1].choices[0].delta.tool_calls[0].id is None  # only the first piece carries it
    assert accumulate(chunks).message.tool_calls[0].id == first[0].id


def test_invalid_text_calls_carry_the_same_id_streamed_and_whole() -> None:
    text = '<tool_call>{"name": "get_weather", "arguments": {"city": </tool_call>'
    tools = frozenset({"get_weather"})
    streamed = run_bytes([content_stream([text[:15], text[15:]])], tools)
    body = json.dumps(
        {
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"content": text}, "finish_reason": "stop"}],
        }
    )
    whole = ResponseParser(tools).parse_completion(body)
    [a], [b] = streamed.message.invalid_tool_calls, whole.message.invalid_tool_calls
    assert a == b and a.name == "get_weather" and a.id.startswith("call_")
    assert streamed.message.tool_calls == [] and streamed.message.content == ""


def stream_chunks(text: str, step: int) -> list[Any]:
    dec, parser = SSEDecoder(), ResponseParser()
    data = content_stream([text[i : i + step] for i in range(0, len(text), step)])
    chunks = [c for _, d in dec.feed(data) if (c := parser.parse_event(d)) is not None]
    last = parser.finish()
    return chunks + ([last] if last is not None else [])


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_the_last_delta_carries_the_transcript_when_it_is_more_than_the_answer(step: int) -> None:
    chunks = stream_chunks(TEXT, step)
    found = [c.choices[0].delta.transcript for c in chunks if c.choices]
    assert [t for t in found if t is not None] == [TEXT]
    # It is on the chunk that closes the choice, after every piece of answer.
    closing = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.transcript)
    assert closing == max(i for i, c in enumerate(chunks) if c.choices)
    assert accumulate(chunks).message.transcript == TEXT


@pytest.mark.parametrize("text", ["Plain answer.", "Tail space kept? no ", " lead", "a\n\nb"])
def test_the_transcript_is_absent_exactly_when_it_is_the_answer(text: str) -> None:
    chunks = stream_chunks(text, 3)
    reply = accumulate(chunks)
    transcript = [c.choices[0].delta.transcript for c in chunks if c.choices]
    expected = None if reply.message.content == text else text
    assert [t for t in transcript if t is not None] == ([] if expected is None else [text])
    assert reply.message.transcript == expected


def test_generated_call_ids_of_each_kind_never_collide() -> None:
    # Native, written-as-text and invalid calls each count from 0; their ids stay distinct
    # however many calls a reply has (no kind borrows another's numbers).
    from r1v4._call_ids import invalid_call_id, native_call_id, text_tool_call_id

    ids = [
        f(rid, n)
        for rid in ("r1", "r2")
        for n in range(3000)
        for f in (native_call_id, invalid_call_id, text_tool_call_id)
    ]
    assert len(set(ids)) == len(ids)
