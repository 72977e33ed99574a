"""Construction, configuration and the ecosystem hooks of ``ChatR1V4``."""

from __future__ import annotations

import asyncio
import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from langchain_core.load import dumps

import r1v4
from langchain_r1v4 import ChatR1V4
from r1v4.testing import LocalR1V4Server, Reply


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYWORK_API_KEY", raising=False)
    monkeypatch.delenv("SKYWORK_BASE_URL", raising=False)
    llm = ChatR1V4()
    assert llm.model == llm.model_name == "skywork/r1v4-lite"
    assert llm.api_key is None
    assert llm.base_url == "https://api.skyworkmodel.ai/api/v1"
    assert (llm.timeout, llm.max_retries, llm.tool_mode, llm.history) == (600, 2, "auto", "answer")
    monkeypatch.setenv("SKYWORK_API_KEY", "from-env")
    monkeypatch.setenv("SKYWORK_BASE_URL", "http://127.0.0.1:1/v1")
    llm = ChatR1V4(model_name="Skywork/R1V4")
    assert llm.api_key is not None and llm.api_key.get_secret_value() == "from-env"
    assert llm.base_url == "http://127.0.0.1:1/v1"
    assert llm.model == "Skywork/R1V4"
    explicit = ChatR1V4(api_key="given", base_url="http://127.0.0.1:2/v1")
    assert explicit.api_key is not None and explicit.api_key.get_secret_value() == "given"
    assert explicit.client.settings.url == "http://127.0.0.1:2/v1/chat/completions"


def test_the_key_never_leaks() -> None:
    llm = ChatR1V4(api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(llm)
    assert "sk-very-secret" not in str(llm)
    text = dumps(llm)
    assert "sk-very-secret" not in text
    assert json.loads(text)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["SKYWORK_API_KEY"],
    }
    assert llm.lc_secrets == {"api_key": "SKYWORK_API_KEY"}


def test_credential_headers_are_never_serialised(r1v4_server: LocalR1V4Server) -> None:
    headers = {"X-Api-Key": "sk-header-secret", "Authorization": "Bearer sk-h2", "x-trace": "t1"}
    llm = ChatR1V4(api_key="test-key", base_url=r1v4_server.base_url, default_headers=headers)
    text = dumps(llm)
    assert "sk-header-secret" not in text and "sk-h2" not in text
    assert '"x-trace": "t1"' in text  # harmless headers survive
    for shown in (repr(llm), str(llm), str(llm.model_dump()), llm.model_dump_json()):
        assert "sk-header-secret" not in shown and "sk-h2" not in shown
    llm.invoke("hi")  # and the credentials are still sent
    assert r1v4_server.last_request.headers["x-api-key"] == "sk-header-secret"


def test_langsmith_params() -> None:
    llm = ChatR1V4(api_key="k", temperature=0.3, max_tokens=50, stop="END")
    assert llm._llm_type == "skywork-r1v4-chat"
    params = llm._get_ls_params()
    assert params == {
        "ls_provider": "skywork",
        "ls_model_name": "skywork/r1v4-lite",
        "ls_model_type": "chat",
        "ls_temperature": 0.3,
        "ls_max_tokens": 50,
        "ls_stop": ["END"],
    }
    assert llm._get_ls_params(model="skywork/r1v4-vl-planner-lite")["ls_model_name"] == (
        "skywork/r1v4-vl-planner-lite"
    )
    assert llm._identifying_params["model"] == "skywork/r1v4-lite"


def test_settings_reach_the_core_client() -> None:
    llm = ChatR1V4(
        api_key="k", base_url="http://127.0.0.1:3/v1", tool_mode="prompted", stream_usage=False
    )
    settings = llm.client.settings
    assert (settings.tool_mode, settings.stream_usage) == ("prompted", False)
    assert llm.async_client.settings.tool_mode == "prompted"


def test_request_fields_and_overrides(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm(
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=["STOP"],
        enable_search=False,
        extra_body={"repetition_penalty": 1.05},
        default_headers={"X-Trace": "abc"},
    )
    llm.invoke("hi")
    body = r1v4_server.requests[-1].body
    assert body["model"] == "skywork/r1v4-lite"
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 64)
    assert body["stop"] == ["STOP"]
    assert body["enable_search"] is False
    assert body["repetition_penalty"] == 1.05
    assert r1v4_server.requests[-1].headers["x-trace"] == "abc"
    assert r1v4_server.requests[-1].headers["authorization"] == "Bearer test-key"
    # Per call: model, stop, sampling, search, and any other body field.
    llm.invoke(
        "hi",
        model="skywork/r1v4-vl-planner-lite",
        stop=["X"],
        temperature=0.7,
        enable_search=True,
        seed=7,
    )
    body = r1v4_server.requests[-1].body
    assert body["model"] == "skywork/r1v4-vl-planner-lite"
    assert (body["stop"], body["temperature"], body["enable_search"], body["seed"]) == (
        ["X"],
        0.7,
        True,
        7,
    )
    assert "top_k" not in body and "n" not in body


def test_model_override_is_reported(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    message = make_llm().invoke("hi", model="skywork/r1v4-vl-planner-lite")
    assert message.response_metadata["model_name"] == "skywork/r1v4-vl-planner-lite"


def test_one_core_client_serves_every_thread(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm()
    first = llm.client
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: llm.invoke(f"thread {i}").content, range(16)))
    assert replies == [f"I saw 0 image(s). You said: thread {i}" for i in range(16)]
    assert llm.client is first
    assert r1v4_server.connections_opened <= 8  # pooled, not one connection per call


