"""No keyword given to ``ChatR1V4`` or ``R1V4`` is silently dropped, and every setting of the core
clients can be set from both and takes effect (issue #20, item 3).

Every setting is proven on the wire, against the local server: what it records (headers, body,
images as decoded, its own clock) or what it was scripted to do (errors, delays). The list of
settings proven is checked against :class:`r1v4.ClientSettings` itself, so a setting added to
the core without a proof here fails :func:`test_every_client_setting_has_a_proof`.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from image_hosts import ImageHost
from pictures import gradient, png, uri

import r1v4
from r1v4 import ClientSettings
from r1v4._model_options import CLIENT_SETTINGS
from r1v4.testing import LocalR1V4Server, Reply

KEY = "test-key"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@dataclass
class Adapter:
    """One framework's model class, and how to call it, so every check runs on both."""

    name: str
    cls: type[Any]
    extras: str
    """The dict field unknown keywords go into."""
    ask: Callable[[Any, str], str]
    stream: Callable[[Any, str], str]
    ask_image: Callable[[Any, str], str]
    """A user message with text and the image at this data URI."""
    ask_with_tool: Callable[[Any], None]
    settings: Callable[[Any], ClientSettings]

    def make(self, server: LocalR1V4Server, **kwargs: Any) -> Any:
        params: dict[str, Any] = {"api_key": KEY, "base_url": server.base_url}
        params.update(kwargs)
        return self.cls(**params)


def _langchain() -> Adapter:
    from langchain_core.messages import HumanMessage

    from langchain_r1v4 import ChatR1V4

    def ask_image(llm: Any, data_uri: str) -> str:
        message = HumanMessage(
            [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": data_uri}},
            ]
        )
        return str(llm.invoke([message]).content)

    return Adapter(
        name="ChatR1V4",
        cls=ChatR1V4,
        extras="model_kwargs",
        ask=lambda llm, text: str(llm.invoke(text).content),
        stream=lambda llm, text: "".join(str(c.content) for c in llm.stream(text)),
        ask_image=ask_image,
        ask_with_tool=lambda llm: llm.bind_tools([TOOL]).invoke("weather in Paris?"),
        settings=lambda llm: llm.client.settings,
    )


def _llama_index() -> Adapter:
    from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock
    from llama_index.core.tools import FunctionTool

    from llama_index_r1v4 import R1V4

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return "sunny"

    def ask(llm: Any, text: str) -> str:
        return str(llm.chat([ChatMessage(role="user", content=text)]).message.content)

    def stream(llm: Any, text: str) -> str:
        return "".join(
            r.delta or "" for r in llm.stream_chat([ChatMessage(role="user", content=text)])
        )

    def ask_image(llm: Any, data_uri: str) -> str:
        blocks = [TextBlock(text="look"), ImageBlock(url=data_uri)]
        return str(llm.chat([ChatMessage(role="user", blocks=blocks)]).message.content)

    def ask_with_tool(llm: Any) -> None:
        llm.chat_with_tools([FunctionTool.from_defaults(get_weather)], user_msg="weather?")

    return Adapter(
        name="R1V4",
        cls=R1V4,
        extras="additional_kwargs",
        ask=ask,
        stream=stream,
        ask_image=ask_image,
        ask_with_tool=ask_with_tool,
        settings=lambda llm: llm._sync_client().settings,
    )


