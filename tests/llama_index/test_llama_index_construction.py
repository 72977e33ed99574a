"""Construction, metadata, secrets, client reuse and the ``llama_index.llms.r1v4`` name."""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
import warnings
from copy import deepcopy
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index_instrumentation import get_dispatcher  # llama_index.core re-exports it untyped

import r1v4
from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server, Reply

SECRET = "sk-do-not-leak-4f2a"
USER = [ChatMessage(role="user", content="hi")]


def test_is_a_function_calling_llm_with_r1v4_metadata() -> None:
    llm = R1V4(api_key="k", base_url="http://127.0.0.1:9/v1")
    assert isinstance(llm, FunctionCallingLLM)
    meta = llm.metadata
    assert meta.is_chat_model is True
    assert meta.is_function_calling_model is True
    assert meta.model_name == "skywork/r1v4-lite"
    assert meta.context_window == 262_144  # Qwen3-VL-30B-A3B's native context
    assert R1V4(api_key="k", model="skywork/r1v4-vl-planner-lite").metadata.model_name == (
        "skywork/r1v4-vl-planner-lite"
    )
    assert R1V4(api_key="k", context_window=32_768, max_tokens=500).metadata.num_output == 500


def test_key_and_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYWORK_API_KEY", "env-key")
    monkeypatch.setenv("SKYWORK_BASE_URL", "http://127.0.0.1:8000/v1/")
    llm = R1V4()
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == "env-key"
    assert llm.base_url == "http://127.0.0.1:8000/v1"
    monkeypatch.delenv("SKYWORK_BASE_URL")
    assert R1V4().base_url == r1v4.DEFAULT_BASE_URL


def test_key_never_serialised() -> None:
    llm = R1V4(
        api_key=SECRET,
        base_url="http://127.0.0.1:9/v1",
        default_headers={"Authorization": f"Bearer {SECRET}", "X-Team": "vision"},
    )
    dumped = llm.to_dict()
    assert "api_key" not in dumped
    assert dumped["default_headers"] == {"X-Team": "vision"}
    for text in (json.dumps(dumped), llm.to_json(), json.dumps(llm.to_payload()), repr(llm)):
        assert SECRET not in text
    # A copy from the dict works, taking its key from the environment as a new object would.
    copy = R1V4.from_dict(dumped)
    assert copy.base_url == "http://127.0.0.1:9/v1"


class _Recorder(BaseEventHandler):
    events: list[BaseEvent]

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


