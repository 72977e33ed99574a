"""R1V4 tool calls that no observation answered (issue 22): reported, never run by "the server".

A bare inference server (vLLM, SGLang, llama.cpp serving the open weights) stops after R1V4's
first ``</tool_call>``: nobody ran that call. Written as text, or turned into a native tool call
by the server's tool parser, it is a ``TranscriptIssue("unanswered_tool_call")``: neither a
server tool call nor a call handed to the caller's agent (unless the caller bound that name).
Each test runs sync and async, ``create`` and a merged ``stream``, against the local server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from core_paths import PATH_IDS, PATHS, complete

from r1v4 import (
    ChatCompletion,
    ServerToolCall,
    ServerToolResult,
    TranscriptIssue,
)
from r1v4.testing import LocalR1V4Server, Reply, observation, tool_call

MODEL = "skywork/r1v4-lite"
MESSAGES = [{"role": "user", "content": "What is in the corner of the image?"}]
CROP = {"code": "img.crop((0,0,10,10))"}
SELF_HOSTED = "<think>I should crop the image.</think>" + tool_call("code", CROP).rstrip("\n")
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}
CODE_TOOL = {"type": "function", "function": {"name": "code", "description": "Run Python."}}


@pytest.fixture(params=PATHS, ids=PATH_IDS)
def call(request: pytest.FixtureRequest, r1v4_server: LocalR1V4Server) -> Iterator[Any]:
    def run(**fields: Any) -> ChatCompletion:
        fields.setdefault("model", MODEL)
        fields.setdefault("messages", MESSAGES)
        return complete(r1v4_server.base_url, *request.param, **fields)[0]

    yield run


def unanswered(reply: ChatCompletion) -> list[TranscriptIssue]:
    return [
        e
        for e in reply.message.events
        if isinstance(e, TranscriptIssue) and e.kind == "unanswered_tool_call"
    ]


def test_a_call_written_as_text_is_unanswered_not_server_run(
    call: Any, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content=SELF_HOSTED, finish_reason="stop"))
    reply = call()

    message = reply.message
    assert (message.content, message.reasoning) == ("", "I should crop the image.")
    assert message.tool_calls == []
    assert not [e for e in message.events if isinstance(e, ServerToolCall | ServerToolResult)]
    (issue,) = unanswered(reply)
    assert issue.text == tool_call("code", CROP).rstrip("\n")
    assert "'code'" in issue.detail and "no observation" in issue.detail
    assert reply.choices[0].finish_reason == "stop"
    assert message.transcript == SELF_HOSTED  # the call as sent is kept


def test_a_native_call_of_an_r1v4_tool_not_bound_is_unanswered(
    call: Any, r1v4_server: LocalR1V4Server
) -> None:
    # vLLM --tool-call-parser hermes: R1V4's call arrives as a native call named "code".
    for finish in ("stop", None):  # "stop" as some servers send, else the default "tool_calls"
        r1v4_server.enqueue(
            Reply(
                reasoning="I should crop the image.",
                tool_calls=[{"name": "code", "arguments": CROP}],
                finish_reason=finish,
                chunk_size=5,
            )
        )
        reply = call(tools=[WEATHER_TOOL])

        assert reply.message.tool_calls == []
        assert reply.message.invalid_tool_calls == []
        assert reply.message.reasoning == "I should crop the image."
        (issue,) = unanswered(reply)
        assert json.loads(issue.text) == {"name": "code", "arguments": CROP}
        assert "'code'" in issue.detail
        assert reply.choices[0].finish_reason == "stop"


def test_only_the_unbound_r1v4_call_is_held_back(call: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(
        Reply(
            tool_calls=[
                {"name": "text_search", "arguments": {"query": "q"}},
                {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_w"},
            ]
        )
    )
    reply = call(tools=[WEATHER_TOOL])

    (kept,) = reply.message.tool_calls
    assert (kept.id, kept.function.name) == ("call_w", "get_weather")
    assert json.loads(kept.function.arguments) == {"city": "Paris"}
    (issue,) = unanswered(reply)
    assert json.loads(issue.text) == {"name": "text_search", "arguments": {"query": "q"}}
    assert reply.choices[0].finish_reason == "tool_calls"


def test_a_native_code_call_the_caller_bound_stays_their_call(
    call: Any, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[{"name": "code", "arguments": CROP}]))
    reply = call(tools=[CODE_TOOL])

    (tc,) = reply.message.tool_calls
    assert (tc.function.name, json.loads(tc.function.arguments)) == ("code", CROP)
    assert unanswered(reply) == [] and reply.message.events == []
    assert reply.choices[0].finish_reason == "tool_calls"


def test_a_call_an_observation_answered_is_still_server_trace(
    call: Any, r1v4_server: LocalR1V4Server
) -> None:
    content = (
        SELF_HOSTED + observation({"result": "cropped", "type": "code"}) + "<answer>A cat.</answer>"
    )
    r1v4_server.enqueue(Reply(content=content, chunk_size=3))
    reply = call()

    assert reply.message.content == "A cat."
    server_call, result = reply.message.events
    assert isinstance(server_call, ServerToolCall) and server_call.arguments == CROP
    assert isinstance(result, ServerToolResult) and result.call_index == server_call.index
    assert unanswered(reply) == []
    assert reply.choices[0].finish_reason == "stop"