@pytest.fixture(params=["langchain", "llama_index"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return _langchain() if request.param == "langchain" else _llama_index()


# ------------------------------------------------------------------ every client setting


def _api_key(a: Adapter, server: LocalR1V4Server) -> None:
    a.ask(a.make(server, api_key=KEY), "hi")
    assert server.last_request.headers["authorization"] == f"Bearer {KEY}"
    with pytest.raises(r1v4.AuthenticationError):
        a.ask(a.make(server, api_key="another-key"), "hi")
    assert server.last_request.headers["authorization"] == "Bearer another-key"


def _base_url(a: Adapter, server: LocalR1V4Server) -> None:
    a.ask(a.make(server, base_url=server.base_url), "hi")
    a.ask(a.make(server, base_url=server.hosted_base_url), "hi")
    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/api/v1/chat/completions"]


def _timeout(a: Adapter, server: LocalR1V4Server) -> None:
    # The server answers after at least 1 s: a 0.3 s read timeout gives up, a 30 s one waits.
    server.enqueue(Reply(content="late", first_byte_delay=1.0, repeat=2))
    impatient = a.make(server, timeout=0.3, max_retries=0)
    assert a.settings(impatient).timeout.read == 0.3
    with pytest.raises(r1v4.APITimeoutError):
        a.ask(impatient, "hi")
    assert a.ask(a.make(server, timeout=30, max_retries=0), "hi") == "late"


def _max_retries(a: Adapter, server: LocalR1V4Server) -> None:
    server.enqueue(Reply(status=503, repeat=5))
    with pytest.raises(r1v4.ServerError):
        a.ask(a.make(server, max_retries=0, backoff=0), "hi")
    assert len(server.requests) == 1
    with pytest.raises(r1v4.ServerError):
        a.ask(a.make(server, max_retries=3, backoff=0), "hi")
    assert len(server.requests) == 1 + 4


def _backoff(a: Adapter, server: LocalR1V4Server) -> None:
    # A backoff of 1 s waits 0.75-1 s before the first retry (jitter); the default (0.5 s)
    # waits at most 0.5 s. Measured on the server's clock: from the 503 sent to the retry.
    server.enqueue(Reply(status=503), Reply(content="after the wait"))
    llm = a.make(server, backoff=1.0, max_retries=1)
    assert a.ask(llm, "hi") == "after the wait"
    failed, retried = server.requests
    assert failed.completed_at is not None
    assert retried.received_at - failed.completed_at >= 0.75
    # The policy the clients hold computes that delay.
    settings = a.settings(llm)
    assert settings.retry.backoff == 1.0
    delay = settings.retry_delay(r1v4.ServerError("x", status_code=503), 0, None)
    assert delay is not None and 0.75 <= delay <= 1.0


def _default_headers(a: Adapter, server: LocalR1V4Server) -> None:
    a.ask(a.make(server, default_headers={"X-Team": "vision"}), "hi")
    assert server.last_request.headers["x-team"] == "vision"


def _tool_mode(a: Adapter, server: LocalR1V4Server) -> None:
    a.ask_with_tool(a.make(server, tool_mode="native"))
    native = server.last_request.body
    assert native["tools"][0]["function"]["name"] == "get_weather"
    a.ask_with_tool(a.make(server, tool_mode="prompted"))
    prompted = server.last_request.body
    assert "tools" not in prompted
    assert prompted["messages"][0]["role"] == "system"
    assert "<tools>" in str(prompted["messages"][0]["content"])
    assert "get_weather" in str(prompted["messages"][0]["content"])


def _stream_usage(a: Adapter, server: LocalR1V4Server) -> None:
    a.stream(a.make(server, stream_usage=True), "hi")
    assert server.last_request.body["stream_options"] == {"include_usage": True}
    a.stream(a.make(server, stream_usage=False), "hi")
    assert "stream_options" not in server.last_request.body


def _max_image_bytes(a: Adapter, server: LocalR1V4Server) -> None:
    image = gradient((32, 24))
    data_uri = uri(image)
    with pytest.raises(r1v4.ImageError):
        a.ask_image(a.make(server, max_image_bytes=len(image) - 1), data_uri)
    assert server.requests == []  # refused before any request
    a.ask_image(a.make(server, max_image_bytes=len(image)), data_uri)
    assert [i.byte_size for i in server.last_request.images] == [len(image)]


def _max_image_pixels(a: Adapter, server: LocalR1V4Server) -> None:
    data_uri = uri(gradient((64, 48)))
    a.ask_image(a.make(server), data_uri)
    assert [i.describe() for i in server.last_request.images] == ["PNG 64x48"]
    a.ask_image(a.make(server, max_image_pixels=32 * 24), data_uri)
    (shrunk,) = server.last_request.images
    assert shrunk.width * shrunk.height <= 32 * 24
    assert shrunk.width / shrunk.height == pytest.approx(64 / 48, rel=0.1)


def _allow_file_paths(a: Adapter, server: LocalR1V4Server) -> None:
    if a.name == "R1V4":
        # LlamaIndex's ImageBlock(url=...) refuses a bare path itself, so no path string reaches
        # R1V4's core; the setting still reaches the clients that would judge one.
        assert not a.settings(a.make(server)).allow_file_paths
        assert a.settings(a.make(server, allow_file_paths=True)).allow_file_paths
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "picture.png"
        path.write_bytes(png((5, 3), "red"))
        with pytest.raises(r1v4.ImageError, match="allow_file_paths=True"):
            a.ask_image(a.make(server), str(path))
        assert server.requests == []
        a.ask_image(a.make(server, allow_file_paths=True), str(path))
    assert [i.describe() for i in server.last_request.images] == ["PNG 5x3"]


def _allow_private_urls(a: Adapter, server: LocalR1V4Server) -> None:
    with ImageHost("127.0.0.1") as host:
        url = host.image("/a.png", png((7, 2), "blue"))
        with pytest.raises(r1v4.ImageError, match="allow_private_urls=True"):
            a.ask_image(a.make(server), url)
        assert host.hits() == 0 and server.requests == []
        a.ask_image(a.make(server, allow_private_urls=True), url)
        assert host.hits("/a.png") == 1
    assert [i.describe() for i in server.last_request.images] == ["PNG 7x2"]


def _image_download_timeout(a: Adapter, server: LocalR1V4Server) -> None:
    with ImageHost("127.0.0.1") as host:
        llm = a.make(server, allow_private_urls=True, image_download_timeout=0.3)
        with pytest.raises(r1v4.ImageError, match=r"within 0\.3 s \(image_download_timeout\)"):
            a.ask_image(llm, host.silent("/never.png"))
        assert host.holding == 1  # still silent: the client gave up on its own deadline
    assert server.requests == []


PROOFS: dict[str, Callable[[Adapter, LocalR1V4Server], None]] = {
    "api_key": _api_key,
    "base_url": _base_url,
    "timeout": _timeout,
    "max_retries": _max_retries,
    "backoff": _backoff,
    "default_headers": _default_headers,
    "tool_mode": _tool_mode,
    "stream_usage": _stream_usage,
    "max_image_bytes": _max_image_bytes,
    "max_image_pixels": _max_image_pixels,
    "allow_file_paths": _allow_file_paths,
    "allow_private_urls": _allow_private_urls,
    "image_download_timeout": _image_download_timeout,
}


def test_every_client_setting_has_a_proof() -> None:
    assert set(PROOFS) == set(CLIENT_SETTINGS)


@pytest.mark.parametrize("setting", sorted(PROOFS))
def test_each_client_setting_takes_effect(
    adapter: Adapter, setting: str, r1v4_server: LocalR1V4Server
) -> None:
    assert setting in adapter.cls.model_fields
    PROOFS[setting](adapter, r1v4_server)


def test_the_model_hands_every_setting_to_its_clients(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    llm = adapter.make(
        r1v4_server,
        timeout=12.5,
        max_retries=4,
        backoff=0.25,
        tool_mode="prompted",
        stream_usage=False,
        max_image_bytes=20_000_000,
        max_image_pixels=1_000_000,
        default_headers={"X-Team": "vision"},
    )
    s = adapter.settings(llm)
    assert (s.timeout.read, s.retry.max_retries, s.retry.backoff) == (12.5, 4, 0.25)
    assert (s.tool_mode, s.stream_usage) == ("prompted", False)
    assert (s.max_image_bytes, s.max_image_pixels) == (20_000_000, 1_000_000)
    assert s.headers(False)["X-Team"] == "vision"
    assert s.url == f"{r1v4_server.base_url}/chat/completions"


# --------------------------------------------------------------------- keywords and typos


@pytest.mark.parametrize(
    ("typo", "intended"),
    [
        ("temprature", "temperature"),
        ("base_uri", "base_url"),
        ("max_token", "max_tokens"),
        ("Temperature", "temperature"),
        ("api-key", "api_key"),
        ("max_retry", "max_retries"),
        ("default_header", "default_headers"),
        ("max_image_byte", "max_image_bytes"),
        ("request_timout", "request_timeout"),
    ],
)
def test_a_near_miss_is_refused_naming_the_parameter(
    adapter: Adapter, typo: str, intended: str, r1v4_server: LocalR1V4Server
) -> None:
    with pytest.raises(ValueError, match=f"{typo!r}.*did you mean {intended!r}"):
        adapter.make(r1v4_server, **{typo: 0.2})


def test_the_issue_example_is_refused_before_anything_is_sent(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    with pytest.raises(ValueError) as info:
        adapter.cls(temprature=0.2, base_uri=r1v4_server.base_url)
    assert "did you mean 'temperature'?" in str(info.value)
    assert r1v4_server.requests == []


def test_another_librarys_name_for_the_base_url(r1v4_server: LocalR1V4Server) -> None:
    from langchain_r1v4 import ChatR1V4
    from llama_index_r1v4 import R1V4

    # LangChain spells it base_url: api_base would send the key to the hosted API.
    with pytest.raises(ValueError, match=r"'api_base'.*did you mean 'base_url'"):
        ChatR1V4(api_key=KEY, api_base=r1v4_server.base_url)
    with pytest.raises(ValueError, match=r"'stream'.*did you mean 'streaming'"):
        ChatR1V4(api_key=KEY, stream=True)
    # LlamaIndex's OpenAI LLMs spell it api_base: R1V4 takes it.
    llm = R1V4(api_key=KEY, api_base=r1v4_server.base_url)
    assert llm.base_url == r1v4_server.base_url
    llm.chat([_llama_message("hi")])
    assert len(r1v4_server.requests) == 1


def _llama_message(text: str) -> Any:
    from llama_index.core.llms import ChatMessage

    return ChatMessage(role="user", content=text)


def test_an_unknown_keyword_goes_into_the_body_with_a_warning(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    # Real fields of vLLM and SGLang, close to ours but not misspellings of them.
    with pytest.warns(UserWarning) as caught:
        llm = adapter.make(r1v4_server, top_k=20, min_tokens=4, min_p=0.05)
    texts = [str(w.message) for w in caught]
    assert len(texts) == 3
    assert all(adapter.extras in t for t in texts)
    assert {w.filename for w in caught} == {__file__}  # pointing at the line that built it
    assert getattr(llm, adapter.extras) == {"top_k": 20, "min_tokens": 4, "min_p": 0.05}
    adapter.ask(llm, "hi")
    adapter.stream(llm, "hi")
    for record in r1v4_server.requests:
        body = record.body
        assert (body["top_k"], body["min_tokens"], body["min_p"]) == (20, 4, 0.05)


def test_the_extras_dict_reaches_the_wire_without_a_warning(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    extras = {"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}, "seed": 7}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        llm = adapter.make(r1v4_server, **{adapter.extras: extras})
    adapter.ask(llm, "hi")
    adapter.stream(llm, "hi")
    for record in r1v4_server.requests:
        assert {k: record.body[k] for k in extras} == extras
    assert extras == {"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}, "seed": 7}


def test_a_call_keyword_overrides_the_extras(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    from langchain_core.language_models import BaseChatModel

    llm = adapter.make(r1v4_server, **{adapter.extras: {"top_k": 20, "seed": 1}})
    if isinstance(llm, BaseChatModel):
        llm.invoke("hi", top_k=5)
    else:
        llm.chat([_llama_message("hi")], top_k=5)
    assert (r1v4_server.last_request.body["top_k"], r1v4_server.last_request.body["seed"]) == (5, 1)


@pytest.mark.parametrize("parameter", ["timeout", "max_retries", "tool_mode", "max_image_bytes"])
def test_a_parameter_in_the_extras_is_refused(
    adapter: Adapter, parameter: str, r1v4_server: LocalR1V4Server
) -> None:
    # It would be sent to the server and never take effect.
    with pytest.raises(ValueError, match=f"holds {parameter!r}, which is a parameter"):
        adapter.make(r1v4_server, **{adapter.extras: {parameter: 1}})


def test_chat_r1v4_refuses_a_request_field_in_model_kwargs() -> None:
    from langchain_r1v4 import ChatR1V4

    for parameter in ("temperature", "max_tokens", "max_completion_tokens", "model", "stop"):
        with pytest.raises(ValueError, match=f"holds {parameter!r}, which is a parameter"):
            ChatR1V4(api_key=KEY, model_kwargs={parameter: 1})


def test_r1v4_additional_kwargs_may_override_request_fields(r1v4_server: LocalR1V4Server) -> None:
    from llama_index_r1v4 import R1V4

    # LlamaIndex's convention (its OpenAI LLM does the same): additional_kwargs win.
    llm = R1V4(
        api_key=KEY,
        base_url=r1v4_server.base_url,
        temperature=0.1,
        additional_kwargs={"temperature": 0.7, "max_tokens": 9},
    )
    llm.chat([_llama_message("hi")])
    body = r1v4_server.last_request.body
    assert (body["temperature"], body["max_tokens"]) == (0.7, 9)


@pytest.mark.parametrize("field", ["messages", "stream"])
def test_a_field_each_call_sets_is_refused(
    adapter: Adapter, field: str, r1v4_server: LocalR1V4Server
) -> None:
    with pytest.raises(ValueError, match=f"{field!r}, which each call sets"):
        adapter.make(r1v4_server, **{adapter.extras: {field: []}})
    if (adapter.name, field) != ("ChatR1V4", "stream"):  # a near miss of streaming there
        with pytest.raises(ValueError, match=f"{field!r}, which each call sets"):
            adapter.make(r1v4_server, **{field: True})


def test_one_setting_given_twice_is_refused(adapter: Adapter, r1v4_server: LocalR1V4Server) -> None:
    with pytest.raises(ValueError, match="timeout=5 and request_timeout=6"):
        adapter.make(r1v4_server, timeout=5, request_timeout=6)
    with pytest.raises(ValueError, match="'top_k' twice"):
        adapter.make(r1v4_server, top_k=1, **{adapter.extras: {"top_k": 2}})
    # The same value twice is one value.
    assert adapter.make(r1v4_server, timeout=5, request_timeout=5).timeout == 5


def test_usual_names_for_the_timeout_and_token_limit(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    llm = adapter.make(r1v4_server, request_timeout=42, max_completion_tokens=64)
    assert llm.timeout == 42 and adapter.settings(llm).timeout.read == 42
    adapter.ask(llm, "hi")
    assert r1v4_server.last_request.body["max_tokens"] == 64
    llm = adapter.make(r1v4_server, timeout=7, max_tokens=8)
    assert adapter.settings(llm).timeout.read == 7
    adapter.ask(llm, "hi")
    assert r1v4_server.last_request.body["max_tokens"] == 8


def test_llama_index_names_r1v4_takes(r1v4_server: LocalR1V4Server) -> None:
    from llama_index_r1v4 import R1V4

    llm = R1V4(api_key=KEY, api_base=r1v4_server.base_url, max_new_tokens=16)
    llm.chat([_llama_message("hi")])
    assert r1v4_server.last_request.body["max_tokens"] == 16


def test_chat_r1v4_takes_langchains_usual_names(r1v4_server: LocalR1V4Server) -> None:
    from langchain_r1v4 import ChatR1V4

    llm = ChatR1V4(
        api_key=KEY,
        base_url=r1v4_server.base_url,
        model_name="Skywork/R1V4",
        stop=["END"],
        request_timeout=30,
        max_completion_tokens=50,
        model_kwargs={"top_k": 3},
    )
    llm.invoke("hi")
    body = r1v4_server.last_request.body
    assert (body["model"], body["stop"], body["max_tokens"], body["top_k"]) == (
        "Skywork/R1V4",
        ["END"],
        50,
        3,
    )
    assert llm.client.settings.timeout.read == 30


def test_invalid_settings_are_refused(adapter: Adapter, r1v4_server: LocalR1V4Server) -> None:
    for bad in (
        {"max_retries": -1},
        {"backoff": -0.5},
        {"timeout": 0},
        {"max_image_bytes": 0},
        {"max_image_pixels": 0},
        {"tool_mode": "sometimes"},
    ):
        with pytest.raises(ValueError):
            adapter.make(r1v4_server, **bad)


def test_a_refusal_never_shows_the_key_or_credential_headers(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    secret = "sk-refused-4f2a"
    for bad in ({"temprature": 1}, {"max_retries": -1}, {adapter.extras: {"timeout": 1}}):
        with pytest.raises(ValueError) as info:
            adapter.make(
                r1v4_server,
                api_key=secret,
                default_headers={"Authorization": f"Bearer {secret}"},
                **bad,
            )
        assert secret not in str(info.value) and secret not in repr(info.value)
