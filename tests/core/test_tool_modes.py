"""Tool modes end to end: the core clients over loopback HTTP against the local R1V4 server.

Every scenario runs four ways (sync/async x create/stream, streams aggregated), and asserts
what the server received, request by request.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from r1v4 import (
    AsyncR1V4Client,
    BadRequestError,
    ChatCompletion,
    ClientSettings,
    R1V4Client,
    ServerToolCall,
    ServerToolResult,
    TranscriptIssue,
    accumulate,
    build_request,
)
from r1v4._request import coerce, effective_tool_mode, prepare
from r1v4.testing import (
    TOOL_CHOICE_ERROR,
    LocalR1V4Server,
    Reply,
    answer,
    make_image_data_uri,
    observation,
    think,
    tool_call,
)

KEY = "test-key"
MODEL = "skywork/r1v4-lite"
DATA = Path(__file__).parent / "data"
EXPECTED = (DATA / "prompted_tools_expected.txt").read_text(encoding="utf-8")
_INPUT = json.loads((DATA / "prompted_tools_request.json").read_text(encoding="utf-8"))
TOOLS: list[dict[str, Any]] = _INPUT["tools"]
CODE_TOOL = {"type": "function", "function": {"name": "code", "description": "Run Python."}}
TOOL_FIELDS = {"tools", "tool_choice", "parallel_tool_calls"}
SWITCH_LOG = "switching this client to tool_mode='prompted'"


def conversation() -> list[dict[str, Any]]:
    """The conversation of the expected text, with a real image (the server decodes it)."""
    messages: list[dict[str, Any]] = copy.deepcopy(_INPUT["messages"])
    messages[1]["content"][0]["image_url"]["url"] = make_image_data_uri()
    return messages


def chatml(messages: list[dict[str, Any]]) -> str:
    """What the Qwen3-VL template renders for wire messages sent without tools."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(
                p["text"] if p["type"] == "text" else "<|vision_start|><|image_pad|><|vision_end|>"
                for p in content
            )
        out.append(f"<|im_start|>{m['role']}\n{content or ''}<|im_end|>\n")
    return "".join(out) + "<|im_start|>assistant\n"


def assert_prompted(body: dict[str, Any]) -> None:
    """A body as a server without tool support must get it: no tool field, role or call."""
    assert not TOOL_FIELDS & body.keys()
    for m in body["messages"]:
        assert m["role"] in ("system", "user", "assistant")
        assert not {"tool_calls", "tool_call_id"} & m.keys()


# --------------------------------------------------------------------------- four ways

Call = Callable[..., ChatCompletion]


class Way:
    """One of sync/async x create/stream; ``client()`` makes a client, ``call()`` uses it."""

    def __init__(self, is_async: bool, stream: bool) -> None:
        self.is_async = is_async
        self.stream = stream
        self._clients: list[R1V4Client] = []

    def __repr__(self) -> str:
        return f"{'async' if self.is_async else 'sync'}-{'stream' if self.stream else 'create'}"

    def client(self, base_url: str, **settings: Any) -> R1V4Client | AsyncR1V4Client:
        settings.setdefault("api_key", KEY)
        settings.setdefault("backoff", 0.01)
        if self.is_async:
            return AsyncR1V4Client(base_url=base_url, **settings)
        client = R1V4Client(base_url=base_url, **settings)
        self._clients.append(client)
        return client

    def call(self, client: R1V4Client | AsyncR1V4Client, **fields: Any) -> ChatCompletion:
        fields.setdefault("model", MODEL)
        if isinstance(client, AsyncR1V4Client):
            aclient = client

            async def run() -> ChatCompletion:
                if self.stream:
                    return accumulate([c async for c in aclient.stream(**fields)])
                return await aclient.create(**fields)

            # A fresh loop per call: the client must serve successive asyncio.run() calls.
            return asyncio.run(run())
        if self.stream:
            return accumulate(client.stream(**fields))
        return client.create(**fields)

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(
    params=[(False, False), (False, True), (True, False), (True, True)],
    ids=["sync-create", "sync-stream", "async-create", "async-stream"],
)
def way(request: pytest.FixtureRequest) -> Iterator[Way]:
    w = Way(*request.param)
    yield w
    w.close()


