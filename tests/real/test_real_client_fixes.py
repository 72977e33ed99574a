"""Client behaviours the real server showed wrong, proven right on it (issue #14, part 2).

- Untagged content is the server's text, verbatim: a reply cut at ``max_tokens`` right after a
  newline keeps the newline on every path (trimming belongs only inside R1V4's ``<answer>``).
- ``tool_mode="auto"`` switches to prompted tools on llama.cpp's real refusal, the 500
  ``tools param requires --jinja flag``, and gets the tool call.
- A request given as a plain mapping works.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from real_asks import ASK_BERLIN, LLAMA_ID, WEATHER
from real_paths import PATHS, Ask, Path
from real_server import LlamaServer

from r1v4 import AsyncR1V4Client, R1V4Client

POEM = ({"role": "user", "content": "Write a short poem about the sea."},)
POEM_TOKENS = 12  # SmolLM2 stops this line exactly at a newline here


@pytest.fixture(params=PATHS, ids=str)
def path(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


def _raw_text(llama: LlamaServer, key: str) -> str:
    body = {"model": "smollm2", "temperature": 0, "max_tokens": POEM_TOKENS, "messages": list(POEM)}
    reply = httpx.post(
        f"{llama.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    text: str = reply.json()["choices"][0]["message"]["content"]
    return text


def test_untagged_content_is_verbatim(path: Path, llama: LlamaServer, real_key: str) -> None:
    raw = _raw_text(llama, real_key)
    assert raw != raw.strip(), f"the probe needs text with edge whitespace, got {raw!r}"
    answer = path.run(llama.base_url, real_key, Ask(POEM, max_tokens=POEM_TOKENS))
    assert answer.text == raw


def test_auto_falls_back_on_llama_cpp_refusal(
    path: Path, llama_no_jinja: LlamaServer, real_key: str
) -> None:
    ask = Ask(ASK_BERLIN, (WEATHER,), max_tokens=40, tool_mode="auto")
    answer = path.run(llama_no_jinja.base_url, real_key, ask)
    assert [(name, args) for _, name, args in answer.tool_calls] == [
        ("get_weather", {"city": "Berlin"})
    ]
    assert not LLAMA_ID.fullmatch(answer.tool_calls[0][0])  # prompted: parsed from text


def test_request_as_a_plain_mapping(llama: LlamaServer, real_key: str) -> None:
    request = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 8,
        "temperature": 0,
    }
    with R1V4Client(api_key=real_key, base_url=llama.base_url, max_retries=0) as client:
        assert client.create(request).message.content
        assert "".join(
            c.choices[0].delta.content or "" for c in client.stream(request) if c.choices
        )

    async def go() -> str:
        async with AsyncR1V4Client(api_key=real_key, base_url=llama.base_url) as aclient:
            return (await aclient.create(request)).message.content

    assert asyncio.run(go())
