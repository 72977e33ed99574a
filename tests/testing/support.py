"""Plain-httpx helpers for talking to the local server: bodies, URLs, SSE framing."""

from __future__ import annotations

import json
from typing import Any

import httpx

from r1v4.testing import LocalR1V4Server, make_image

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


PNG = make_image("PNG", (4, 3))