@pytest.fixture
def switch_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.INFO, logger="r1v4")

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "r1v4" and SWITCH_LOG in r.getMessage()]

    return records


# ------------------------------------------------------------------------------- native


def test_native_mode_sends_tools_and_the_tool_role(way: Way, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(tool_calls=[{"name": "add", "arguments": {"a": 1, "b": 2}}]))
    client = way.client(r1v4_server.base_url, tool_mode="native")
    reply = way.call(client, messages=conversation(), tools=TOOLS, tool_choice="auto")

    (seen,) = r1v4_server.requests
    assert seen.body["tools"] == TOOLS
    assert seen.body["tool_choice"] == "auto"
    roles = ["system", "user", "assistant", "tool", "tool", "assistant", "tool"]
    assert [m["role"] for m in seen.body["messages"]] == roles
    assert seen.body["messages"][0]["content"] == "You are a weather bot."
    assert [c["id"] for c in seen.body["messages"][2]["tool_calls"]] == ["call_a", "call_b"]
    assert [m.get("tool_call_id") for m in seen.body["messages"][3:5]] == ["call_a", "call_b"]
    (call,) = reply.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("add", {"a": 1, "b": 2})


# ----------------------------------------------------------------------------- prompted


@pytest.mark.parametrize("where", ["client", "request"])
def test_prompted_mode_sends_the_template_text_and_no_tools(
    way: Way, r1v4_server: LocalR1V4Server, where: str
) -> None:
    r1v4_server.enqueue(Reply(content="It is sunny in Paris, rainy in Lyon, and 2+3=5."))
    on_client = {"tool_mode": "prompted"} if where == "client" else {}
    on_request = {"tool_mode": "prompted"} if where == "request" else {}
    client = way.client(r1v4_server.base_url, **on_client)
    reply = way.call(client, messages=conversation(), tools=TOOLS, **on_request)

    (seen,) = r1v4_server.requests
    assert seen.status == 200
    assert_prompted(seen.body)
    # Exactly the text the chat template would have made of the native request.
    assert chatml(seen.body["messages"]) == EXPECTED
    assert seen.body["messages"][3]["content"] == (
        "<tool_response>\nSunny, 21 C\n</tool_response>\n<tool_response>\n5\n</tool_response>"
    )
    assert [i.describe() for i in seen.images] == ["PNG 4x3"]  # the image kept its place
    assert reply.message.content == "It is sunny in Paris, rainy in Lyon, and 2+3=5."
    assert reply.message.tool_calls == []


def test_prompted_required_choice_reaches_the_server_as_an_instruction(
    way: Way, r1v4_server: LocalR1V4Server
) -> None:
    client = way.client(r1v4_server.base_url, tool_mode="prompted")
    way.call(
        client,
        messages=[{"role": "user", "content": "add 1 and 2"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "add"}},
        parallel_tool_calls=False,
    )
    (seen,) = r1v4_server.requests
    assert_prompted(seen.body)
    system = seen.body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("# Tools\n\nYou may call one or more functions")
    assert system["content"].endswith(
        "</tool_call>\n\nYou must call the function add.\nCall at most one function in this reply."
    )


# --------------------------------------------------------------------------------- auto


