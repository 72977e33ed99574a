"""Fixtures for the LlamaIndex adapter: an ``R1V4`` pointed at the local server, an image host."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from llama_index.core import Settings
from llama_index.core.llms import LLM

from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server, make_image


@pytest.fixture
def llm(r1v4_server: LocalR1V4Server, r1v4_api_key: str) -> R1V4:
    return R1V4(api_key=r1v4_api_key, base_url=r1v4_server.base_url)


@pytest.fixture
def settings_llm() -> Iterator[None]:
    """Restores ``Settings.llm``, the embed model and the callback manager after a test."""
    saved_llm: LLM | None = Settings._llm
    saved_embed = Settings._embed_model
    saved_callbacks = Settings._callback_manager
    try:
        yield
    finally:
        Settings._llm = saved_llm
        Settings._embed_model = saved_embed
        Settings._callback_manager = saved_callbacks


class ImageHost:
    """Serves fixed images over real HTTP on loopback, as a remote image host would."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {
            "/red.png": (make_image("PNG", (4, 3), (255, 0, 0)), "image/png"),
            # A misleading content type: the client must trust the bytes, not the header.
            "/photo": (make_image("JPEG", (10, 10), (0, 0, 255)), "application/octet-stream"),
        }
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = host.files.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                body, ctype = found
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture(scope="session")
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    host.thread.start()
    try:
        yield host
    finally:
        host.server.shutdown()
        host.server.server_close()
