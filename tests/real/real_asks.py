"""Conversations the real-server tests share, and the request fields that force what a 135M model
writes, so no test depends on which tokens it picks.

Greedy decoding is not the same everywhere: llama.cpp's kernels sum in a different order on
another CPU, thread count or batch size, and where two tokens are close the other one wins. So a
test never waits for the model to write something; it forces it with what llama.cpp offers:

- ``grammar`` (GBNF, :func:`say`): the reply is exactly the given text (a grammar with one
  string leaves only that text and then the end of the turn). llama.cpp refuses a grammar on a
  request that carries ``tools`` (400 ``Cannot use custom grammar constraints with tools.``)
  unless ``tool_choice`` is ``"none"``.
- A native tool call (:func:`native_call`): ``tool_choice="required"`` makes llama.cpp run the
  reply through its tool-call grammar, but that grammar lets prose come first. A trailing
  assistant message ``<tool_call>\\n`` is continued by the server (prefill) and fed to that
  grammar, so the reply is inside the call from its first token; the tool's schema admits only
  ``"Berlin"`` (:data:`WEATHER_BERLIN`), and ``logit_bias`` on the end-of-turn tokens ends the
  reply right after ``</tool_call>`` instead of letting a second, identical call follow.
- A prompted tool call (:func:`prompted_call`): the call's text by a grammar (the client sends
  no ``tools`` then).
- ``stop`` and ``logit_bias`` where a request carries tools and no grammar may (see the tests).
"""

from __future__ import annotations

import json
import re
from typing import Any

from real_paths import Ask

__all__ = [
    "ASK_BERLIN",
    "BERLIN_ARGS",
    "END_OF_TURN",
    "LLAMA_ID",
    "PREFILL_CALL",
    "PROMPTED_CALL",
    "TWO_SHOT",
    "WEATHER",
    "WEATHER_BERLIN",
    "grammar",
    "native_call",
    "prompted_call",
    "say",
]

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

# The same tool whose schema admits one city: llama.cpp's tool-call grammar then writes it.
WEATHER_BERLIN: dict[str, Any] = {
    "type": "function",
    "function": {
        **WEATHER["function"],
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Berlin"]}},
            "required": ["city"],
        },
    },
}
BERLIN_ARGS = {"city": "Berlin"}


def _shot(n: int, city: str) -> tuple[dict[str, Any], ...]:
    call = {
        "id": f"call_{n}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
    }
    return (
        {"role": "user", "content": f"What is the weather in {city}?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
    )


# Two earlier turns that called the tool: the conversation a tool call belongs in. What the reply
# is, the tests force; the history is kept so the prompt is the one a real agent would send.
TWO_SHOT = (*_shot(1, "Paris"), *_shot(2, "Rome"))
ASK_BERLIN = (*TWO_SHOT, {"role": "user", "content": "What is the weather in Berlin?"})
LLAMA_ID = re.compile(r"[A-Za-z0-9]{32}")  # llama.cpp's own random tool-call ids

# SmolLM2's end-of-turn tokens, <|endoftext|> and <|im_end|> (its vocabulary is pinned with the
# model's sha256 in manifest.json).
END_OF_TURN = ("0", "2")

# The call text of prompted tools (R1V4's own form, see r1v4/_tool_prompt.py), as a model writes
# it: forced with a grammar, which a request without ``tools`` may carry.
PROMPTED_CALL = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Berlin"}}\n</tool_call>'
)


def grammar(text: str) -> str:
    """A GBNF grammar whose only sentence is ``text``."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'root ::= "{escaped}"'


def say(text: str) -> dict[str, Any]:
    """Request fields that make the reply exactly ``text``, whatever the model would pick."""
    return {"grammar": grammar(text)}


# The assistant turn llama.cpp continues (prefill) and, with tool_choice="required", feeds to its
# tool-call grammar: the reply can only be the rest of the call.
PREFILL_CALL = {"role": "assistant", "content": "<tool_call>\n"}
# End-of-turn as soon as the grammar allows it: right after </tool_call>.
END_TURN_SOON = {"logit_bias": {token: 100 for token in END_OF_TURN}}


def native_call(messages: tuple[dict[str, Any], ...] = ASK_BERLIN) -> Ask:
    """A request whose reply is the native call ``get_weather(city="Berlin")`` on any machine
    (server started with ``--jinja`` and a template with tools)."""
    return Ask(
        (*messages, PREFILL_CALL),
        (WEATHER_BERLIN,),
        max_tokens=128,
        tool_choice="required",
        body=END_TURN_SOON,
    )


def prompted_call(tool_mode: str = "prompted") -> Ask:
    """A request whose reply is the prompted call ``get_weather(city="Berlin")``: the grammar
    goes with the request the client sends without ``tools``."""
    return Ask(ASK_BERLIN, (WEATHER,), max_tokens=128, tool_mode=tool_mode, body=say(PROMPTED_CALL))
