"""On the real llama.cpp server, every path (core, ``ChatR1V4``, ``R1V4``; sync and async; stream
and not): text, usage, native tool calls from real streamed deltas, the tool-result round trip,
and prompted tools.

What this server sends that the local server does not (each is exercised below):
- the first streamed chunk is ``{"role": "assistant", "content": null}``, before any text;
- tool-call ids are 32 random letters and digits (no ``call_`` prefix), sent once, in the first
  piece of each call; the arguments then arrive a few characters per chunk;
- a non-stream tool-call reply has ``"content": ""`` beside ``tool_calls``;
- the finish chunk has an empty delta, then usage arrives alone with ``"choices": []``, and
  ``timings`` (llama.cpp's own) ride along on both.
"""

from __future__ import annotations

import json

import pytest
from real_asks import ASK_BERLIN, LLAMA_ID, WEATHER
from real_paths import PATHS, Ask, Path
from real_server import LlamaServer


@pytest.fixture(params=PATHS, ids=str)
def path(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


def test_text_and_usage(path: Path, llama: LlamaServer, real_key: str) -> None:
    answer = path.run(llama.base_url, real_key, Ask(({"role": "user", "content": "Hi"},)))
    assert answer.text.strip()
    assert answer.tool_calls == []
    assert answer.usage is not None
    prompt, completion, total = answer.usage
    assert prompt > 0 and 0 < completion <= 24 and total == prompt + completion
    if path.stream:  # llama.cpp streams a token or so per chunk
        assert answer.pieces > 1
    else:
        assert answer.pieces == 0


def test_same_text_on_every_path(llama: LlamaServer, real_key: str) -> None:
    """Temperature 0 on one server: every path reads the same bytes into the same answer."""
    ask = Ask(({"role": "user", "content": "Name three colours."},), max_tokens=16)
    texts = {p.name: p.run(llama.base_url, real_key, ask).text for p in PATHS}
    assert len(set(texts.values())) == 1, texts


def test_native_tool_call(path: Path, llama: LlamaServer, real_key: str) -> None:
    answer = path.run(llama.base_url, real_key, Ask(ASK_BERLIN, (WEATHER,), max_tokens=40))
    assert [(name, args) for _, name, args in answer.tool_calls] == [
        ("get_weather", {"city": "Berlin"})
    ]
    (call_id, _, _) = answer.tool_calls[0]
    assert LLAMA_ID.fullmatch(call_id), f"the server's own id is kept, got {call_id!r}"
    assert answer.text == ""  # content: null (stream) / "" (non-stream) is no answer text
    assert answer.usage is not None and answer.usage[1] > 0


def test_tool_result_round_trip(path: Path, llama: LlamaServer, real_key: str) -> None:
    """The call goes back with the server's id, the result as a tool message; the model reads
    it (SmolLM2 echoes it back) and answers in text."""
    first = path.run(llama.base_url, real_key, Ask(ASK_BERLIN, (WEATHER,), max_tokens=40))
    call_id, name, args = first.tool_calls[0]
    history = (
        *ASK_BERLIN,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "Cloudy, 12 degrees"},
    )
    answer = path.run(llama.base_url, real_key, Ask(history, (WEATHER,), max_tokens=40))
    assert answer.tool_calls == []
    assert "Cloudy" in answer.text


def test_prompted_tool_call(path: Path, llama: LlamaServer, real_key: str) -> None:
    """``tool_mode="prompted"``: no ``tools`` on the wire; the tools and the two earlier calls
    are written into the prompt in R1V4's ``<tool_call>`` form, the model answers in kind,
    and the client turns that text into a real tool call with an id of its own."""
    ask = Ask(ASK_BERLIN, (WEATHER,), max_tokens=40, tool_mode="prompted")
    answer = path.run(llama.base_url, real_key, ask)
    assert [(name, args) for _, name, args in answer.tool_calls] == [
        ("get_weather", {"city": "Berlin"})
    ]
    (call_id, _, _) = answer.tool_calls[0]
    assert not LLAMA_ID.fullmatch(call_id), "parsed from text: the server gave no id"
    assert "<tool_call>" not in answer.text
