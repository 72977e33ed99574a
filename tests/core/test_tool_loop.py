"""The loop that runs R1V4's own tools where the server does not (issue 22), on every path.

The local server replies like a bare inference server: each scripted round stops right after
R1V4's call. Given ``builtin_tools``, the client runs the call (the code in the bubblewrap
sandbox), feeds the observation to the reply's one transcript and sends the next round; the
caller gets one reply shaped like a hosted one. Each test runs sync and async, ``create`` and
``stream``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from core_paths import PATH_IDS, PATHS, complete
from PIL import Image

from r1v4 import (
    AsyncR1V4Client,
    ChatCompletion,
    ChatCompletionChunk,
    ClientToolCall,
    GeneratedImage,
    InvalidRequestError,
    R1V4Client,
    R1V4Error,
    ServerToolCall,
    ServerToolResult,
    TranscriptIssue,
    accumulate,
)
from r1v4.testing import LocalR1V4Server, Reply, make_image_data_uri, tool_call
from r1v4.tools import R1V4Tools, ToolResult

MODEL = "skywork/r1v4-lite"
PICTURE = make_image_data_uri("PNG", (40, 30))
MESSAGES = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in the corner?"},
            {"type": "image_url", "image_url": {"url": PICTURE}},
        ],
    }
]
CROP = {"code": "img.crop((0, 0, 10, 8)).save('crop.png')\nprint(img.size)"}
CROP_CALL = tool_call("code", CROP).rstrip("\n")
ANSWER = "<think>The crop is plain.</think><answer>A plain corner.</answer>"


@dataclass
class Run:
    reply: ChatCompletion
    chunks: list[ChatCompletionChunk]  # the stream as the caller got it (empty for create)


@pytest.fixture(scope="module")
def tools() -> R1V4Tools:
    return R1V4Tools()


@pytest.fixture(params=PATHS, ids=PATH_IDS)
def call(request: pytest.FixtureRequest, r1v4_server: LocalR1V4Server) -> Iterator[Any]:
    def run(**fields: Any) -> Run:
        fields.setdefault("model", MODEL)
        fields.setdefault("messages", MESSAGES)
        return Run(*complete(r1v4_server.base_url, *request.param, **fields))

    yield run


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def kinds(reply: ChatCompletion) -> list[str]:
    return [type(e).__name__ for e in reply.message.events]


def test_a_code_call_runs_and_the_reply_goes_on_as_one(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    r1v4_server.enqueue(
        Reply(content="<think>I crop.</think>" + CROP_CALL, usage=usage(100, 10), id="round-1"),
        Reply(content=ANSWER, usage=usage(300, 7), id="round-2"),
    )
    run = call(builtin_tools=tools)
    reply, message = run.reply, run.reply.message

    assert reply.id == "round-1"  # one reply id: the first round's
    assert message.content == "A plain corner."
    assert message.reasoning == "I crop.\n\nThe crop is plain."  # as one transcript joins them
    assert kinds(reply) == ["ServerToolCall", "GeneratedImage", "ServerToolResult"]
    call_event, image, result = message.events
    assert isinstance(call_event, ServerToolCall) and call_event.arguments == CROP
    assert isinstance(image, GeneratedImage) and (image.width, image.height) == (10, 8)
    assert image.tool_call_id == "srvtool_0"
    assert isinstance(result, ServerToolResult) and result.name == "code"
    assert result.content["result"] == "(40, 30)"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (400, 17)
    assert reply.usage.total_tokens == 417
    # The whole trajectory is one transcript, the observation in it (its image left out).
    assert message.transcript is not None
    assert message.transcript.startswith("<think>I crop.</think>" + CROP_CALL + "<observation>")
    assert message.transcript.endswith("</observation>" + ANSWER)
    assert len(r1v4_server.requests) == 2


def test_the_follow_up_carries_the_round_the_observation_and_the_crop(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    r1v4_server.enqueue(Reply(content="<think>I crop.</think>" + CROP_CALL), Reply(content=ANSWER))
    call(builtin_tools=tools)

    first, follow_up = (r.body for r in r1v4_server.requests[-2:])
    sent = follow_up["messages"]
    assert sent[: len(first["messages"])] == first["messages"]  # the conversation, unchanged
    assistant, observed = sent[len(first["messages"]) :]
    assert assistant == {"role": "assistant", "content": "<think>I crop.</think>" + CROP_CALL}
    assert observed["role"] == "user"
    text, image = observed["content"]
    assert text["type"] == "text"
    assert text["text"].startswith("<observation>") and text["text"].endswith("</observation>")
    obs = json.loads(text["text"][len("<observation>") : -len("</observation>")])
    assert obs == {"result": "(40, 30)", "type": "code", "images": ["crop.png"]}
    uri = image["image_url"]["url"]
    assert uri.startswith("data:image/png;base64,")
    crop = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert crop.size == (10, 8)
    assert [i.width for i in r1v4_server.requests[-1].images] == [40, 10]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_stream_has_one_finish_and_the_usage_at_the_very_end(
    is_async: bool, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    r1v4_server.enqueue(
        Reply(content=CROP_CALL, usage=usage(50, 5)), Reply(content=ANSWER, usage=usage(80, 6))
    )
    _, chunks = complete(
        r1v4_server.base_url, is_async, True, model=MODEL, messages=MESSAGES, builtin_tools=tools
    )
    finishes = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finishes == ["stop"]
    with_usage = [i for i, chunk in enumerate(chunks) if chunk.usage is not None]
    assert with_usage == [len(chunks) - 1]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 141
    assert len({chunk.id for chunk in chunks}) == 1
    # The tool's events come after the call's round and before the answer.
    order = [
        type(e).__name__ for chunk in chunks for c in chunk.choices for e in c.delta.events or ()
    ]
    assert order == ["ServerToolCall", "GeneratedImage", "ServerToolResult"]
    answer_at = next(i for i, ch in enumerate(chunks) if any(c.delta.content for c in ch.choices))
    events_at = max(i for i, ch in enumerate(chunks) if any(c.delta.events for c in ch.choices))
    assert events_at < answer_at


def test_create_and_a_merged_stream_give_the_same_message(
    r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    script = [Reply(content="<think>I crop.</think>" + CROP_CALL, id="a"), Reply(content=ANSWER)]
    with R1V4Client(base_url=r1v4_server.base_url, api_key="test-key") as client:
        r1v4_server.enqueue(*script)
        created = client.create(model=MODEL, messages=MESSAGES, builtin_tools=tools)
        r1v4_server.enqueue(*script)
        streamed = accumulate(client.stream(model=MODEL, messages=MESSAGES, builtin_tools=tools))
    assert created.message == streamed.message
    assert created.id == streamed.id == "a"


def test_server_call_ids_are_unique_across_rounds(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    second = tool_call("code", {"code": "print(len(image_paths))"}).rstrip("\n")
    r1v4_server.enqueue(
        Reply(content=CROP_CALL),
        Reply(content="<think>Again.</think>" + second),
        Reply(content=ANSWER),
    )
    reply = call(builtin_tools=tools).reply
    calls = [e for e in reply.message.events if isinstance(e, ServerToolCall)]
    results = [e for e in reply.message.events if isinstance(e, ServerToolResult)]
    assert [c.index for c in calls] == [0, 1]
    assert [r.call_index for r in results] == [0, 1]
    # The second run sees the crop the first made: the conversation's images grow.
    assert results[1].content["result"] == "2"
    assert reply.message.reasoning == "Again.\n\nThe crop is plain."
    assert len(r1v4_server.requests) == 3


def test_a_native_call_from_a_tool_parser_runs_too(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    # vLLM --tool-call-parser hermes, --reasoning-parser: the call native, the reasoning apart.
    r1v4_server.enqueue(
        Reply(reasoning="I crop.", tool_calls=[{"name": "code", "arguments": CROP}]),
        Reply(content=ANSWER),
    )
    reply = call(builtin_tools=tools).reply
    assert reply.message.tool_calls == []
    assert kinds(reply) == ["ServerToolCall", "GeneratedImage", "ServerToolResult"]
    assert reply.choices[0].finish_reason == "stop"
    assistant = r1v4_server.requests[-1].body["messages"][-2]
    text = assistant["content"]
    assert text.startswith("<think>I crop.</think><tool_call>")
    written = json.loads(text[len("<think>I crop.</think><tool_call>") : -len("</tool_call>")])
    assert written == {"name": "code", "arguments": CROP}


def test_the_round_limit_ends_the_reply_with_an_issue(
    call: Any, r1v4_server: LocalR1V4Server
) -> None:
    limited = R1V4Tools(max_tool_rounds=1)
    r1v4_server.enqueue(Reply(content=CROP_CALL), Reply(content="<think>More.</think>" + CROP_CALL))
    reply = call(builtin_tools=limited).reply
    assert len(r1v4_server.requests) == 2  # the second call was not run, nothing more sent
    issues = [e for e in reply.message.events if isinstance(e, TranscriptIssue)]
    assert [i.kind for i in issues] == ["max_tool_rounds"]
    assert issues[0].text == CROP_CALL
    assert kinds(reply).count("ServerToolResult") == 1
    assert reply.choices[0].finish_reason == "stop"


def test_a_tool_without_a_backend_answers_unavailable_and_the_reply_goes_on(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    search = "<text_search>tallest tower</text_search>"
    r1v4_server.enqueue(Reply(content=search), Reply(content=ANSWER))
    reply = call(builtin_tools=tools).reply
    (result,) = [e for e in reply.message.events if isinstance(e, ServerToolResult)]
    assert result.name == "text_search"
    assert "unavailable" in json.dumps(result.content)
    assert reply.message.content == "A plain corner."


def test_a_search_backend_answers_a_deep_research_tag(
    call: Any, r1v4_server: LocalR1V4Server
) -> None:
    asked: list[str] = []

    def search(query: str) -> list[dict[str, str]]:
        asked.append(query)
        return [{"title": "Tower", "url": "https://example.com/t", "snippet": "It is tall."}]

    searching = R1V4Tools(executor=None, text_search=search)
    r1v4_server.enqueue(
        Reply(content="<text_search>tallest tower</text_search>"), Reply(content=ANSWER)
    )
    reply = call(builtin_tools=searching).reply
    assert asked == ["tallest tower"]
    (result,) = [e for e in reply.message.events if isinstance(e, ServerToolResult)]
    assert [s.url for s in result.sources] == ["https://example.com/t"]
    observed = r1v4_server.requests[-1].body["messages"][-1]["content"][0]["text"]
    assert "It is tall." in observed


def test_a_tool_the_caller_bound_stays_their_call(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    code_tool = {"type": "function", "function": {"name": "code", "description": "Run Python."}}
    r1v4_server.enqueue(Reply(content=CROP_CALL))
    reply = call(builtin_tools=tools, tools=[code_tool]).reply
    assert len(r1v4_server.requests) == 1
    (mine,) = reply.message.tool_calls
    assert mine.function.name == "code"
    assert not [e for e in reply.message.events if isinstance(e, ServerToolCall | ClientToolCall)]
    assert reply.choices[0].finish_reason == "tool_calls"


def test_the_observation_message_is_replaceable(call: Any, r1v4_server: LocalR1V4Server) -> None:
    def as_text(result: ToolResult) -> dict[str, Any]:
        return {"role": "user", "content": f"Observation: {result.observation}"}

    custom = R1V4Tools(observation_message=as_text)
    r1v4_server.enqueue(Reply(content=CROP_CALL), Reply(content=ANSWER))
    call(builtin_tools=custom)
    last = r1v4_server.requests[-1].body["messages"][-1]
    assert last["role"] == "user" and last["content"].startswith('Observation: {"result"')


def test_a_retried_round_leaves_nothing_behind(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools, fast_backoff: None
) -> None:
    # The second round fails once before it delivers anything, then succeeds.
    r1v4_server.enqueue(
        Reply(content=CROP_CALL), Reply(status=503), Reply(content=ANSWER, id="late")
    )
    reply = call(builtin_tools=tools).reply
    assert len(r1v4_server.requests) == 3
    assert kinds(reply) == ["ServerToolCall", "GeneratedImage", "ServerToolResult"]
    assert reply.message.content == "A plain corner."
    assert reply.id != "late"


def test_without_builtin_tools_the_call_is_unanswered(
    call: Any, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content=CROP_CALL))
    reply = call().reply
    assert [e.kind for e in reply.message.events if isinstance(e, TranscriptIssue)] == [
        "unanswered_tool_call"
    ]
    assert len(r1v4_server.requests) == 1


def test_a_reply_without_a_call_is_one_round(
    call: Any, r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    r1v4_server.enqueue(Reply(content=ANSWER, usage=usage(10, 3)))
    reply = call(builtin_tools=tools).reply
    assert reply.message.content == "A plain corner."
    assert reply.usage is not None and reply.usage.total_tokens == 13
    assert len(r1v4_server.requests) == 1


def test_what_the_loop_cannot_do_is_refused(r1v4_server: LocalR1V4Server) -> None:
    with R1V4Client(base_url=r1v4_server.base_url, api_key="test-key") as client:
        with pytest.raises(InvalidRequestError, match="R1V4Tools"):
            client.create(model=MODEL, messages=MESSAGES, builtin_tools=object())  # type: ignore[arg-type]
        with pytest.raises(InvalidRequestError, match="n=2"):
            client.create(
                model=MODEL,
                messages=MESSAGES,
                builtin_tools=R1V4Tools(executor=None),
                extra_body={"n": 2},
            )
    assert r1v4_server.requests == []


def test_cancelling_the_stream_while_the_code_runs_kills_it(
    r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    import psutil

    slow = tool_call("code", {"code": "import time\ntime.sleep(60)"}).rstrip("\n")
    r1v4_server.enqueue(Reply(content=slow))
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}

    async def go() -> list[psutil.Process]:
        async with AsyncR1V4Client(base_url=r1v4_server.base_url, api_key="test-key") as client:

            async def consume() -> None:
                async for _ in client.stream(model=MODEL, messages=MESSAGES, builtin_tools=tools):
                    pass

            task = asyncio.ensure_future(consume())
            started: list[psutil.Process] = []
            for _ in range(500):  # until the sandboxed Python runs
                await asyncio.sleep(0.02)
                started = [p for p in me.children(recursive=True) if p.pid not in before]
                if any("python" in p.name() for p in started):
                    break
            assert any("bwrap" in p.name() for p in started), [p.name() for p in started]
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return started

    started = asyncio.run(go())
    _, alive = psutil.wait_procs(started, timeout=5)
    assert alive == []
    assert len(r1v4_server.requests) == 1  # no round after the cancelled one


def test_a_round_that_fails_after_delivering_keeps_every_round_on_the_error(
    r1v4_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    # The second round drops mid-answer: nothing is retried (text reached the caller) and the
    # error carries what every round streamed so far.
    r1v4_server.enqueue(
        Reply(content="<think>I crop.</think>" + CROP_CALL),
        Reply(
            content="<think>Plain.</think><answer>A plain corner of the picture.</answer>",
            chunk_size=4,
            drop_after=8,
        ),
    )
    with R1V4Client(base_url=r1v4_server.base_url, api_key="test-key") as client:
        seen: list[ChatCompletionChunk] = []
        with pytest.raises(R1V4Error) as caught:
            for chunk in client.stream(model=MODEL, messages=MESSAGES, builtin_tools=tools):
                seen.append(chunk)
    assert len(r1v4_server.requests) == 2
    assert caught.value.partial_reasoning.startswith("I crop.")
    events = [e for ch in seen for c in ch.choices for e in c.delta.events or ()]
    assert [type(e).__name__ for e in events] == [
        "ServerToolCall",
        "GeneratedImage",
        "ServerToolResult",
    ]
    streamed = "".join(c.delta.reasoning or "" for ch in seen for c in ch.choices)
    assert streamed == caught.value.partial_reasoning
