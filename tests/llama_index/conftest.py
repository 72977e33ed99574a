"""Fixtures for the LlamaIndex adapter: an ``R1V4`` pointed at the local server, an image host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import Settings
from llama_index.core.llms import LLM

from llama_index_r1v4 import R1V4
from r1v4.testing import FileHost, LocalR1V4Server, make_image


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


@pytest.fixture(scope="session")
def image_host() -> Iterator[FileHost]:
    """Serves fixed images over real HTTP on loopback, as a remote image host would."""
    with FileHost() as host:
        host.add("/red.png", make_image("PNG", (4, 3), (255, 0, 0)), "image/png")
        # A misleading content type: the client must trust the bytes, not the header.
        host.add("/photo", make_image("JPEG", (10, 10), (0, 0, 255)), "application/octet-stream")
        yield host
