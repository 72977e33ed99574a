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

Every reply is forced (``real_asks``): the assertions hold on any CPU, thread count or batch size.
"""

from __future__ import annotations

import json

import pytest
from real_asks import (
    ASK_BERLIN,
    BERLIN_ARGS,
    LLAMA_ID,
    WEATHER_BERLIN,
    native_call,
    prompted_call,
    say,
)
from real_paths import PATHS, Ask, Path
from real_server import LlamaServer

HELLO = "Hello there, friend."  # 20 characters: more than one token, fewer than 24 however split
# Leading space, newline, tab, a quote, a backslash, non-ASCII and a trailing space: text the
# client must not touch, on any path.
MIXED = ' Red, "green"\nand\tblue \\ — 三色. '
ECHO = "<tool_response>\nCloudy, 12 degrees\n</tool_response>"  # what SmolLM2 itself writes there


@pytest.fixture(params=PATHS, ids=str)
def path(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


def test_text_and_usage(path: Path, llama: LlamaServer, real_key: str) -> None:
    ask = Ask(({"role": "user", "content": "Hi"},), body=say(HELLO))
    answer = path.run(llama.base_url, real_key, ask)
    assert answer.text == HELLO
    assert answer.tool_calls == []
    assert answer.usage is not None
    prompt, completion, total = answer.usage
    assert prompt > 0 and 0 < completion <= 24 and total == prompt + completion
    if path.stream:  # llama.cpp streams a token or so per chunk
        assert answer.pieces > 1
    else:
        assert answer.pieces == 0


def test_same_text_on_every_path(llama: LlamaServer, real_key: str) -> None:
    """One server, one forced reply: every path reads the same bytes into the same answer."""
    ask = Ask(({"role": "user", "content": "Name three colours."},), max_tokens=48, body=say(MIXED))
    texts = {p.name: p.run(llama.base_url, real_key, ask).text for p in PATHS}
    assert set(texts.values()) == {MIXED}, texts


def test_native_tool_call(path: Path, llama: LlamaServer, real_key: str) -> None:
    answer = path.run(llama.base_url, real_key, native_call())
    assert [(name, args) for _, name, args in answer.tool_calls] == [("get_weather", BERLIN_ARGS)]
    (call_id, _, _) = answer.tool_calls[0]
    assert LLAMA_ID.fullmatch(call_id), f"the server's own id is kept, got {call_id!r}"
    assert answer.text == ""  # content: null (stream) / "" (non-stream) is no answer text
    assert answer.usage is not None and answer.usage[1] > 0


def test_tool_result_round_trip(path: Path, llama: LlamaServer, real_key: str) -> None:
    """The call goes back with the server's id, the result as a tool message, the tools still
    bound; the reply is text (forced, with ``tool_choice="none"``, which lets a grammar go with
    ``tools``: SmolLM2's own echo of the result), and the server rendered exactly that
    conversation, the result in its ``<tool_response>``: the prompt's token count is the one
    llama.cpp's template and tokenizer give for it."""
    first = path.run(llama.base_url, real_key, native_call())
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
    ask = Ask(history, (WEATHER_BERLIN,), max_tokens=64, tool_choice="none", body=say(ECHO))
    answer = path.run(llama.base_url, real_key, ask)
    assert answer.tool_calls == []
    assert answer.text == ECHO  # the tags are answer text, kept verbatim
    prompt, tokens = llama.rendered({"messages": list(history), "tools": [WEATHER_BERLIN]})
    assert "<tool_response>\nCloudy, 12 degrees\n</tool_response>" in prompt
    assert answer.usage is not None and answer.usage[0] == tokens


def test_prompted_tool_call(path: Path, llama: LlamaServer, real_key: str) -> None:
    """``tool_mode="prompted"``: no ``tools`` on the wire; the tools and the two earlier calls
    are written into the prompt in R1V4's ``<tool_call>`` form, the model answers in kind
    (forced: ``real_asks.PROMPTED_CALL``), and the client turns that text into a real tool call with
    an id of its own."""
    answer = path.run(llama.base_url, real_key, prompted_call())
    assert [(name, args) for _, name, args in answer.tool_calls] == [("get_weather", BERLIN_ARGS)]
    (call_id, _, _) = answer.tool_calls[0]
    assert not LLAMA_ID.fullmatch(call_id), "parsed from text: the server gave no id"
    assert "<tool_call>" not in answer.text
