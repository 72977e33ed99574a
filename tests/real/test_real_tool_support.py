"""How llama.cpp answers ``tools`` when it cannot do tool calls, and what the client makes of it.

- Started with ``--jinja`` but a chat template without tools (SmolLM2's own): ``tools`` are
  accepted and ignored -- a plain 200 with prose, no ``tool_calls``, nothing to tell a tool-less
  server from a model that chose not to call. ``tool_mode="auto"`` cannot detect this; such a
  server needs ``tool_mode="prompted"`` (or ``--chat-template-file`` with a tool template).
- Started with ``--no-jinja``: every request with ``tools`` gets
  ``500 {"error": {"code": 500, "message": "tools param requires --jinja flag",
  "type": "server_error"}}``, stream or not.

Every assertion holds for whatever SmolLM2 writes, or the reply is forced (``real_asks``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from real_asks import ASK_BERLIN, BERLIN_ARGS, END_OF_TURN, LLAMA_ID, WEATHER, prompted_call, say
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
    """The tools never reach the prompt: it has the token count of the same conversation
    without them. ``stop=["<"]`` ends the reply before any ``<tool_call>`` text the model might
    write (which the client would read as a call of a bound tool), so no call can come back."""
    ask = Ask(ASK_BERLIN, (WEATHER,), max_tokens=24, tool_mode=mode, stop=("<",))
    answer = path.run(llama_no_tool_template.base_url, real_key, ask)
    assert answer.tool_calls == []  # a 200 like any other: nothing says tools were dropped
    _, without_tools = llama_no_tool_template.rendered({"messages": list(ASK_BERLIN)})
    assert answer.usage is not None and answer.usage[0] == without_tools


@pytest.mark.parametrize("server", ["llama_no_tool_template", "llama_no_jinja"])
def test_prompted_tools_work_without_server_support(
    path: Path, real_key: str, request: pytest.FixtureRequest, server: str
) -> None:
    """What users of such a server set: ``tool_mode="prompted"``."""
    llama: LlamaServer = request.getfixturevalue(server)
    answer = path.run(llama.base_url, real_key, prompted_call())  # the call's text, forced
    assert [(name, args) for _, name, args in answer.tool_calls] == [("get_weather", BERLIN_ARGS)]
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
    ask = Ask(({"role": "user", "content": "Hi"},), body=say("Hello!"))
    for p in PATHS:
        assert p.run(llama_no_jinja.base_url, real_key, ask).text == "Hello!"


def _post(llama: LlamaServer, key: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.post(
        f"{llama.base_url}/chat/completions",
        json={"model": "smollm2", "temperature": 0, "max_tokens": 24, **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=300.0,  # a loaded 2-core machine: a reply may take minutes
    )
    assert reply.status_code == 200, reply.text
    choice: dict[str, Any] = reply.json()["choices"][0]
    return choice


def test_tool_choice_is_not_enforced(llama: LlamaServer, real_key: str) -> None:
    """Why the standard suite's ``has_tool_choice`` is False here. The end of the turn is made
    the model's first choice (``logit_bias``), so what comes back shows what the server allows:
    a named function is read as ``"auto"`` and the reply ends at once, empty, with no call;
    ``"required"`` does forbid the end of the turn before a call, but lets prose come first, so
    a capped reply may still be prose (the standard test asks for a call on "Hello!")."""
    ask = {
        "messages": [{"role": "user", "content": "What is the weather in Berlin? Use the tool."}],
        "tools": [WEATHER],
        "logit_bias": {token: 100 for token in END_OF_TURN},
    }
    named = {"type": "function", "function": {"name": "get_weather"}}
    choice = _post(llama, real_key, {**ask, "tool_choice": named})
    assert choice["message"]["content"] == "" and not choice["message"].get("tool_calls")
    assert choice["finish_reason"] == "stop"
    choice = _post(llama, real_key, {**ask, "tool_choice": "required"})
    assert choice["message"].get("tool_calls") or choice["message"]["content"]
    assert choice["finish_reason"] in {"tool_calls", "length"}


def test_json_object_is_not_enforced(llama: LlamaServer, real_key: str) -> None:
    """Why ``supports_json_mode`` is False: ``response_format={"type": "json_object"}``
    constrains nothing (an empty schema is no schema to llama.cpp), so a grammar for a
    sentence that is not JSON writes it; with a ``json_schema`` the same grammar loses to
    the schema and JSON comes back."""
    ask = {"messages": [{"role": "user", "content": "Give me JSON."}], "max_tokens": 64}
    prose = say("Sunny, not JSON.")
    choice = _post(llama, real_key, {**ask, **prose, "response_format": {"type": "json_object"}})
    assert choice["message"]["content"] == "Sunny, not JSON."
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    choice = _post(llama, real_key, {**ask, **prose, "response_format": schema})
    assert choice["message"]["content"].lstrip().startswith("{")
