"""Whatever a server sends, every path ends in the parsed reply or a typed ``R1V4Error`` that keeps
the text the caller already saw -- never a bare exception, never a hang.

Hypothesis generates what a server answers: arbitrary bytes, or a valid completion / stream whose
one field (anywhere: ``choices``, a choice, ``delta``, ``content``, ``tool_calls`` and their
parts, ``finish_reason``, ``usage``...) holds an arbitrary JSON value, with or without
``data: [DONE]``, under any status. A raw loopback server (below) sends exactly those bytes, then
closes the connection, so a client that waits until its timeout waited on nothing. Every example
runs on all twelve paths (core, ``ChatR1V4``, ``R1V4``; sync and async; stream and not).
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r1v4 import APITimeoutError, R1V4Error
from reliability.support.leakcheck import SECRET
from reliability.support.paths import PATHS, Path, Settings, run_path

# ------------------------------------------------------------------------------ the server


class RawServer:
    """Answers every request with ``status`` and ``body`` as they are, then closes."""

    def __init__(self) -> None:
        self.status = 200
        self.content_type = "application/json"
        self.body = b""
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                piece = conn.recv(65536)
                if not piece:
                    return
                head += piece
            header, _, rest = head.partition(b"\r\n\r\n")
            length = 0
            for line in header.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                piece = conn.recv(65536)
                if not piece:
                    return
                rest += piece
            status_line = f"HTTP/1.1 {self.status} Whatever\r\n"
            headers = f"Content-Type: {self.content_type}\r\nConnection: close\r\n\r\n"
            with contextlib.suppress(OSError):  # the client may hang up first: its business
                conn.sendall(status_line.encode() + headers.encode() + self.body)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


# ------------------------------------------------------------------------------ what it sends

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "stop", "length", "tool_calls", "<think>", "</answer>", "[DONE]"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

TOOL_CALL = {
    "index": 0,
    "id": "t1",
    "type": "function",
    "function": {"name": "f", "arguments": "{}"},
}
CHUNK: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "Hello ", "tool_calls": [TOOL_CALL]},
            "finish_reason": None,
        }
    ],
}
COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there", "tool_calls": [TOOL_CALL]},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


def _fields(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value`` a server could put something else: each key, item and the whole."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _fields(v, (*prefix, k))
        out.append((*prefix, "usage"))  # a field that may be absent in the template
        out.append((*prefix, "error"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _fields(v, (*prefix, i))
    return out


def _replace(template: Any, where: tuple[Any, ...], value: Any) -> Any:
    if not where:
        return value
    out = copy.deepcopy(template)
    node = out
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    return out


CHUNK_FIELDS = _fields(CHUNK)
COMPLETION_FIELDS = _fields(COMPLETION)


@st.composite
def mutated(draw: st.DrawFn, template: Any, fields: list[tuple[Any, ...]]) -> bytes:
    where = draw(st.sampled_from(fields))
    return json.dumps(_replace(template, where, draw(JSON_VALUES))).encode()


@st.composite
def stream_body(draw: st.DrawFn) -> bytes:
    events: list[bytes] = []
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["valid", "mutated", "mutated", "bytes"]))
        if kind == "valid":
            events.append(
                json.dumps(_replace(CHUNK, ("choices", 0, "delta"), {"content": f"w{i} "})).encode()
            )
        elif kind == "mutated":
            events.append(draw(mutated(CHUNK, CHUNK_FIELDS)))
        else:
            events.append(draw(st.binary(max_size=24)))
    body = b"".join(b"data: " + e + b"\n\n" for e in events)
    if draw(st.booleans()):
        body += b"data: [DONE]\n\n"
    if draw(st.integers(0, 5)) == 0:  # the bytes of a whole stream, cut anywhere
        body = body[: draw(st.integers(0, len(body)))]
    return body


@st.composite
def reply(draw: st.DrawFn, stream: bool) -> tuple[int, str, bytes]:
    status = draw(st.sampled_from([200] * 6 + [400, 401, 404, 429, 500, 503]))
    if draw(st.integers(0, 4)) == 0:
        body = draw(st.binary(max_size=64))
    elif stream and status == 200:
        body = draw(stream_body())
    else:
        body = draw(mutated(COMPLETION, COMPLETION_FIELDS))
    ctype = "text/event-stream" if stream and status == 200 else "application/json"
    return status, draw(st.sampled_from([ctype, ctype, "text/html", "application/json"])), body


# ------------------------------------------------------------------------------ the property


@pytest.fixture(params=list(PATHS.values()), ids=str)
def wire_path(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI must not depend on the day
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_reply_ends_in_the_answer_or_a_typed_error(
    wire_path: Path, raw_server: RawServer, data: st.DataObject
) -> None:
    status, ctype, body = data.draw(reply(wire_path.stream))
    raw_server.status, raw_server.content_type, raw_server.body = status, ctype, body
    config = Settings(api_key=SECRET, max_retries=0, timeout=5.0)
    outcome, exc, parts = run_path(wire_path, raw_server.base_url, config)
    if exc is None:
        assert outcome is not None
        return
    assert isinstance(exc, R1V4Error), f"{type(exc).__name__}: {exc}"
    assert not isinstance(exc, APITimeoutError), "the server had closed the connection"
    assert exc.partial_content.startswith("".join(parts)), (exc.partial_content, parts)
    assert SECRET not in str(exc) + repr(exc)
