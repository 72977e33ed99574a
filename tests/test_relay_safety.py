"""A message relayed from a user cannot make the server read its files or reach its network.

The relay is the usual server-side app, over real HTTP: it takes OpenAI-format messages as JSON
from its client and forwards them to ``ChatR1V4`` (``convert_to_messages``) or to ``R1V4``
(``ChatMessage.model_validate``), both pointed at the local R1V4 server. By default a path
string is never opened (a named pipe reports any open) and no private address is fetched (the
image host counts requests), and the local R1V4 server sees no request; the refusal names the
setting. With the settings turned on, the same messages go through.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from image_hosts import ImageHost, Tripwire
from langchain_core.messages import convert_to_messages
from llama_index.core.base.llms.types import ChatMessage
from pictures import png

from langchain_r1v4 import ChatR1V4
from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server

KEY = "test-key"
PNG = png((6, 4), "green")
FILE_PNG = png((9, 9), "purple")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def llama_index_message(message: dict[str, Any]) -> ChatMessage:
    """An OpenAI-format message as a LlamaIndex ``ChatMessage``, the way a relay writes it."""
    content = message.get("content")
    if isinstance(content, str):
        return ChatMessage.model_validate({"role": message["role"], "content": content})
    blocks = []
    for part in content or ():
        if part.get("type") == "image_url":
            blocks.append({"block_type": "image", "url": part["image_url"]["url"]})
        else:
            blocks.append({"block_type": "text", "text": part.get("text", "")})
    return ChatMessage.model_validate({"role": message["role"], "blocks": blocks})


def relay_app(chat_model: ChatR1V4, llm: R1V4) -> Callable[..., Awaitable[None]]:
    """A bare ASGI app: ``POST /langchain`` and ``POST /llama_index`` with ``{"messages"}``."""

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            event = await receive()
            body += event.get("body", b"")
            more = event.get("more_body", False)
        messages = json.loads(body)["messages"]
        try:
            if scope["path"] == "/langchain":
                reply = await chat_model.ainvoke(convert_to_messages(messages))
                status, out = 200, {"content": reply.content}
            else:
                response = await llm.achat([llama_index_message(m) for m in messages])
                status, out = 200, {"content": response.message.content}
        except Exception as exc:  # what the relay's user sees
            status, out = 400, {"error": type(exc).__name__, "message": str(exc)}
        data = json.dumps(out).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return app


@dataclass
class Relay:
    url: str

    def post(self, framework: str, messages: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        response = httpx.post(f"{self.url}/{framework}", json={"messages": messages}, timeout=60)
        return response.status_code, response.json()


@pytest.fixture
def start_relay(r1v4_server: LocalR1V4Server) -> Iterator[Callable[..., Relay]]:
    """``start_relay(**settings)``: a relay whose two models have ``settings``."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**settings: Any) -> Relay:
        common = {"api_key": KEY, "base_url": r1v4_server.base_url, **settings}
        app = relay_app(ChatR1V4(**common), R1V4(**common))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the relay did not start"
            time.sleep(0.005)
        servers.append((server, thread))
        return Relay(f"http://127.0.0.1:{sock.getsockname()[1]}")

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def host() -> Iterator[ImageHost]:
    with ImageHost("127.0.0.1") as h:
        yield h


def user(*images: str, text: str = "What is in this picture?") -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in images]
    return {"role": "user", "content": parts}


FRAMEWORKS = ["langchain", "llama_index"]


# ------------------------------------------------------------------------------ by default