def test_auto_falls_back_once_resends_prompted_and_stays_prompted(
    way: Way,
    no_native_tools_server: LocalR1V4Server,
    switch_logs: Callable[[], list[logging.LogRecord]],
) -> None:
    server = no_native_tools_server
    server.enqueue(
        Reply(content='<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'),
        Reply(content="1 + 2 = 3."),
    )
    client = way.client(server.base_url)  # tool_mode="auto", a non-hosted URL: native first
    messages = conversation()
    first = way.call(client, messages=messages, tools=TOOLS, temperature=0.3)

    refused, resent = server.requests
    assert (refused.status, resent.status) == (400, 200)
    assert refused.body["tools"] == TOOLS
    assert [m["role"] for m in refused.body["messages"]].count("tool") == 3
    assert_prompted(resent.body)
    assert chatml(resent.body["messages"]) == EXPECTED
    # The same request otherwise: only the tool fields and the messages differ.
    rest = {k: v for k, v in refused.body.items() if k not in TOOL_FIELDS | {"messages"}}
    assert {k: v for k, v in resent.body.items() if k != "messages"} == rest
    assert rest["temperature"] == 0.3
    # The call the model wrote as text is the caller's tool call.
    (call,) = first.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("add", {"a": 1, "b": 2})
    assert first.message.content == ""

    # The next step of the loop goes out prompted at once, its history as text.
    echoed = {"name": "add", "arguments": call.function.arguments}
    messages += [
        {"role": "assistant", "tool_calls": [{"id": call.id, "function": echoed}]},
        {"role": "tool", "tool_call_id": call.id, "content": "3"},
    ]
    second = way.call(client, messages=messages, tools=TOOLS)
    assert second.message.content == "1 + 2 = 3."
    assert len(server.requests) == 3
    follow_up = server.requests[2]
    assert follow_up.status == 200
    assert_prompted(follow_up.body)
    assert [(m["role"], m["content"]) for m in follow_up.body["messages"][-2:]] == [
        (
            "assistant",
            f'<tool_call>\n{{"name": "add", "arguments": {call.function.arguments}}}\n</tool_call>',
        ),
        ("user", "<tool_response>\n3\n</tool_response>"),
    ]
    assert len(switch_logs()) == 1
    assert TOOL_CHOICE_ERROR in switch_logs()[0].getMessage()


def test_auto_requests_in_flight_during_the_switch_are_all_resent(
    no_native_tools_server: LocalR1V4Server, switch_logs: Callable[[], list[logging.LogRecord]]
) -> None:
    server = no_native_tools_server
    client = AsyncR1V4Client(api_key=KEY, base_url=server.base_url)
    messages = [{"role": "user", "content": "hi"}]

    async def three_at_once() -> list[ChatCompletion]:
        calls = [client.create(model=MODEL, messages=messages, tools=TOOLS) for _ in range(3)]
        return list(await asyncio.gather(*calls))

    replies = asyncio.run(three_at_once())
    assert [r.message.content for r in replies] == ["I saw 0 image(s). You said: hi"] * 3
    seen = [(r.status, "tools" in r.body) for r in server.requests]
    assert sorted(seen) == [(200, False)] * 3 + [(400, True)] * 3
    assert len(switch_logs()) == 1


def test_auto_resends_once_only(way: Way, no_native_tools_server: LocalR1V4Server) -> None:
    server = no_native_tools_server
    server.enqueue(Reply(status=400))  # the prompted resend is refused too
    client = way.client(server.base_url)
    with pytest.raises(BadRequestError):
        way.call(client, messages=[{"role": "user", "content": "hi"}], tools=TOOLS)
    assert [(r.status, "tools" in r.body) for r in server.requests] == [(400, True), (400, False)]


@pytest.mark.parametrize("where", ["client", "request"])
def test_native_mode_never_falls_back(
    way: Way,
    no_native_tools_server: LocalR1V4Server,
    switch_logs: Callable[[], list[logging.LogRecord]],
    where: str,
) -> None:
    server = no_native_tools_server
    client = way.client(server.base_url, **({"tool_mode": "native"} if where == "client" else {}))
    extra = {"tool_mode": "native"} if where == "request" else {}
    with pytest.raises(BadRequestError, match="tool-call-parser"):
        way.call(client, messages=[{"role": "user", "content": "hi"}], tools=TOOLS, **extra)
    assert [r.status for r in server.requests] == [400]
    assert switch_logs() == []


