"""Hand-written self-hosted follow-ups (the format of the tool loop), sent with plain httpx."""

from __future__ import annotations

import json
from typing import Any

import httpx

from r1v4.testing import LocalR1V4Server, data_uri
from testing.support import AUTH, parse_sse

MODEL = "Skywork/R1V4"


def image_part(data: bytes) -> dict[str, Any]:
    mime = "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png"
    return {"type": "image_url", "image_url": {"url": data_uri(data, mime)}}


def user(text: str, *images: bytes) -> dict[str, Any]:
    """A user message: the images first, then the text."""
    parts = [image_part(data) for data in images]
    return {"role": "user", "content": [*parts, {"type": "text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def observation_message(observation: Any, *images: bytes) -> dict[str, Any]:
    """The observation message: ``<observation>JSON</observation>``, then each image."""
    text = "<observation>" + json.dumps(observation, ensure_ascii=False) + "</observation>"
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [image_part(data) for data in images]
    return {"role": "user", "content": parts}


def post(
    server: LocalR1V4Server,
    messages: list[dict[str, Any]],
    *,
    api: str = "openai",
    **extra: Any,
) -> httpx.Response:
    base = server.base_url if api == "openai" else server.hosted_base_url
    body = {"model": MODEL, "messages": messages, **extra}
    return httpx.post(f"{base}/chat/completions", json=body, headers=AUTH, timeout=30)


def round_of(response: httpx.Response) -> tuple[str, str, str]:
    """``(content, reasoning_content, finish_reason)`` of a 200 reply, streamed or not."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        chunks = [e for e in parse_sse(response.content) if isinstance(e, dict) and e["choices"]]
        deltas = [c["choices"][0]["delta"] for c in chunks]
        finish = [
            c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]
        ]
        assert len(finish) == 1, finish
        return (
            "".join(d.get("content") or "" for d in deltas),
            "".join(d.get("reasoning_content") or "" for d in deltas),
            finish[0],
        )
    (choice,) = response.json()["choices"]
    message = choice["message"]
    return message["content"] or "", message.get("reasoning_content") or "", choice["finish_reason"]


def refusal(response: httpx.Response) -> str:
    """The message of a follow-up refusal in the route's error shape."""
    assert response.status_code == 400, response.text
    body = response.json()
    if "error" in body:
        assert body["error"]["type"] == "BadRequestError" and body["error"]["code"] == 400
        message: str = body["error"]["message"]
    else:
        assert body["code"] == 400309, body
        message = body["code_msg"]
    assert message.startswith("Self-hosted follow-up refused: "), message
    return message


def call_of(text: str) -> dict[str, Any]:
    """The ``<tool_call>`` JSON a round's text ends with."""
    assert text.endswith("</tool_call>"), text[-80:]
    start = text.rindex("<tool_call>") + len("<tool_call>")
    call: dict[str, Any] = json.loads(text[start : -len("</tool_call>")])
    return call