def test_a_relayed_path_is_never_opened_by_chat_r1v4(
    start_relay: Callable[..., Relay], r1v4_server: LocalR1V4Server, tmp_path: Path
) -> None:
    relay = start_relay()
    with Tripwire(tmp_path, FILE_PNG) as wire:
        status, out = relay.post("langchain", [user(str(wire.path))])
    assert status == 400 and out["error"] == "ImageError"
    assert out["message"].startswith("message 0, part 1: ")
    assert "allow_file_paths=True" in out["message"]
    assert not wire.opened.is_set()
    assert r1v4_server.requests == []


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_a_relayed_path_is_never_opened_by_r1v4(
    start_relay: Callable[..., Relay], r1v4_server: LocalR1V4Server, tmp_path: Path, as_url: bool
) -> None:
    """A LlamaIndex ``ImageBlock`` takes no bare path as its URL (LlamaIndex refuses it); as a
    ``file:`` URL it reaches the core, which never reads one."""
    relay = start_relay()
    with Tripwire(tmp_path, FILE_PNG) as wire:
        url = f"file://{wire.path}" if as_url else str(wire.path)
        status, out = relay.post("llama_index", [user(url)])
    assert status == 400
    if as_url:
        assert out["error"] == "ImageError" and "'file://'" in out["message"]
    assert not wire.opened.is_set()
    assert r1v4_server.requests == []


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_relayed_url_reaches_no_private_address(
    start_relay: Callable[..., Relay],
    r1v4_server: LocalR1V4Server,
    host: ImageHost,
    framework: str,
) -> None:
    relay = start_relay()
    host.image("/a.png", PNG)
    for url in [
        f"{host.origin}/a.png",
        f"http://localhost:{host.port}/a.png",
        f"http://2130706433:{host.port}/a.png",
        f"http://[::ffff:127.0.0.1]:{host.port}/a.png",
        "http://169.254.169.254/latest/meta-data/",
    ]:
        status, out = relay.post(framework, [user(url)])
        assert status == 400 and out["error"] == "ImageError", out
        assert out["message"].startswith("message 0, part 1: image URL "), out
        assert "allow_private_urls=True" in out["message"], out
    assert host.hits() == 0 and r1v4_server.requests == []


# ------------------------------------------------------------------------------- opted in


def test_allow_file_paths_lets_chat_r1v4_read_a_path(
    start_relay: Callable[..., Relay], r1v4_server: LocalR1V4Server, tmp_path: Path
) -> None:
    relay = start_relay(allow_file_paths=True)
    with Tripwire(tmp_path, FILE_PNG) as wire:
        status, out = relay.post("langchain", [user(str(wire.path))])
    assert status == 200 and out["content"].startswith("I saw 1 image(s): PNG 9x9"), out
    assert wire.opened.is_set()
    assert r1v4_server.last_request.images[0].describe() == "PNG 9x9"


def test_r1v4_passes_allow_file_paths_on() -> None:
    """No path string reaches R1V4's core through an ``ImageBlock``; the setting still reaches
    its clients, where any string would be judged."""
    llm = R1V4(api_key=KEY, allow_file_paths=True, allow_private_urls=True)
    settings = llm._sync_client().settings
    assert settings.allow_file_paths and settings.allow_private_urls
    assert not R1V4(api_key=KEY)._sync_client().settings.allow_file_paths


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_allow_private_urls_lets_a_relay_fetch_from_its_network(
    start_relay: Callable[..., Relay],
    r1v4_server: LocalR1V4Server,
    host: ImageHost,
    framework: str,
) -> None:
    relay = start_relay(allow_private_urls=True)
    url = host.image("/a.png", PNG)
    status, out = relay.post(framework, [user(url)])
    assert status == 200 and out["content"].startswith("I saw 1 image(s): PNG 6x4"), out
    assert host.hits("/a.png") == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_relayed_conversation_fetches_each_image_once(
    start_relay: Callable[..., Relay],
    r1v4_server: LocalR1V4Server,
    host: ImageHost,
    framework: str,
) -> None:
    relay = start_relay(allow_private_urls=True)
    url = host.image("/a.png", PNG)
    history = [user(url)]
    for turn in range(3):
        status, out = relay.post(framework, history)
        assert status == 200 and "PNG 6x4" in out["content"], out
        history += [{"role": "assistant", "content": out["content"]}]
        history += [{"role": "user", "content": f"And then ({turn})?"}]
    assert host.hits("/a.png") == 1 and len(r1v4_server.requests) == 3


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_download_timeout_reaches_the_models(
    start_relay: Callable[..., Relay],
    r1v4_server: LocalR1V4Server,
    host: ImageHost,
    framework: str,
) -> None:
    relay = start_relay(allow_private_urls=True, image_download_timeout=0.3)
    status, out = relay.post(framework, [user(host.silent("/never.png"))])
    assert status == 400 and "within 0.3 s (image_download_timeout)" in out["message"], out
    assert host.holding == 1  # still silent: the client gave up on its own deadline
    assert r1v4_server.requests == []