def test_a_400_to_a_request_without_tools_is_raised_and_changes_nothing(
    way: Way, r1v4_server: LocalR1V4Server, switch_logs: Callable[[], list[logging.LogRecord]]
) -> None:
    r1v4_server.enqueue(Reply(status=400), Reply(content="ok"))
    client = way.client(r1v4_server.base_url)
    with pytest.raises(BadRequestError):
        way.call(client, messages=[{"role": "user", "content": "hi"}])
    assert len(r1v4_server.requests) == 1
    # The client is still native: the next request with tools carries them.
    way.call(client, messages=[{"role": "user", "content": "hi"}], tools=TOOLS)
    assert [r.body.get("tools") for r in r1v4_server.requests] == [None, TOOLS]
    assert switch_logs() == []


def test_auto_is_prompted_from_the_start_on_the_hosted_api() -> None:
    hosted = ClientSettings(base_url="https://api.skyworkmodel.ai/api/v1")
    request = build_request(model=MODEL, messages=conversation(), tools=TOOLS)
    assert hosted.hosted
    assert effective_tool_mode(hosted, request) == "prompted"
    body = json.loads(prepare(hosted, request).body)
    assert_prompted(body)
    assert chatml(body["messages"]) == EXPECTED
    # An explicit mode wins, on the client or on the request.
    native = ClientSettings(base_url="https://api.skyworkmodel.ai/api/v1", tool_mode="native")
    assert effective_tool_mode(native, request) == "native"
    per_request = request.model_copy(update={"tool_mode": "native"})
    assert effective_tool_mode(hosted, per_request) == "native"
    assert "tools" in json.loads(prepare(hosted, per_request).body)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8000/v1",
        "http://127.0.0.1:8000/api/v1",
        "https://api.skyworkmodel.ai.example/api/v1",
    ],
)
def test_auto_is_native_first_anywhere_else(base_url: str) -> None:
    # Hosted is the host name, not the path: a local server on /api/v1 may well have tools.
    settings = ClientSettings(base_url=base_url)
    request = build_request(model=MODEL, messages=[{"role": "user", "content": "hi"}], tools=TOOLS)
    assert not settings.hosted
    assert effective_tool_mode(settings, request) == "native"
    assert json.loads(prepare(settings, request).body)["tools"] == TOOLS


# ------------------------------------------------------------- calls written as text


@pytest.mark.parametrize("mode", ["native", "prompted"])
def test_text_calls_for_bound_tools_are_tool_calls(
    way: Way, r1v4_server: LocalR1V4Server, mode: str
) -> None:
    r1v4_server.enqueue(
        Reply(
            content="Let me look both up.\n"
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>',
            chunk_size=5,
        )
    )
    client = way.client(r1v4_server.base_url, tool_mode=mode)
    reply = way.call(client, messages=[{"role": "user", "content": "go"}], tools=TOOLS)

    message = reply.message
    assert message.content == "Let me look both up."
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("add", {"a": 2, "b": 3}),
    ]
    ids = [c.id for c in message.tool_calls]
    assert all(i.startswith("call_") for i in ids) and len(set(ids)) == 2
    assert reply.choices[0].finish_reason == "tool_calls"
    assert (message.events, message.invalid_tool_calls) == ([], [])


