"""The local R1V4 server: the reply script: order, repeat, fallback, reset and waiting."""

from __future__ import annotations

import threading

import httpx
import pytest

from r1v4.testing import LocalR1V4Server, RecordedRequest, Reply
from testing.support import AUTH, chat_body, url


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
