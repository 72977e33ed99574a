"""The local R1V4 server: scripted faults: statuses, delays, drops, malformed events, stalls."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from r1v4.testing import LocalR1V4Server, Reply
from testing.support import AUTH, chat_body, deltas, parse_sse, post_stream, url


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
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH, timeout=httpx.Timeout(0.3))
    record = r1v4_server.wait_finished(timeout=3)
    assert record.disconnected
    # The client gave up inside the server's delay: not one byte of the response was sent.
    assert record.status is None and record.responded_at is None
    assert not record.completed


def test_first_byte_delay_then_answer(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="late", first_byte_delay=0.3))
    response = httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert response.json()["choices"][0]["message"]["content"] == "late"
    record = r1v4_server.wait_finished()
    assert record.responded_at is not None
    assert record.responded_at - record.received_at >= 0.3  # the server's clock, its own sleep


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
    ("inject", "sent"),
    [
        ({"id": "x", "choices": [None]}, b'data: {"id":"x","choices":[null]}'),
        ("{ raw", b"data: { raw"),
    ],
)
def test_injected_event(r1v4_server: LocalR1V4Server, inject: Any, sent: bytes) -> None:
    r1v4_server.enqueue(Reply(content="hello", inject_after=2, inject=inject))
    raw = httpx.post(url(r1v4_server), json=chat_body(stream=True), headers=AUTH).content
    blocks = raw.split(b"\n\n")
    assert json.loads(blocks[1][len(b"data: ") :])["choices"][0]["delta"]["content"] == "hello"
    assert blocks[2] == sent  # after two events, and the stream goes on
    assert json.loads(blocks[3][len(b"data: ") :])["choices"][0]["finish_reason"] == "stop"
    assert blocks[-2] == b"data: [DONE]"


def test_injected_event_after_the_last_one(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="hi", inject_after=99, inject=None, no_done=True))
    raw = httpx.post(url(r1v4_server), json=chat_body(stream=True), headers=AUTH).content
    assert raw.split(b"\n\n")[-2] == b"data: null"


@pytest.mark.parametrize("stream", [False, True])
def test_scripted_completion_id_is_sent_and_recorded(
    r1v4_server: LocalR1V4Server, stream: bool
) -> None:
    r1v4_server.enqueue(Reply(content="hi", id="chatcmpl-scripted"), Reply(content="hi"))
    first = httpx.post(url(r1v4_server), json=chat_body(stream=stream), headers=AUTH)
    second = httpx.post(url(r1v4_server), json=chat_body(stream=stream), headers=AUTH)
    ids = [
        {e["id"] for e in parse_sse(r.content) if e != "[DONE]"} if stream else {r.json()["id"]}
        for r in (first, second)
    ]
    assert ids[0] == {"chatcmpl-scripted"}
    assert len(ids[1]) == 1 and ids[1] != ids[0]  # a fresh one when none is scripted
    assert [r.response_id for r in r1v4_server.requests] == [ids[0].pop(), ids[1].pop()]


def test_no_response_id_without_a_completion(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(status=500))
    httpx.post(url(r1v4_server), json=chat_body(), headers=AUTH)
    assert r1v4_server.requests[-1].response_id is None


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
    events = post_stream(r1v4_server)
    assert deltas(events, "content") == "abcdefgh"
    assert events[-1] == "[DONE]"
    record = r1v4_server.wait_finished()
    assert record.completed and not record.disconnected
    assert record.responded_at is not None and record.completed_at is not None
    assert record.completed_at - record.responded_at >= 0.2  # the stall sat inside the body