def test_one_model_across_event_loops(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm()

    async def ask(text: str) -> str:
        return str((await llm.ainvoke(text)).content)

    # Each asyncio.run makes and closes a loop; the model must work in all of them.
    assert asyncio.run(ask("one")).endswith("one")
    assert asyncio.run(ask("two")).endswith("two")
    client = llm.async_client
    assert asyncio.run(ask("three")).endswith("three")
    assert llm.async_client is client


def test_your_own_http_clients_are_used(r1v4_server: LocalR1V4Server) -> None:
    seen: list[str] = []

    def hook(request: httpx.Request) -> None:
        seen.append(str(request.url))

    with httpx.Client(event_hooks={"request": [hook]}) as http:
        llm = ChatR1V4(api_key="test-key", base_url=r1v4_server.base_url, http_client=http)
        llm.invoke("hi")
    assert seen == [f"{r1v4_server.base_url}/chat/completions"]

    async def run() -> None:
        async def ahook(request: httpx.Request) -> None:
            seen.append("async " + str(request.url))

        async with httpx.AsyncClient(event_hooks={"request": [ahook]}) as http:
            llm = ChatR1V4(
                api_key="test-key", base_url=r1v4_server.base_url, http_async_client=http
            )
            await llm.ainvoke("hi")

    asyncio.run(run())
    assert seen[-1] == f"async {r1v4_server.base_url}/chat/completions"


def test_timeout(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="late", first_byte_delay=2.0))
    with pytest.raises(r1v4.APITimeoutError):
        make_llm(timeout=0.3, max_retries=0).invoke("hi")


def test_streaming_flag_uses_the_stream_endpoint(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content="streamed", reasoning="r"))
    message = make_llm(streaming=True).invoke("hi")
    assert r1v4_server.requests[-1].body["stream"] is True
    assert message.content == "streamed"
    assert message.additional_kwargs["reasoning_content"] == "r"
    assert message.usage_metadata is not None


def test_message_roles_and_names(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage

    make_llm().invoke(
        [
            SystemMessage(content=[{"type": "text", "text": "Be "}, "brief."]),
            HumanMessage("hello", name="ada"),
            AIMessage("hi"),
            ChatMessage(role="user", content="again"),
        ]
    )
    assert r1v4_server.requests[-1].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello", "name": "ada"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "again"},
    ]
    with pytest.raises(r1v4.InvalidRequestError, match="role 'critic'"):
        make_llm().invoke([ChatMessage(role="critic", content="x")])


def test_copies_and_pickles_after_use(
    make_llm: Any, r1v4_server: LocalR1V4Server, no_native_tools_server: LocalR1V4Server
) -> None:
    import copy
    import pickle

    llm = make_llm()
    llm.invoke("warm")  # the model now holds a core client with locks and a pool
    clone = copy.deepcopy(llm)
    assert clone.invoke("clone").content.endswith("clone")
    assert clone.client is not llm.client
    moved = llm.model_copy(update={"base_url": no_native_tools_server.base_url})
    moved.invoke("moved")
    assert no_native_tools_server.requests[-1].last_user_text == "moved"
    revived = pickle.loads(pickle.dumps(llm))
    assert revived.invoke("pickled").content.endswith("pickled")
    assert r1v4_server.requests[-1].last_user_text == "pickled"


def test_model_kwargs_and_client_settings_survive_dumps_and_loads(
    r1v4_server: LocalR1V4Server,
) -> None:
    from langchain_core.load import loads

    secret = "test-key"  # the one the local server takes
    llm = ChatR1V4(
        api_key=secret,
        base_url=r1v4_server.base_url,
        model_kwargs={"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}},
        request_timeout=30,
        max_completion_tokens=64,
        backoff=0.25,
        max_image_bytes=20_000_000,
        max_image_pixels=1_000_000,
    )
    text = dumps(llm)
    assert secret not in text
    kwargs = json.loads(text)["kwargs"]
    assert kwargs["model_kwargs"] == {
        "top_k": 20,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    assert (kwargs["timeout"], kwargs["max_tokens"], kwargs["backoff"]) == (30, 64, 0.25)
    assert (kwargs["max_image_bytes"], kwargs["max_image_pixels"]) == (20_000_000, 1_000_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = loads(
            text,
            secrets_map={"SKYWORK_API_KEY": secret},
            valid_namespaces=["langchain_r1v4"],
            allowed_objects=[ChatR1V4],
        )
    # Rebuilt from its own fields: nothing moved into model_kwargs again, so no warning.
    assert not [w for w in caught if issubclass(w.category, UserWarning)]
    assert loaded.model_dump(exclude={"api_key"}) == llm.model_dump(exclude={"api_key"})
    settings = loaded.client.settings
    assert (settings.timeout.read, settings.retry.backoff) == (30, 0.25)
    assert (settings.max_image_bytes, settings.max_image_pixels) == (20_000_000, 1_000_000)
    r1v4_server.enqueue(Reply(content="loaded"))
    assert loaded.invoke("hi").content == "loaded"
    body = r1v4_server.last_request.body
    assert (body["top_k"], body["chat_template_kwargs"], body["max_tokens"]) == (
        20,
        {"enable_thinking": False},
        64,
    )
    assert r1v4_server.last_request.headers["authorization"] == f"Bearer {secret}"
    assert "model_kwargs" in llm._identifying_params  # caches tell the two apart
    assert ChatR1V4(api_key="k")._identifying_params != llm._identifying_params
