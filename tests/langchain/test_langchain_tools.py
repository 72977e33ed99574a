"""Client tools and structured output: what goes on the wire, and what comes back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from r1v4 import InvalidRequestError
from r1v4.testing import LocalR1V4Server, Reply, observation


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Person(BaseModel):
    """A person."""

    name: str = Field(description="full name")
    age: int


class Point(TypedDict):
    """A point."""

    x: int
    y: int


RAW_SCHEMA = {
    "title": "Colour",
    "description": "A colour.",
    "type": "object",
    "properties": {"hex": {"type": "string"}},
    "required": ["hex"],
}
OPENAI_DICT = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look up a word.",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
    },
}


def aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    return full


def test_every_tool_form_is_sent(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm(tool_mode="native").bind_tools(
        [get_weather, add, Person, Point, RAW_SCHEMA, OPENAI_DICT], parallel_tool_calls=False
    )
    llm.invoke("hi")
    body = r1v4_server.requests[-1].body
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["get_weather", "add", "Person", "Point", "Colour", "lookup"]
    assert body["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
    assert body["tools"][2]["function"]["parameters"]["required"] == ["name", "age"]
    assert body["parallel_tool_calls"] is False
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "add"}},
            {"type": "function", "function": {"name": "add"}},
        ),
        (False, None),
        (None, None),
    ],
)
def test_tool_choice(make_llm: Any, r1v4_server: LocalR1V4Server, choice: Any, sent: Any) -> None:
    make_llm(tool_mode="native").bind_tools([get_weather, add], tool_choice=choice).invoke("hi")
    assert r1v4_server.requests[-1].body.get("tool_choice") == sent


def test_unknown_tool_choice_is_refused(make_llm: Any) -> None:
    with pytest.raises(ValueError, match="not_bound"):
        make_llm().bind_tools([get_weather], tool_choice="not_bound")


CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_a"},
    {"name": "add", "arguments": {"a": 1, "b": 2}, "id": "call_b"},
]


def check_calls(message: AIMessage) -> None:
    assert [(c["name"], c["args"], c["id"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "call_a"),
        ("add", {"a": 1, "b": 2}, "call_b"),
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_native_tool_calls_invoke_and_stream(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm(tool_mode="native").bind_tools([get_weather, add])
    r1v4_server.enqueue(Reply(tool_calls=CALLS, chunk_size=3, repeat=2))
    check_calls(llm.invoke("hi"))
    chunks = list(llm.stream("hi"))
    # Arguments really arrived in pieces and were joined by index.
    assert sum(1 for c in chunks if c.tool_call_chunks) > 4
    check_calls(aggregate(chunks))


async def test_native_tool_calls_async(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    llm = make_llm(tool_mode="native").bind_tools([get_weather, add])
    r1v4_server.enqueue(Reply(tool_calls=CALLS, chunk_size=4, repeat=2))
    check_calls(await llm.ainvoke("hi"))
    check_calls(aggregate([c async for c in llm.astream("hi")]))


def test_malformed_native_arguments_are_invalid_tool_calls(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    bad = [{"name": "get_weather", "arguments": '{"city": "Par', "id": "call_x"}]
    r1v4_server.enqueue(Reply(tool_calls=bad))
    message = make_llm(tool_mode="native").bind_tools([get_weather]).invoke("hi")
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["name"] == "get_weather"
    assert message.invalid_tool_calls[0]["args"] == '{"city": "Par'
    assert message.invalid_tool_calls[0]["id"] == "call_x"


TEXT_CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'


@pytest.mark.parametrize("chunk_size", [1, 6, 1000])
def test_calls_written_in_the_answer(
    make_llm: Any, r1v4_server: LocalR1V4Server, chunk_size: int
) -> None:
    """R1V4 writes calls as Hermes text; for a bound tool they are tool calls, not answer text."""
    llm = make_llm(tool_mode="native").bind_tools([get_weather])
    content = "<think>I need the weather.</think>" + TEXT_CALL
    r1v4_server.enqueue(Reply(content=content, chunk_size=chunk_size, repeat=2))
    message = llm.invoke("weather in Oslo?")
    full = aggregate(list(llm.stream("weather in Oslo?")))
    for msg in (message, full):
        assert msg.content == ""
        assert [(c["name"], c["args"]) for c in msg.tool_calls] == [
            ("get_weather", {"city": "Oslo"})
        ]
        assert msg.tool_calls[0]["id"]
        assert msg.response_metadata["finish_reason"] == "tool_calls"
        assert msg.additional_kwargs["reasoning_content"] == "I need the weather."
        assert "server_tool_calls" not in msg.additional_kwargs


def test_a_call_followed_by_an_observation_stays_server_trace(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    # The caller bound a tool named "code", yet this call was run by the server: trace only.
    @tool
    def code(code: str) -> str:
        """Run code."""
        return ""

    content = (
        '<tool_call>{"name": "code", "arguments": {"code": "1+1"}}</tool_call>'
        + observation({"result": "2", "type": "code"})
        + "<answer>2</answer>"
    )
    r1v4_server.enqueue(Reply(content=content))
    message = make_llm(tool_mode="native").bind_tools([code]).invoke("1+1?")
    assert message.content == "2"
    assert message.tool_calls == []
    assert message.additional_kwargs["server_tool_calls"][0]["args"] == {"code": "1+1"}


def test_malformed_written_call_is_invalid_never_an_exception(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    content = '<tool_call>{"name": "get_weather", "arguments": {"city": Oslo}}</tool_call>'
    r1v4_server.enqueue(Reply(content=content, chunk_size=5, repeat=2))
    llm = make_llm(tool_mode="native").bind_tools([get_weather])
    message = llm.invoke("hi")
    full = aggregate(list(llm.stream("hi")))
    for msg in (message, full):
        assert msg.tool_calls == []
        assert msg.content == ""
        [bad] = msg.invalid_tool_calls
        assert bad["name"] == "get_weather"
        assert "Oslo" in (bad["args"] or "")
    assert message.invalid_tool_calls[0]["error"]
    # Streamed, the arguments travel as a JSON string (LangChain's merge would "repair" raw
    # text); they decode to exactly what invoke gives.
    [whole], [streamed] = message.invalid_tool_calls, full.invalid_tool_calls
    assert json.loads(streamed["args"] or "") == whole["args"]
    assert (streamed["id"] or "").startswith("call_") and (whole["id"] or "").startswith("call_")
    # Either way, a later turn sends the call back as the model wrote it.
    sent = []
    for msg in (message, full):
        r1v4_server.enqueue(Reply(content="ok"))
        call_id = msg.invalid_tool_calls[0]["id"] or ""
        llm.invoke([HumanMessage("hi"), msg, ToolMessage("bad call", tool_call_id=call_id)])
        sent.append(r1v4_server.last_request.messages[1]["tool_calls"])
    assert [c["function"] for c in sent[0]] == [c["function"] for c in sent[1]]
    assert sent[0][0]["function"]["arguments"] == whole["args"]


def test_tool_history_goes_out_natively(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    history = [
        HumanMessage("weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage("sunny", tool_call_id="c1"),
    ]
    make_llm(tool_mode="native").bind_tools([get_weather]).invoke(history)
    sent = r1v4_server.requests[-1].messages
    # No text beside the calls: the core leaves ``content`` out, as OpenAI clients do.
    assert sent[1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "c1", "content": "sunny"}


def test_tool_content_lists_are_sent_as_text_and_json(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    result: list[Any] = [{"type": "text", "text": "found: "}, {"city": "Paris", "temp": 21}]
    history = [
        SystemMessage(content=[{"type": "text", "text": "Be brief."}]),
        HumanMessage("weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage(content=result, tool_call_id="c1"),
    ]
    make_llm(tool_mode="native").bind_tools([get_weather]).invoke(history)
    sent = r1v4_server.requests[-1].messages
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[3] == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": 'found: {"city": "Paris", "temp": 21}',
    }
    # Only a tool's result may be a plain dict; in a system message it is refused.
    with pytest.raises(InvalidRequestError, match=r"message 0, block 0: a SystemMessage"):
        make_llm().invoke([SystemMessage(content=[{"city": "Paris"}]), HumanMessage("hi")])


def test_prompted_mode_sends_no_tool_fields(
    make_llm: Any, no_native_tools_server: LocalR1V4Server
) -> None:
    history = [
        HumanMessage("weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage("sunny", tool_call_id="c1"),
    ]
    llm = make_llm(base_url=no_native_tools_server.base_url, tool_mode="prompted")
    no_native_tools_server.enqueue(Reply(content="It is sunny."))
    message = llm.bind_tools([get_weather], tool_choice="auto").invoke(history)
    assert message.content == "It is sunny."
    body = no_native_tools_server.requests[-1].body
    assert "tools" not in body and "tool_choice" not in body
    roles = [m["role"] for m in body["messages"]]
    assert "tool" not in roles
    assert "get_weather" in body["messages"][0]["content"]  # rendered into the system prompt
    assert "<tool_response>" in json.dumps(body["messages"])


# ------------------------------------------------------------------ structured output


def test_structured_output_function_calling(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    call = {"name": "Person", "arguments": {"name": "Ada Lovelace", "age": 36}}
    r1v4_server.enqueue(Reply(tool_calls=[call]))
    result = make_llm(tool_mode="native").with_structured_output(Person).invoke("who?")
    assert result == Person(name="Ada Lovelace", age=36)
    body = r1v4_server.requests[-1].body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Person"}}
    assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize("schema", [Point, RAW_SCHEMA])
async def test_structured_output_dict_schemas_async(
    make_llm: Any, r1v4_server: LocalR1V4Server, schema: Any
) -> None:
    name = "Point" if schema is Point else "Colour"
    args = {"x": 1, "y": 2} if schema is Point else {"hex": "#ff0000"}
    r1v4_server.enqueue(Reply(tool_calls=[{"name": name, "arguments": args}]))
    result = await make_llm(tool_mode="native").with_structured_output(schema).ainvoke("go")
    assert result == args


def test_structured_output_include_raw(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(
        Reply(tool_calls=[{"name": "Person", "arguments": {"name": "X"}}], reasoning="hm")
    )
    out = make_llm(tool_mode="native").with_structured_output(Person, include_raw=True).invoke("q")
    assert out["parsed"] is None
    assert out["parsing_error"] is not None  # "age" is missing
    assert out["raw"].additional_kwargs["reasoning_content"] == "hm"


@pytest.mark.parametrize("mode", ["native", "prompted", "auto"])
def test_structured_output_in_every_tool_mode(
    make_llm: Any, no_native_tools_server: LocalR1V4Server, mode: str
) -> None:
    """Against a server without a tool parser, the call comes back as Hermes text."""
    server = no_native_tools_server
    text = '<tool_call>{"name": "Person", "arguments": {"name": "Grace", "age": 85}}</tool_call>'
    if mode == "native":
        # Native mode sends tools; this server refuses them, so give it a parser's reply.
        from r1v4 import BadRequestError

        with pytest.raises(BadRequestError):
            make_llm(base_url=server.base_url, tool_mode=mode).with_structured_output(
                Person
            ).invoke("who?")
        return
    server.enqueue(Reply(content="<think>Known person.</think>" + text))
    llm = make_llm(base_url=server.base_url, tool_mode=mode)
    assert llm.with_structured_output(Person).invoke("who?") == Person(name="Grace", age=85)
    assert "tools" not in server.requests[-1].body


def test_json_mode(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content='{"name": "Alan", "age": 41}', reasoning="JSON it is"))
    result = make_llm().with_structured_output(Person, method="json_mode").invoke("who?")
    assert result == Person(name="Alan", age=41)
    assert r1v4_server.requests[-1].body["response_format"] == {"type": "json_object"}


def test_json_schema(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content='{"x": 3, "y": 4}'))
    llm = make_llm().with_structured_output(Point, method="json_schema", strict=True)
    assert llm.invoke("where?") == {"x": 3, "y": 4}
    sent = r1v4_server.requests[-1].body["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Point"
    assert sent["json_schema"]["strict"] is True
    assert set(sent["json_schema"]["schema"]["properties"]) == {"x", "y"}
