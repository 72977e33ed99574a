"""The local R1V4 server: request validation like the hosted API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from r1v4.testing import LocalR1V4Server, Reply, data_uri
from testing.support import AUTH, MODEL, PNG, chat_body, url


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
