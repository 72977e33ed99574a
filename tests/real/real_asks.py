"""Conversations the real-server tests share: a tool, and the two-shot history that makes a 135M
model call it."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["ASK_BERLIN", "LLAMA_ID", "TWO_SHOT", "WEATHER"]

WEATHER = {
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


# A 135M model calls the tool reliably only after two earlier turns that did (temperature 0).
TWO_SHOT = (*_shot(1, "Paris"), *_shot(2, "Rome"))
ASK_BERLIN = (*TWO_SHOT, {"role": "user", "content": "What is the weather in Berlin?"})
LLAMA_ID = re.compile(r"[A-Za-z0-9]{32}")  # llama.cpp's own random tool-call ids
