"""The local R1V4 server: connections: disconnects, keep-alive, refused and timing-out helpers."""

from __future__ import annotations

import httpx
import pytest

from r1v4.testing import BlackholeServer, LocalR1V4Server, Reply, refused_base_url
from testing.support import AUTH, chat_body, post_stream, url


def test_client_leaving_mid_stream_is_recorded(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="x" * 200, chunk_size=1, chunk_delay=0.02))
    with (
        httpx.Client() as client,
        client.stream("POST", url(r1v4_server), json=chat_body(stream=True), headers=AUTH) as r,
    ):
        for line in r.iter_lines():
            if line:
                break
    record = r1v4_server.wait_finished(timeout=3)
    # Noticed while ~200 paced events were still to go, and the rest were never played: the
    # stream was cancelled, not run out to its last write (which would set `completed`).
    assert record.disconnected, (record, r1v4_server.requests)
    assert not record.completed and record.completed_at is None


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
        # A timeout of the connect phase itself (not a read, not a refusal): the SYN went unheard.
        with pytest.raises(httpx.ConnectTimeout):
            httpx.get(f"{hole.base_url}/models", timeout=httpx.Timeout(5, connect=0.2))
