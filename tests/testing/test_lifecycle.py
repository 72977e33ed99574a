"""The local R1V4 server: lifecycle and the command line."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import httpx
import pytest

from r1v4.testing import LocalR1V4Server, RecordedRequest, Reply
from testing.support import AUTH, chat_body, url


def test_stop_is_fast_even_with_a_stalled_stream() -> None:
    threads_before = threading.active_count()
    server = LocalR1V4Server().start()
    server.enqueue(Reply(content="abc", stall_after=1, stall_seconds=60))
    base = server.url
    stalled = threading.Event()
    outcome: list[BaseException | None] = []

    def client() -> None:
        try:
            with httpx.stream(
                "POST", url(server), json=chat_body(stream=True), headers=AUTH, timeout=30
            ) as response:
                for line in response.iter_lines():
                    if line:
                        stalled.set()  # the first event is in; the server now sleeps 60 s
        except httpx.TransportError as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=client)
    worker.start()
    assert stalled.wait(5)
    server.stop()  # raises unless the server thread ended within 10 s, far inside the stall
    worker.join(5)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError)  # cut by stop()
    assert not server.requests[0].completed
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
