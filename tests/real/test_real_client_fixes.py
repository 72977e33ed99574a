"""Client behaviours the real server showed wrong, proven right on it (issue #14, part 2).

- Untagged content is the server's text, verbatim: a reply that begins and ends with whitespace
  (first seen as a reply cut at ``max_tokens`` right after a newline) keeps it on every path
  (trimming belongs only inside R1V4's ``<answer>``).
- ``tool_mode="auto"`` switches to prompted tools on llama.cpp's real refusal, the 500
  ``tools param requires --jinja flag``, and gets the tool call.
- A request given as a plain mapping works.

Every reply is forced (``real_asks``): which tokens SmolLM2 would pick differs between CPUs.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from real_asks import BERLIN_ARGS, LLAMA_ID, prompted_call, say
from real_paths import PATHS, Ask, Path
from real_server import LlamaServer

from r1v4 import AsyncR1V4Client, R1V4Client

POEM = ({"role": "user", "content": "Write a short poem about the sea."},)
# Whitespace at both edges, and inside: what a trimming client would lose.
VERSE = "  The sea is wide,\n  the sea is deep.\n\n"


@pytest.fixture(params=PATHS, ids=str)
def path(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


def _raw_text(llama: LlamaServer, key: str) -> str:
    body = {
        "model": "smollm2",
        "temperature": 0,
        "max_tokens": 64,
        "messages": list(POEM),
        **say(VERSE),
    }
    reply = httpx.post(
        f"{llama.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=300.0,  # httpx's default 5 s is too short for a busy 2-core machine
    )
    text: str = reply.json()["choices"][0]["message"]["content"]
    return text


def test_untagged_content_is_verbatim(path: Path, llama: LlamaServer, real_key: str) -> None:
    raw = _raw_text(llama, real_key)  # what the server sends, read without the client
    assert raw == VERSE and raw != raw.strip()
    answer = path.run(llama.base_url, real_key, Ask(POEM, max_tokens=64, body=say(VERSE)))
    assert answer.text == raw


def test_auto_falls_back_on_llama_cpp_refusal(
    path: Path, llama_no_jinja: LlamaServer, real_key: str
) -> None:
    """The first request carries ``tools`` (and the grammar: the refusal comes first); the
    retry without them is forced to write the prompted call."""
    answer = path.run(llama_no_jinja.base_url, real_key, prompted_call(tool_mode="auto"))
    assert [(name, args) for _, name, args in answer.tool_calls] == [("get_weather", BERLIN_ARGS)]
    assert not LLAMA_ID.fullmatch(answer.tool_calls[0][0])  # prompted: parsed from text


def test_request_as_a_plain_mapping(llama: LlamaServer, real_key: str) -> None:
    request = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 16,
        "temperature": 0,
        "extra_body": say("Hi there!"),
    }
    with R1V4Client(api_key=real_key, base_url=llama.base_url, max_retries=0) as client:
        assert client.create(request).message.content == "Hi there!"
        streamed = "".join(
            c.choices[0].delta.content or "" for c in client.stream(request) if c.choices
        )
        assert streamed == "Hi there!"

    async def go() -> str:
        async with AsyncR1V4Client(api_key=real_key, base_url=llama.base_url) as aclient:
            return (await aclient.create(request)).message.content

    assert asyncio.run(go()) == "Hi there!"
