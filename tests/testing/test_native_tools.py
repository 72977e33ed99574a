"""The local R1V4 server: native tools and the vLLM-style 400 without them."""

from __future__ import annotations

import httpx

from r1v4.testing import TOOL_CHOICE_ERROR, LocalR1V4Server
from testing.support import AUTH, MODEL, chat_body, url

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
TOOL_HISTORY = [
    {"role": "user", "content": "call f"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "42"},
]


def test_native_tools_accept_tools_and_the_tool_role(r1v4_server: LocalR1V4Server) -> None:
    body = {"model": MODEL, "messages": TOOL_HISTORY, "tools": TOOLS, "tool_choice": "auto"}
    response = httpx.post(url(r1v4_server, "openai"), json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].endswith("You said: call f")


def test_tool_message_needs_an_id(r1v4_server: LocalR1V4Server) -> None:
    messages = [*TOOL_HISTORY[:2], {"role": "tool", "content": "42"}]
    response = httpx.post(
        url(r1v4_server), json={"model": MODEL, "messages": messages}, headers=AUTH
    )
    assert response.status_code == 400
    assert "tool_call_id" in response.json()["code_msg"]


def test_without_native_tools_tools_get_vllms_400(no_native_tools_server: LocalR1V4Server) -> None:
    for api in ("hosted", "openai"):
        response = httpx.post(
            url(no_native_tools_server, api), json=chat_body(tools=TOOLS), headers=AUTH
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert TOOL_CHOICE_ERROR in error["message"]
        assert (
            '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            in error["message"]
        )
    # The tool role is refused too, and plain chat still works.
    body = {"model": MODEL, "messages": TOOL_HISTORY}
    refused = httpx.post(url(no_native_tools_server), json=body, headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["code"] == 400303
    assert "'tool'" in refused.json()["code_msg"]
    assert (
        httpx.post(url(no_native_tools_server), json=chat_body(), headers=AUTH).status_code == 200
    )
