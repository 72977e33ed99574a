"""Every bad input on every path: a clear typed error, raised before any request (the server
sees no request and not even a connection). See ``matrix.BAD_INPUTS`` for the table."""

from __future__ import annotations

import functools
import re
import traceback
from typing import Any

import pytest

from r1v4 import InvalidRequestError, R1V4Error
from r1v4.testing import FileHost, LocalR1V4Server, make_image
from reliability.support.leakcheck import SECRET, assert_no_secret
from reliability.support.matrix import BAD_INPUTS, oversized_png, tiff_bytes
from reliability.support.paths import PATHS, Call, Image, Msg, Settings, Tool, run_path

_BY_NAME = {b.name: b for b in BAD_INPUTS}
QUESTION = "what is in this picture?"


@functools.cache
def _big_png() -> bytes:
    return oversized_png()


def _with_image(image: Image) -> Call:
    return Call(messages=(Msg("user", (QUESTION, image)),))


def bad_call(name: str, host: FileHost) -> Call:
    """The bad input as a framework-neutral call; each path writes it its framework's way."""
    png = make_image("PNG", (64, 48))
    calls = {
        "non-image-bytes": lambda: _with_image(
            Image(data=b"just some text, certainly not a picture\n" * 4)
        ),
        "truncated-png": lambda: _with_image(Image(data=png[: len(png) // 2])),
        "tiff": lambda: _with_image(Image(data=tiff_bytes(), mime="image/tiff")),
        "over-size-limit": lambda: _with_image(Image(data=_big_png())),
        "url-404": lambda: _with_image(Image(url=f"{host.url}/missing.png")),
        "url-not-image": lambda: _with_image(Image(url=f"{host.url}/page.png")),
        "bad-base64": lambda: _with_image(Image(b64="iVBORw0KGgo!!!!not~base64~at~all")),
        "unknown-role": lambda: Call(messages=(Msg("robot", "beep"),)),
        "empty-messages": lambda: Call(messages=()),
        "invalid-tool-schema": lambda: Call(
            tools=(Tool("lookup", "Look a word up.", {"type": "objekt"}),)
        ),
        "max-tokens-zero": lambda: Call(max_tokens=0),
        "max-tokens-negative": lambda: Call(max_tokens=-1),
        "model-not-a-string": lambda: Call(model=123),
    }
    assert set(calls) == set(_BY_NAME), "every bad input in the table has a call here"
    return calls[name]()


CASES = [
    pytest.param(b.name, p.name, id=f"{b.name}@{p.name}")
    for b in BAD_INPUTS
    for p in PATHS.values()
]


@pytest.mark.parametrize(("bad_input", "path"), CASES)
def test_bad_input_is_refused_before_any_request(
    bad_input: str, path: str, server: LocalR1V4Server, image_host: FileHost
) -> None:
    bad, p = _BY_NAME[bad_input], PATHS[path]
    call = bad_call(bad_input, image_host)
    hits_before = len(image_host.hits)

    # The image host is on loopback, a private address: the URL cases need it allowed.
    settings = Settings(api_key=SECRET, allow_private_urls=True)
    outcome, exc, _parts = run_path(p, server.base_url, settings, call)

    error, match = bad.framework.get(p.framework, (bad.error, bad.match))
    assert exc is not None, f"{bad_input} was accepted: {outcome!r}"
    assert type(exc) is error, f"expected {error.__name__}, got {type(exc).__name__}: {exc}"
    assert re.search(match, str(exc), re.IGNORECASE), f"unclear message: {exc}"
    if isinstance(exc, R1V4Error):
        assert exc.status_code is None  # refused by the client, not by a server
    assert server.requests == [] and server.connections_opened == 0
    assert_no_secret("".join(traceback.format_exception(exc)), "the error")
    if bad_input.startswith("url-"):
        assert len(image_host.hits) == hits_before + 1  # the URL was really fetched, once


def test_llama_index_unknown_role_bypassing_validation_is_refused_by_the_adapter(
    server: LocalR1V4Server,
) -> None:
    """LlamaIndex refuses ``role="robot"`` itself; a message built with ``model_construct``
    skips that check, and the adapter must still refuse it with a typed error."""
    from llama_index.core.base.llms.types import ChatMessage, TextBlock

    from llama_index_r1v4 import R1V4

    llm = R1V4(api_key=SECRET, base_url=server.base_url)
    message = ChatMessage.model_construct(
        role="robot",  # type: ignore[arg-type]  # not a MessageRole: the bad input under test
        blocks=[TextBlock(text="beep")],
        additional_kwargs={},
    )
    with pytest.raises(InvalidRequestError, match="robot"):
        llm.chat([message])
    assert server.requests == []


@pytest.mark.parametrize("bad_input", ["max-tokens-zero", "model-not-a-string"])
@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
def test_bad_settings_at_construction(
    bad_input: str, framework: str, server: LocalR1V4Server
) -> None:
    """The same values given to the model's constructor: refused there by pydantic, or, where
    the constructor takes them, by the first call -- before any request either way."""
    from pydantic import ValidationError

    value = {"max-tokens-zero": {"max_tokens": 0}, "model-not-a-string": {"model": 123}}[bad_input]
    kw: dict[str, Any] = {"api_key": SECRET, "base_url": server.base_url, **value}
    if framework == "langchain":
        from langchain_r1v4 import ChatR1V4

        if bad_input == "max-tokens-zero":  # ChatR1V4 takes any int; the call refuses it
            with pytest.raises(InvalidRequestError, match="max_tokens"):
                ChatR1V4(**kw).invoke("hello")
        else:
            with pytest.raises(ValidationError, match="model"):
                ChatR1V4(**kw)
    else:
        from llama_index_r1v4 import R1V4

        field = "max_tokens" if bad_input == "max-tokens-zero" else "model"
        with pytest.raises(ValidationError, match=field):
            R1V4(**kw)
    assert server.requests == []
