"""The local R1V4 API server, exercised with plain httpx over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest

from r1v4.testing import (
    TOOL_CHOICE_ERROR,
    BlackholeServer,
    LocalR1V4Server,
    RecordedRequest,
    Reply,
    data_uri,
    deep_research_transcript,
    general_transcript,
    make_image,
    make_image_data_uri,
    planner_transcript,
    refused_base_url,
)

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "skywork/r1v4-lite"


def chat_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        **extra,
    }


def url(server: LocalR1V4Server, api: str = "hosted") -> str:
    base = server.hosted_base_url if api == "hosted" else server.base_url
    return f"{base}/chat/completions"


def parse_sse(raw: bytes) -> list[Any]:
    """Split a complete SSE body into payloads, asserting the framing of every event."""
    assert raw.endswith(b"\n\n"), raw[-40:]
    events: list[Any] = []
    for block in raw[:-2].split(b"\n\n"):
        assert block.startswith(b"data: "), block
        assert b"\n" not in block, block
        payload = block[len(b"data: ") :]
        events.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    return events


def post_stream(server: LocalR1V4Server, api: str = "hosted", **extra: Any) -> list[Any]:
    response = httpx.post(url(server, api), json=chat_body(stream=True, **extra), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.content)


def deltas(events: list[Any], key: str) -> str:
    return "".join(
        e["choices"][0]["delta"].get(key) or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


# -- auth, routes, shapes -------------------------------------------------------------------------


def test_valid_key_is_accepted_on_both_paths(r1v4_server: LocalR1V4Server) -> None:
    for api in ("hosted", "openai"):
        response = httpx.post(url(r1v4_server, api), json=chat_body(), headers=AUTH)
        assert response.status_code == 200
        assert response.json()["object"] == "chat.completion"
    assert [r.path for r in r1v4_server.requests] == [
        "/api/v1/chat/completions",
        "/v1/chat/completions",
    ]
    assert r1v4_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}])
def test_bad_key_gets_401_in_the_path_shape(
    r1v4_server: LocalR1V4Server, headers: dict[str, str]
) -> None:
    hosted = httpx.post(url(r1v4_server), json=chat_body(), headers=headers)
    assert hosted.status_code == 401
    assert hosted.json() == {"code": 400307, "code_msg": "Invalid API key"}
    openai = httpx.post(url(r1v4_server, "openai"), json=chat_body(), headers=headers)
    assert openai.status_code == 401
    assert openai.json()["error"]["message"] == "Invalid API key"
    assert openai.json()["error"]["code"] == 401


def test_auth_can_be_disabled() -> None:
    with LocalR1V4Server(api_key=None) as server:
        response = httpx.post(url(server), json=chat_body())
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"].endswith("hello there")


def test_models_list_and_unknown_routes(r1v4_server: LocalR1V4Server) -> None:
    models = httpx.get(f"{r1v4_server.base_url}/models", headers=AUTH)
    assert models.status_code == 200
    assert {m["id"] for m in models.json()["data"]} == {
        "skywork/r1v4-lite",
        "skywork/r1v4-vl-planner-lite",
        "Skywork/R1V4",
    }
    assert httpx.get(f"{r1v4_server.base_url}/models").status_code == 401
    missing = httpx.post(f"{r1v4_server.hosted_base_url}/nope", json={}, headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["code"] == 404000
    wrong_method = httpx.get(url(r1v4_server, "openai"), headers=AUTH)
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()


def test_extra_models_are_accepted() -> None:
    with LocalR1V4Server(extra_models=["my/finetune"]) as server:
        response = httpx.post(
            url(server), json={**chat_body(), "model": "my/finetune"}, headers=AUTH
        )
        assert response.status_code == 200
        assert response.json()["model"] == "my/finetune"


# -- validation -----------------------------------------------------------------------------------

PNG = make_image("PNG", (4, 3))


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"model": "gpt-4o"}, 400301, "not supported"),
        ({"model": None}, 400301, "model"),
        ({"messages": []}, 400302, "non-empty"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 400303, "robot"),
        ({"messages": [{"role": "user", "content": 42}]}, 400304, "string or a list"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, 400304, "audio"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, 400304, "text"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            400304,
            "url",
        ),
        ({"stream": "yes"}, 400306, "stream"),
    ],
)
def test_invalid_requests_are_refused(
    r1v4_server: LocalR1V4Server, change: dict[str, Any], code: int, words: str
) -> None:
    body = {**chat_body(), **change}
    hosted = httpx.post(url(r1v4_server), json=body, headers=AUTH)
    assert hosted.status_code == 400
    assert hosted.json()["code"] == code
    assert words in hosted.json()["code_msg"]
    openai = httpx.post(url(r1v4_server, "openai"), json=body, headers=AUTH)
    assert openai.status_code == 400
    error = openai.json()["error"]
    assert error["type"] == "BadRequestError"
    assert error["code"] == 400
    assert words in error["message"]


@pytest.mark.parametrize(
    ("image_url", "words"),
    [
        ("https://example.com/cat.png", "only base64 data URIs"),
        ("data:image/png,rawbytes", "malformed data URI"),
        ("data:image/png;base64,@@not-base64@@", "invalid base64"),
        (data_uri(b"definitely not an image"), "cannot decode image"),
        (data_uri(PNG[: len(PNG) // 2]), "cannot decode image"),
    ],
)
def test_bad_images_are_refused(r1v4_server: LocalR1V4Server, image_url: str, words: str) -> None:
    content = [
        {"type": "image_url", "image_url": {"url": image_url}},
        {"type": "text", "text": "?"},
    ]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    hosted = httpx.post(url(r1v4_server), json=body, headers=AUTH)
    assert hosted.status_code == 400
    assert hosted.json()["code"] == 400305
    assert words in hosted.json()["code_msg"]
    openai = httpx.post(url(r1v4_server, "openai"), json=body, headers=AUTH)
    assert openai.status_code == 400
    assert words in openai.json()["error"]["message"]


def test_body_that_is_not_json_is_refused(r1v4_server: LocalR1V4Server) -> None:
    response = httpx.post(url(r1v4_server), content=b"{nope", headers=AUTH)
    assert response.status_code == 400
    assert response.json()["code"] == 400300
    assert r1v4_server.requests[0].body is None
    assert r1v4_server.requests[0].raw_body == b"{nope"


def test_refused_requests_do_not_consume_the_script(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="scripted"))
    assert httpx.post(url(r1v4_server), json=chat_body()).status_code == 401
    assert r1v4_server.pending == 1
    ok = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert ok.json()["choices"][0]["message"]["content"] == "scripted"


# -- images and the default reply -----------------------------------------------------------------


def test_images_are_decoded_and_described(r1v4_server: LocalR1V4Server) -> None:
    jpeg = make_image("JPEG", (10, 10), (0, 128, 255))
    content = [
        {"type": "image_url", "image_url": {"url": data_uri(PNG, "image/png")}},
        {"type": "image_url", "image_url": {"url": data_uri(jpeg, "image/jpeg")}},
        {"type": "text", "text": "What do you see?"},
    ]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    response = httpx.post(url(r1v4_server), json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == (
        "I saw 2 image(s): PNG 4x3, JPEG 10x10. You said: What do you see?"
    )
    png_info, jpeg_info = r1v4_server.requests[0].images
    assert (png_info.format, png_info.width, png_info.height, png_info.mode) == ("PNG", 4, 3, "RGB")
    assert png_info.byte_size == len(PNG)
    assert png_info.sha256 == hashlib.sha256(PNG).hexdigest()
    assert png_info.mime_type == "image/png"
    assert jpeg_info.sha256 == hashlib.sha256(jpeg).hexdigest()
    assert jpeg_info.format == "JPEG"


def test_large_images_are_decoded_too(r1v4_server: LocalR1V4Server) -> None:
    big = make_image("PNG", (1200, 900), (10, 20, 30))
    noisy = bytes(range(256)) * 2000  # make the payload large enough to be decoded off-loop
    from PIL import Image

    image = Image.frombytes("L", (1000, 512), noisy)
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    content = [
        {"type": "image_url", "image_url": {"url": data_uri(big)}},
        {"type": "image_url", "image_url": {"url": data_uri(buffer.getvalue())}},
        {"type": "text", "text": "big"},
    ]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    response = httpx.post(url(r1v4_server), json=body, headers=AUTH)
    assert response.json()["choices"][0]["message"]["content"].startswith(
        "I saw 2 image(s): PNG 1200x900, PNG 1000x512."
    )


def test_default_reply_uses_the_last_user_text_and_string_content(
    r1v4_server: LocalR1V4Server,
) -> None:
    body = {
        "model": "Skywork/R1V4",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second question"},
        ],
    }
    data = httpx.post(url(r1v4_server, "openai"), json=body, headers=AUTH).json()
    assert data["choices"][0]["message"]["content"] == "I saw 0 image(s). You said: second question"
    assert data["choices"][0]["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["prompt_tokens"] == 6  # whitespace words of every text
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert r1v4_server.requests[0].last_user_text == "second question"


# -- streaming ------------------------------------------------------------------------------------


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
    with httpx.Client(timeout=30.0) as http, http.stream(
        "POST", url(r1v4_server), json=chat_body(stream=True), headers=AUTH
    ) as response:
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


# -- native tools ---------------------------------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
TOOL_HISTORY = [
    {"role": "user", "content": "call f"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "42"},
]


def test_native_tools_accept_tools_and_the_tool_role(r1v4_server: LocalR1V4Server) -> None:
    body = {"model": MODEL, "messages": TOOL_HISTORY, "tools": TOOLS, "tool_choice": "auto"}
    response = httpx.post(url(r1v4_server, "openai"), json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].endswith("You said: call f")


def test_tool_message_needs_an_id(r1v4_server: LocalR1V4Server) -> None:
    messages = [*TOOL_HISTORY[:2], {"role": "tool", "content": "42"}]
    response = httpx.post(
        url(r1v4_server), json={"model": MODEL, "messages": messages}, headers=AUTH
    )
    assert response.status_code == 400
    assert "tool_call_id" in response.json()["code_msg"]


def test_without_native_tools_tools_get_vllms_400(no_native_tools_server: LocalR1V4Server) -> None:
    for api in ("hosted", "openai"):
        response = httpx.post(
            url(no_native_tools_server, api), json=chat_body(tools=TOOLS), headers=AUTH
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert TOOL_CHOICE_ERROR in error["message"]
        assert (
            '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            in error["message"]
        )
    # The tool role is refused too, and plain chat still works.
    body = {"model": MODEL, "messages": TOOL_HISTORY}
    refused = httpx.post(url(no_native_tools_server), json=body, headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["code"] == 400303
    assert "'tool'" in refused.json()["code_msg"]
    assert (
        httpx.post(url(no_native_tools_server), json=chat_body(), headers=AUTH).status_code == 200
    )


# -- faults ---------------------------------------------------------------------------------------


def test_status_with_headers_and_default_bodies(r1v4_server: LocalR1V4Server) -> None:
    headers = {"Retry-After": "3", "x-request-id": "req-123"}
    r1v4_server.enqueue(Reply(status=429, headers=headers, repeat=2))
    hosted = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert hosted.status_code == 429
    assert hosted.headers["retry-after"] == "3"
    assert hosted.headers["x-request-id"] == "req-123"
    assert hosted.json() == {"code": 429000, "code_msg": "Too Many Requests"}
    openai = httpx.post(url(r1v4_server, "openai"), json=chat_body(stream=True), headers=AUTH)
    assert openai.status_code == 429
    assert openai.json()["error"]["type"] == "RateLimitError"


def test_raw_and_custom_error_bodies(r1v4_server: LocalR1V4Server) -> None:
    html = "<html><body>502 Bad Gateway</body></html>"
    r1v4_server.enqueue(
        Reply(status=502, body=html),
        Reply(status=200, body={"code": 400307, "code_msg": "Invalid API key"}),
        Reply(status=503, body=b"\x00\x01"),
    )
    first = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert (first.status_code, first.text) == (502, html)
    assert first.headers["content-type"].startswith("text/html")
    second = httpx.post(url(r1v4_server), json=chat_body(stream=True), headers=AUTH)
    assert (second.status_code, second.json()["code"]) == (200, 400307)
    third = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert (third.status_code, third.content) == (503, b"\x00\x01")


def test_first_byte_delay_causes_read_timeout_and_is_seen_as_disconnect(
    r1v4_server: LocalR1V4Server,
) -> None:
    r1v4_server.enqueue(Reply(content="late", first_byte_delay=5.0))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH, timeout=httpx.Timeout(0.3))
    assert time.monotonic() - started < 2
    record = r1v4_server.wait_finished(timeout=3)
    assert record.disconnected
    assert not record.completed


def test_first_byte_delay_then_answer(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="late", first_byte_delay=0.3))
    started = time.monotonic()
    response = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert time.monotonic() - started >= 0.3
    assert response.json()["choices"][0]["message"]["content"] == "late"


def read_stream(server: LocalR1V4Server, api: str = "hosted", **kw: Any) -> tuple[bytes, Exception]:
    """Stream until the transport fails; return what arrived and the error."""
    received = b""
    with httpx.Client(timeout=kw.pop("timeout", 5.0)) as client:
        try:
            with client.stream(
                "POST", url(server, api), json=chat_body(stream=True), headers=AUTH
            ) as response:
                assert response.status_code == 200
                for piece in response.iter_raw():
                    received += piece
        except httpx.TransportError as exc:
            return received, exc
    raise AssertionError(f"stream ended cleanly: {received!r}")


def test_drop_before_headers(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(drop_before_headers=True))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert not r1v4_server.wait_finished().disconnected  # the server hung up, not the client


def test_drop_after_headers_before_any_event(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="never", drop_after=0))
    received, error = read_stream(r1v4_server)
    assert received == b""
    assert isinstance(error, httpx.RemoteProtocolError)


def test_drop_after_one_event(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="abcdefghijklmnop", chunk_size=4, drop_after=2))
    received, error = read_stream(r1v4_server)
    assert isinstance(error, httpx.RemoteProtocolError)
    events = parse_sse(received)
    assert len(events) == 2
    assert events[1]["choices"][0]["delta"]["content"] == "abcd"
    record = r1v4_server.wait_finished()
    assert not record.disconnected
    assert not record.completed


def test_drop_ignores_forwarded_headers(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="abcdefgh", drop_after=1))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(
            url(r1v4_server),
            json=chat_body(stream=True),
            headers={**AUTH, "X-Forwarded-For": "10.9.8.7"},
        )
    assert r1v4_server.wait_finished().error is None


def test_drop_with_reset(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="abcdefgh", drop_after=1, drop_mode="reset"))
    _, error = read_stream(r1v4_server)
    assert isinstance(error, (httpx.ReadError, httpx.RemoteProtocolError))


def test_drop_in_a_non_stream_body(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="a long enough answer", drop_after=1))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)


def test_no_done(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="hi", no_done=True))
    events = post_stream(r1v4_server)
    assert "[DONE]" not in events
    assert events[-1]["choices"] == []  # the usage chunk is still there


def test_malformed_event(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="hello", malformed_after=1))
    raw = httpx.post(url(r1v4_server), json=chat_body(stream=True), headers=AUTH).content
    blocks = raw.split(b"\n\n")
    assert blocks[1] == b"data: {not json"
    assert json.loads(blocks[2][len(b"data: ") :])["choices"][0]["delta"]["content"] == "hello"
    assert blocks[-2] == b"data: [DONE]"


@pytest.mark.parametrize(
    ("api", "shape", "key"),
    [("hosted", None, "code"), ("openai", None, "error"), ("hosted", "openai", "error")],
)
def test_error_event_inside_the_stream(
    r1v4_server: LocalR1V4Server, api: str, shape: Any, key: str
) -> None:
    r1v4_server.enqueue(
        Reply(content="abcdefgh", chunk_size=4, error_event_after=2, error_shape=shape)
    )
    events = post_stream(r1v4_server, api)
    assert len(events) == 4
    assert events[1]["choices"][0]["delta"]["content"] == "abcd"
    assert key in events[2]
    assert events[3] == "[DONE]"


def test_error_event_with_a_custom_body(r1v4_server: LocalR1V4Server) -> None:
    body = {"code": 500123, "code_msg": "model overloaded"}
    r1v4_server.enqueue(Reply(content="x", error_event_after=1, body=body, no_done=True))
    events = post_stream(r1v4_server)
    assert len(events) == 2
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[1] == body


def test_trickle_sends_one_byte_per_write(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="hello world", trickle=True))
    pieces: list[bytes] = []
    with (
        httpx.Client() as client,
        client.stream("POST", url(r1v4_server), json=chat_body(stream=True), headers=AUTH) as r,
    ):
        pieces.extend(r.iter_raw())
    raw = b"".join(pieces)
    events = parse_sse(raw)
    assert deltas(events, "content") == "hello world"
    assert len(pieces) > len(events)  # the bytes arrived in many pieces, not one per event
    assert max(len(p) for p in pieces) < len(raw)


def test_chunk_delay_paces_events(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="abcdef", chunk_size=2, chunk_delay=0.05))
    arrivals: list[float] = []
    with (
        httpx.Client() as client,
        client.stream("POST", url(r1v4_server), json=chat_body(stream=True), headers=AUTH) as r,
    ):
        for line in r.iter_lines():
            if line:
                arrivals.append(time.monotonic())
    assert len(arrivals) == 7  # role, 3 content, finish, usage, [DONE]
    # A lower bound only (sleeps never end early, so load cannot break it): at least five of
    # the six gaps between events are paced; the last events may share a write.
    assert arrivals[-1] - arrivals[0] >= 0.05 * 5 * 0.9


def test_stall_then_client_read_timeout(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="abcdefgh", chunk_size=4, stall_after=2, stall_seconds=30))
    received, error = read_stream(r1v4_server, timeout=httpx.Timeout(5, read=0.3))
    assert isinstance(error, httpx.ReadTimeout)
    assert len(parse_sse(received)) == 2
    record = r1v4_server.wait_finished()
    assert record.disconnected


def test_short_stall_resumes(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="abcdefgh", chunk_size=4, stall_after=2, stall_seconds=0.2))
    started = time.monotonic()
    events = post_stream(r1v4_server)
    assert time.monotonic() - started >= 0.2
    assert deltas(events, "content") == "abcdefgh"
    assert events[-1] == "[DONE]"


# -- the script -----------------------------------------------------------------------------------


def test_queue_order_repeat_and_fallback(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="one"), Reply(content="two", repeat=2))
    r1v4_server.enqueue(lambda request: Reply(content=request.last_user_text.upper()))
    assert r1v4_server.pending == 4
    answers = [
        httpx.post(url(r1v4_server), json=chat_body(f"msg {i}"), headers=AUTH).json()["choices"][0][
            "message"
        ]["content"]
        for i in range(5)
    ]
    assert answers == ["one", "two", "two", "MSG 3", "I saw 0 image(s). You said: msg 4"]
    assert r1v4_server.pending == 0
    assert [r.reply.content for r in r1v4_server.requests if r.reply] == answers


def test_reply_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        Reply(chunk_size=0)
    with pytest.raises(ValueError):
        Reply(repeat=0)
    with pytest.raises(ValueError):
        Reply(tool_calls=[{"arguments": {}}])
    with pytest.raises(TypeError):
        LocalR1V4Server().enqueue("not a reply")  # type: ignore[arg-type]


def test_reset_and_wait_for_requests(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="x"))
    httpx.get(f"{r1v4_server.base_url}/models", headers=AUTH)
    assert len(r1v4_server.wait_for_requests(1, timeout=1)) == 1
    assert r1v4_server.connections_opened == 1
    r1v4_server.reset()
    assert r1v4_server.requests == []
    assert r1v4_server.pending == 0
    assert r1v4_server.connections_opened == 0
    with pytest.raises(TimeoutError):
        r1v4_server.wait_for_requests(1, timeout=0.05)


def test_wait_for_requests_wakes_up_on_arrival(r1v4_server: LocalR1V4Server) -> None:
    timer = threading.Timer(
        0.1, lambda: httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    )
    timer.start()
    records = r1v4_server.wait_for_requests(1, timeout=5)
    timer.join(5)
    assert isinstance(records[0], RecordedRequest)
    assert records[0].body["messages"][0]["content"][0]["text"] == "hello there"


# -- connections ----------------------------------------------------------------------------------


def test_client_leaving_mid_stream_is_recorded(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="x" * 200, chunk_size=1, chunk_delay=0.02))
    with (
        httpx.Client() as client,
        client.stream("POST", url(r1v4_server), json=chat_body(stream=True), headers=AUTH) as r,
    ):
        for line in r.iter_lines():
            if line:
                break
    left_at = time.monotonic()
    record = r1v4_server.wait_finished(timeout=3)
    assert record.disconnected, (record, r1v4_server.requests)
    assert not record.completed
    assert time.monotonic() - left_at < 1.0  # noticed at once, not after the remaining 4 s


def test_complete_stream_is_not_a_disconnect(r1v4_server: LocalR1V4Server) -> None:
    post_stream(r1v4_server)
    record = r1v4_server.wait_finished()
    assert record.completed
    assert not record.disconnected
    assert record.status == 200


def test_keep_alive_reuses_one_connection(r1v4_server: LocalR1V4Server) -> None:
    with httpx.Client(headers=AUTH) as client:
        for _ in range(3):
            client.post(url(r1v4_server), json=chat_body())
        with client.stream("POST", url(r1v4_server), json=chat_body(stream=True)) as r:
            r.read()
    assert r1v4_server.connections_opened == 1
    with httpx.Client(headers=AUTH) as a, httpx.Client(headers=AUTH) as b:
        a.post(url(r1v4_server), json=chat_body())
        b.post(url(r1v4_server), json=chat_body())
    assert r1v4_server.connections_opened == 3
    assert len(r1v4_server.requests) == 6


def test_refused_and_connect_timeout_helpers() -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{refused_base_url()}/models")
    with BlackholeServer() as hole:
        assert hole.base_url.endswith("/v1")
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout):
            httpx.get(f"{hole.base_url}/models", timeout=httpx.Timeout(5, connect=0.2))
        assert time.monotonic() - started < 2


# -- scale ----------------------------------------------------------------------------------------


def test_thousands_of_one_character_chunks(r1v4_server: LocalR1V4Server) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(5000))
    r1v4_server.enqueue(Reply(content=text, chunk_size=1, repeat=2))
    started = time.monotonic()
    events = post_stream(r1v4_server)
    assert time.monotonic() - started < 5
    assert len(events) == 5004  # role, 5000 deltas, finish, usage, [DONE]
    assert deltas(events, "content") == text
    assert deltas(post_stream(r1v4_server), "content") == text  # the cached deltas serve again


async def test_many_concurrent_streams(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="concurrent " * 20, repeat=100))
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(headers=AUTH, limits=limits, timeout=30) as client:

        async def one(i: int) -> str:
            response = await client.post(url(r1v4_server), json=chat_body(str(i), stream=True))
            return deltas(parse_sse(response.content), "content")

        results = await asyncio.gather(*(one(i) for i in range(100)))
    assert results == ["concurrent " * 20] * 100
    assert len(r1v4_server.requests) == 100


# -- agent scenario and transcripts ---------------------------------------------------------------


def tags(text: str) -> list[str]:
    return re.findall(r"<(\w+)>", text)


def test_agent_scenario_matches_the_request() -> None:
    image = {"type": "image_url", "image_url": {"url": make_image_data_uri()}}
    content = [image, {"type": "text", "text": "Where is this?"}]
    with LocalR1V4Server(scenario="agent") as server:
        general = httpx.post(
            url(server),
            json={"model": MODEL, "messages": [{"role": "user", "content": content}]},
            headers=AUTH,
        ).json()["choices"][0]["message"]["content"]
        search = httpx.post(
            url(server),
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": content}],
                "enable_search": True,
                "stream": True,
            },
            headers=AUTH,
        )
        plan = httpx.post(
            url(server),
            json={**chat_body("Plan it"), "model": "skywork/r1v4-vl-planner-lite"},
            headers=AUTH,
        ).json()["choices"][0]["message"]["content"]
    assert tags(general) == ["think", "tool_call", "observation", "think", "answer"]
    assert "Where is this?" in general
    research = deltas(parse_sse(search.content), "content")
    assert tags(research) == [
        "think",
        "text_search",
        "observation",
        "think",
        "image_search",
        "observation",
        "think",
        "web_content",
        "observation",
        "think",
        "answer",
    ]
    assert tags(plan) == ["think", "plan"]


def test_general_transcript_shape() -> None:
    text = general_transcript("Q?", "A.", rounds=2)
    assert tags(text) == ["think", "tool_call", "observation"] * 2 + ["think", "answer"]
    calls = [json.loads(c) for c in re.findall(r"<tool_call>(.*?)</tool_call>", text, re.S)]
    assert calls[0]["name"] == "code"
    assert "code" in calls[0]["arguments"]
    observations = re.findall(r"<observation>(.*?)</observation>", text, re.S)
    assert json.loads(observations[0])["type"] == "code"
    assert re.search(r"<answer>\s*A\.\s*</answer>$", text)


def test_deep_research_transcript_shape() -> None:
    text = deep_research_transcript("Q?", "A.", query="q", image="img.png", url="https://x.y")
    assert "<text_search>q</text_search>" in text
    assert "<image_search>img.png</image_search>" in text
    assert "<web_content>https://x.y</web_content>" in text
    text_obs, image_obs, web_obs = (
        json.loads(o) for o in re.findall(r"<observation>(.*?)</observation>", text, re.S)
    )
    assert set(text_obs[0]) == {"title", "url", "snippet"}
    assert set(image_obs[0]) == {"title", "source", "link"}
    assert web_obs[0]["url"] == "https://x.y"
    assert "image_search" not in deep_research_transcript(image=None)


def test_planner_transcript_shape() -> None:
    text = planner_transcript(
        "Q?", [{"description": "search", "tool_name": "text_search", "parameters": {"query": "q"}}]
    )
    assert text.startswith("<think>\n")
    plan = json.loads(re.search(r"<plan>(.*)</plan>", text, re.S).group(1))  # type: ignore[union-attr]
    assert plan == [
        {"description": "search", "tool_name": "text_search", "parameters": '{"query": "q"}'}
    ]
    default = json.loads(re.search(r"<plan>(.*)</plan>", planner_transcript(), re.S).group(1))  # type: ignore[union-attr]
    assert all(isinstance(step["parameters"], str) for step in default)


# -- lifecycle and CLI ----------------------------------------------------------------------------


def test_stop_is_fast_even_with_a_stalled_stream() -> None:
    threads_before = threading.active_count()
    server = LocalR1V4Server().start()
    server.enqueue(Reply(content="abc", stall_after=1, stall_seconds=60))
    base = server.url

    def client() -> None:
        with contextlib.suppress(httpx.TransportError):
            httpx.post(url(server), json=chat_body(stream=True), headers=AUTH, timeout=30)

    worker = threading.Thread(target=client)
    worker.start()
    server.wait_for_requests(1)
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    worker.join(5)
    assert not worker.is_alive()
    assert not server.running
    assert threading.active_count() == threads_before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/v1/models")


def test_cli_starts_and_answers() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "r1v4.testing", "--port", "0", "--api-key", "cli-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r" base_url=(\S+)", line)
        assert match, line
        response = httpx.post(
            f"{match.group(1)}/chat/completions",
            json=chat_body("from the cli"),
            headers={"Authorization": "Bearer cli-key"},
        )
        assert response.json()["choices"][0]["message"]["content"].endswith("from the cli")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert stderr == ""


def test_a_failing_reply_factory_gives_500_and_is_recorded(r1v4_server: LocalR1V4Server) -> None:
    def broken(request: RecordedRequest) -> Reply:
        raise RuntimeError("factory exploded")

    r1v4_server.enqueue(broken)
    response = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert response.status_code == 500
    assert "factory exploded" in response.json()["code_msg"]
    record = r1v4_server.wait_finished()
    assert record.error is not None and "factory exploded" in record.error
    # the server carries on
    assert httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH).status_code == 200


def test_max_records_keeps_the_newest() -> None:
    with LocalR1V4Server(max_records=2) as server, httpx.Client(headers=AUTH) as client:
        for i in range(4):
            client.post(url(server), json=chat_body(f"n{i}"))
        assert server.request_count == 4
        assert [r.last_user_text for r in server.wait_for_requests(4)] == ["n2", "n3"]
