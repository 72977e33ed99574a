"""How llama.cpp answers ``tools`` when it cannot do tool calls, and what the client makes of it.

- Started with ``--jinja`` but a chat template without tools (SmolLM2's own): ``tools`` are
  accepted and ignored -- a plain 200 with prose, no ``tool_calls``, nothing to tell a tool-less
  server from a model that chose not to call. ``tool_mode="auto"`` cannot detect this; such a
  server needs ``tool_mode="prompted"`` (or ``--chat-template-file`` with a tool template).
- Started with ``--no-jinja``: every request with ``tools`` gets
  ``500 {"error": {"code": 500, "message": "tools param requires --jinja flag",
  "type": "server_error"}}``, stream or not.
"""

from __future__ import annotations

import pytest
from real_asks import ASK_BERLIN, LLAMA_ID, WEATHER
from real_paths import PATHS, Ask, Path
from real_server import LlamaServer

from r1v4 import ServerError

JINJA_REFUSAL = "tools param requires --jinja flag"


@pytest.fixture(params=PATHS, ids=str)
def path(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["native", "auto"])
def test_template_without_tools_ignores_them(
    path: Path, llama_no_tool_template: LlamaServer, real_key: str, mode: str
) -> None:
    ask = Ask(ASK_BERLIN, (WEATHER,), max_tokens=24, tool_mode=mode)
    answer = path.run(llama_no_tool_template.base_url, real_key, ask)
    assert answer.tool_calls == []  # a 200 like any other: nothing says tools were dropped
    assert answer.usage is not None and answer.usage[0] > 0


@pytest.mark.parametrize("server", ["llama_no_tool_template", "llama_no_jinja"])
def test_prompted_tools_work_without_server_support(
    path: Path, real_key: str, request: pytest.FixtureRequest, server: str
) -> None:
    """What users of such a server set: ``tool_mode="prompted"``."""
    llama: LlamaServer = request.getfixturevalue(server)
    ask = Ask(ASK_BERLIN, (WEATHER,), max_tokens=40, tool_mode="prompted")
    answer = path.run(llama.base_url, real_key, ask)
    assert [(name, args) for _, name, args in answer.tool_calls] == [
        ("get_weather", {"city": "Berlin"})
    ]
    assert not LLAMA_ID.fullmatch(answer.tool_calls[0][0])


def test_no_jinja_refuses_native_tools(
    path: Path, llama_no_jinja: LlamaServer, real_key: str
) -> None:
    ask = Ask(ASK_BERLIN, (WEATHER,), max_tokens=24, tool_mode="native")
    with pytest.raises(ServerError) as info:
        path.run(llama_no_jinja.base_url, real_key, ask)
    assert info.value.status_code == 500
    assert info.value.message == JINJA_REFUSAL


def test_no_jinja_answers_without_tools(llama_no_jinja: LlamaServer, real_key: str) -> None:
    """The refusal is about ``tools`` alone: the same server answers a plain request."""
    for p in PATHS:
        answer = p.run(llama_no_jinja.base_url, real_key, Ask(({"role": "user", "content": "Hi"},)))
        assert answer.text.strip()


def test_tool_choice_and_json_object_are_ignored(llama: LlamaServer, real_key: str) -> None:
    """Why the standard suite's ``has_tool_choice`` and ``supports_json_mode`` are False here:
    llama.cpp accepts both and constrains nothing (only a ``json_schema`` is enforced)."""
    import httpx

    ask = {
        "model": "smollm2",
        "temperature": 0,
        "max_tokens": 24,
        "messages": [{"role": "user", "content": "What is the weather in Berlin? Use the tool."}],
    }
    headers = {"Authorization": f"Bearer {real_key}"}
    url = f"{llama.base_url}/chat/completions"
    forced = {"type": "function", "function": {"name": "get_weather"}}
    for choice in ("required", forced):
        body = {**ask, "tools": [WEATHER], "tool_choice": choice}
        message = httpx.post(url, json=body, headers=headers).json()["choices"][0]["message"]
        assert not message.get("tool_calls") and message["content"]
    body = {**ask, "response_format": {"type": "json_object"}}
    content = httpx.post(url, json=body, headers=headers).json()["choices"][0]["message"]
    assert not content["content"].lstrip().startswith("{")