def test_key_absent_from_instrumentation_events(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(api_key="test-key", base_url=r1v4_server.base_url)
    handler = _Recorder(events=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        llm.chat(USER)
        list(llm.stream_chat(USER))
        llm.complete("hi")
    finally:
        dispatcher.event_handlers.remove(handler)
    assert len(handler.events) > 5
    for event in handler.events:
        assert "test-key" not in event.model_dump_json()
        assert "test-key" not in repr(event)


def test_pickled_copy_keeps_key_and_works(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(api_key="test-key", base_url=r1v4_server.base_url)
    llm.chat(USER)  # creates the pooled client, which must not travel
    copy = pickle.loads(pickle.dumps(llm))
    assert copy.api_key is not None and copy.api_key.get_secret_value() == "test-key"
    r1v4_server.enqueue(Reply(content="from the copy"))
    assert copy.chat(USER).message.content == "from the copy"
    assert llm._clients is not None  # the original kept its clients


def test_copies_after_use_build_their_own_clients(
    r1v4_server: LocalR1V4Server, no_native_tools_server: LocalR1V4Server
) -> None:
    own = httpx.Client()
    llm = R1V4(api_key="test-key", base_url=r1v4_server.base_url, http_client=own)
    llm.chat(USER)  # the model now holds a core client with locks and a pool
    clone = deepcopy(llm)
    r1v4_server.enqueue(Reply(content="from the clone"))
    assert clone.chat(USER).message.content == "from the clone"
    assert clone.client is not llm.client
    assert clone._http_client is own  # the caller's client is shared, never copied
    moved = llm.model_copy(update={"base_url": no_native_tools_server.base_url})
    no_native_tools_server.enqueue(Reply(content="moved"))
    assert moved.chat(USER).message.content == "moved"
    assert len(no_native_tools_server.requests) == 1
    same = llm.model_copy()  # same settings, yet its own clients (copies never carry them)
    assert same._clients is None
    assert same.chat(USER).message.content
    assert same.client is not llm.client and same._http_client is own
    assert len(r1v4_server.requests) == 3
    own.close()


def test_core_clients_are_created_once_and_reused(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(api_key="test-key", base_url=r1v4_server.base_url)
    assert llm._clients is None  # lazily
    llm.chat(USER)
    assert llm._clients is not None
    first = llm.client
    list(llm.stream_chat(USER))
    llm.complete("hi")
    assert llm.client is first

    async def call() -> None:
        await llm.achat(USER)
        [r async for r in await llm.astream_chat(USER)]

    asyncio.run(call())
    afirst = llm.async_client
    asyncio.run(call())  # a second event loop: same object, the core gives it a fresh pool
    assert llm.async_client is afirst
    # One sync connection served the three sync calls (keep-alive).
    assert r1v4_server.connections_opened <= 3


def test_threads_share_one_client(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(api_key="test-key", base_url=r1v4_server.base_url)
    seen: list[object] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            llm.chat(USER)
            seen.append(llm.client)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({id(c) for c in seen}) == 1
    assert len(r1v4_server.requests) == 8


def test_given_http_clients_are_used(r1v4_server: LocalR1V4Server) -> None:
    import httpx

    calls: list[str] = []
    sync_http = httpx.Client(event_hooks={"request": [lambda r: calls.append("sync")]})

    async def run() -> str:
        async def hook(request: httpx.Request) -> None:
            calls.append("async")

        async with httpx.AsyncClient(event_hooks={"request": [hook]}) as async_http:
            llm = R1V4(
                api_key="test-key",
                base_url=r1v4_server.base_url,
                http_client=sync_http,
                async_http_client=async_http,
            )
            llm.chat(USER)
            return (await llm.achat(USER)).message.content or ""

    assert asyncio.run(run()).startswith("I saw 0 image(s)")
    assert calls == ["sync", "async"]
    sync_http.close()


def test_timeout_retries_and_headers_reach_the_core(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(
        api_key="test-key",
        base_url=r1v4_server.base_url,
        timeout=30,
        max_retries=1,
        default_headers={"X-Team": "vision"},
        tool_mode="prompted",
    )
    r1v4_server.enqueue(Reply(status=503), Reply(content="after one retry"))
    assert llm.chat(USER).message.content == "after one retry"
    assert len(r1v4_server.requests) == 2  # the core retried; nothing retried on top of it
    assert r1v4_server.last_request.headers["x-team"] == "vision"
    settings = llm.client.settings
    assert settings.tool_mode == "prompted"
    assert settings.timeout.read == 30


def test_no_retry_layer_of_its_own(r1v4_server: LocalR1V4Server) -> None:
    llm = R1V4(api_key="test-key", base_url=r1v4_server.base_url, max_retries=0)
    r1v4_server.enqueue(Reply(status=503))
    with pytest.raises(r1v4.ServerError):
        llm.chat(USER)
    assert len(r1v4_server.requests) == 1


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        R1V4(api_key="k", tool_mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        R1V4(api_key="k", history="everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        R1V4(api_key="k", max_tokens=0)


def test_llama_index_namespace_name() -> None:
    import llama_index.core
    import llama_index.llms.openai  # another integration in the same namespace

    try:
        from llama_index.llms.r1v4 import R1V4 as Reexported
    except ModuleNotFoundError:  # pragma: no cover - an environment problem, said plainly
        pytest.fail(
            "llama_index.llms.r1v4 is not installed: an editable install made before the "
            "package existed needs `pip install -e .` again"
        )

    assert Reexported is R1V4
    import llama_index.llms.r1v4 as alias
    import llama_index_r1v4

    assert alias.__all__ == llama_index_r1v4.__all__
    assert {name: getattr(alias, name) for name in alias.__all__} == {
        name: getattr(llama_index_r1v4, name) for name in llama_index_r1v4.__all__
    }
    assert llama_index.core.__file__ is not None
    assert llama_index.llms.openai.OpenAI is not None


def test_additional_kwargs_and_client_settings_survive_to_dict(
    r1v4_server: LocalR1V4Server,
) -> None:
    llm = R1V4(
        api_key=SECRET,
        api_base=r1v4_server.base_url,
        additional_kwargs={"top_k": 20},
        request_timeout=30,
        max_new_tokens=64,
        backoff=0.25,
        max_image_bytes=20_000_000,
        max_image_pixels=1_000_000,
        stream_usage=False,
    )
    dumped = llm.to_dict()
    assert SECRET not in json.dumps(dumped) and SECRET not in llm.to_json()
    assert dumped["additional_kwargs"] == {"top_k": 20}
    assert (dumped["base_url"], dumped["timeout"], dumped["max_tokens"]) == (
        r1v4_server.base_url,
        30,
        64,
    )
    assert (dumped["backoff"], dumped["max_image_bytes"], dumped["max_image_pixels"]) == (
        0.25,
        20_000_000,
        1_000_000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt from its own fields: nothing to warn about
        copy = R1V4.from_dict(dumped, api_key="test-key")
    assert copy.model_dump() == llm.model_dump()
    settings = copy.client.settings
    assert (settings.timeout.read, settings.retry.backoff, settings.stream_usage) == (
        30,
        0.25,
        False,
    )
    assert (settings.max_image_bytes, settings.max_image_pixels) == (20_000_000, 1_000_000)
    copy.chat(USER)
    body = r1v4_server.last_request.body
    assert (body["top_k"], body["max_tokens"]) == (20, 64)