def test_an_id_written_in_the_call_is_kept(way: Way, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(
        Reply(content='<tool_call>{"id": "call_7", "name": "add", "arguments": {}}</tool_call>')
    )
    client = way.client(r1v4_server.base_url, tool_mode="prompted")
    reply = way.call(client, messages=[{"role": "user", "content": "go"}], tools=TOOLS)
    assert [(c.id, c.function.name) for c in reply.message.tool_calls] == [("call_7", "add")]


def test_code_followed_by_an_observation_is_server_trace_even_when_bound(
    way: Way, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(
        Reply(
            content=think("Crop the image.")
            + tool_call("code", {"code": "print(1)"})
            + observation({"result": "1", "type": "code"})
            + answer("It is one.")
        )
    )
    client = way.client(r1v4_server.base_url, tool_mode="prompted")
    reply = way.call(client, messages=[{"role": "user", "content": "go"}], tools=[CODE_TOOL])

    message = reply.message
    assert message.tool_calls == []
    assert message.content == "It is one."
    assert message.reasoning == "Crop the image."
    server_call, result = message.events
    assert isinstance(server_call, ServerToolCall)
    assert (server_call.name, server_call.arguments) == ("code", {"code": "print(1)"})
    assert isinstance(result, ServerToolResult) and result.name == "code"
    assert reply.choices[0].finish_reason == "stop"


def test_code_without_an_observation_is_a_client_call_when_bound(
    way: Way, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content=tool_call("code", {"code": "print(1)"})))
    client = way.client(r1v4_server.base_url, tool_mode="prompted")
    reply = way.call(client, messages=[{"role": "user", "content": "go"}], tools=[CODE_TOOL])

    (call,) = reply.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "code",
        {"code": "print(1)"},
    )
    assert (reply.message.content, reply.message.events) == ("", [])


def test_a_call_of_an_unbound_name_is_no_client_call(
    way: Way, r1v4_server: LocalR1V4Server
) -> None:
    # Not the caller's tool, and no observation answered it: nobody ran it (issue 22).
    r1v4_server.enqueue(Reply(content=tool_call("code", {"code": "print(1)"}) + "Done."))
    client = way.client(r1v4_server.base_url, tool_mode="prompted")
    reply = way.call(client, messages=[{"role": "user", "content": "go"}], tools=TOOLS)

    assert reply.message.tool_calls == []
    assert reply.message.content == "Done."
    (event,) = reply.message.events
    assert isinstance(event, TranscriptIssue) and event.kind == "unanswered_tool_call"
    assert "'code'" in event.detail and '"print(1)"' in event.text


def test_invalid_json_for_a_bound_name_is_an_invalid_tool_call(
    way: Way, r1v4_server: LocalR1V4Server
) -> None:
    bad = '<tool_call>\n{"name": "add", "arguments": {"a": 2,}}\n</tool_call>'
    r1v4_server.enqueue(Reply(content="Adding.\n" + bad))
    client = way.client(r1v4_server.base_url, tool_mode="prompted")
    reply = way.call(client, messages=[{"role": "user", "content": "go"}], tools=TOOLS)

    message = reply.message
    assert message.tool_calls == []
    assert message.content == "Adding."
    (invalid,) = message.invalid_tool_calls
    assert invalid.name == "add"
    assert '"arguments": {"a": 2,}' in invalid.arguments
    assert "JSON" in invalid.error
    assert invalid.id.startswith("call_")


def test_a_400_that_is_not_about_tools_does_not_switch_to_prompted(
    r1v4_server: LocalR1V4Server,
) -> None:
    from r1v4 import BadRequestError, R1V4Client
    from r1v4.testing import Reply as _Reply

    body = {
        "error": {
            "message": "This model's maximum context length is 8192 tokens",
            "type": "BadRequestError",
            "code": 400,
        }
    }
    r1v4_server.enqueue(_Reply(status=400, body=body))
    tools = [
        {
            "type": "function",
            "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    with R1V4Client(api_key="test-key", base_url=r1v4_server.base_url) as c:
        with pytest.raises(BadRequestError, match="context length"):
            c.create(
                model="skywork/r1v4-lite", messages=[{"role": "user", "content": "hi"}], tools=tools
            )
        assert (
            effective_tool_mode(
                c.settings,
                coerce(None, {"model": "m", "messages": [{"role": "user", "content": "x"}]}),
            )
            == "native"
        )
    assert len(r1v4_server.requests) == 1
