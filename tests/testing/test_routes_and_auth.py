"""The local R1V4 server: keys, routes and response shapes on both API paths."""

from __future__ import annotations

import httpx
import pytest

from r1v4.testing import LocalR1V4Server
from testing.support import AUTH, KEY, chat_body, url


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
