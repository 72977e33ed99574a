"""SSE decoding is independent of how the bytes are split into reads."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from r1v4._sse import SSEDecoder

EVENTS = [
    (None, json.dumps({"choices": [{"delta": {"content": "héllo 世界 🌍"}}]}, ensure_ascii=False)),
    ("message", "line one\nline two"),
    (None, "[DONE]"),
]


def encode(eol: bytes) -> bytes:
    out = b": keep-alive" + eol + eol
    for name, data in EVENTS:
        if name:
            out += b"event: " + name.encode() + eol
        for line in data.split("\n"):
            out += b"data: " + line.encode() + eol
        out += b"id: 7" + eol + eol
    return out


def decode(parts: list[bytes]) -> list[tuple[str | None, str]]:
    dec = SSEDecoder()
    out = []
    for p in parts:
        out.extend(dec.feed(p))
    return out + dec.close()


def test_lf_crlf_and_cr_line_endings_give_the_same_events() -> None:
    for eol in (b"\n", b"\r\n", b"\r"):
        assert decode([encode(eol)]) == EVENTS


def test_every_single_split_position() -> None:
    for eol in (b"\n", b"\r\n"):
        data = encode(eol)
        for i in range(len(data) + 1):
            assert decode([data[:i], data[i:]]) == EVENTS, (eol, i)


def test_one_byte_at_a_time() -> None:
    data = encode(b"\r\n")
    assert decode([data[i : i + 1] for i in range(len(data))]) == EVENTS


def test_data_without_space_and_final_event_without_blank_line() -> None:
    assert decode([b"data:{}\n\ndata: tail"]) == [(None, "{}"), (None, "tail")]


def test_comment_lines_and_unknown_fields_are_ignored() -> None:
    assert decode([b":ping\nretry: 10\nfoo: bar\ndata: x\n\n"]) == [(None, "x")]


@settings(max_examples=300, deadline=None)
@given(
    eol=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_random_splits_give_the_same_events(eol: bytes, cuts: list[int]) -> None:
    data = encode(eol)
    points = sorted({min(c, len(data)) for c in cuts})
    parts, prev = [], 0
    for p in points:
        parts.append(data[prev:p])
        prev = p
    parts.append(data[prev:])
    assert decode(parts) == EVENTS


def test_one_long_event_in_small_reads_is_linear() -> None:
    # 2 MB in one data line, fed in 1 KiB reads: a decoder that rescans its buffer per read
    # would do ~2,000 passes over up to 2 MB; this one joins once.
    payload = b"x" * (2 * 1024 * 1024)
    data = b"data: " + payload + b"\n\n"
    dec = SSEDecoder()
    events = []
    for i in range(0, len(data), 1024):
        events.extend(dec.feed(data[i : i + 1024]))
    assert events == [(None, payload.decode())]
    assert dec._pending == [] and dec._buf == b""
