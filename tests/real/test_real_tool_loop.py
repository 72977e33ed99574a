"""R1V4's own tools run by the client against the real llama.cpp server: the follow-up wire is
real, and the model's answer to the observation is its own.

SmolLM2-135M cannot choose R1V4's tools, so :class:`~round_proxy.RoundProxy` (a loopback proxy
in front of llama.cpp) forces the first round with a grammar that writes an R1V4 ``code`` call;
the client runs it in the bubblewrap sandbox and sends the follow-up, which the proxy forwards
untouched: llama.cpp continues freely after the observation. Which tokens it writes differs
between CPUs, so every assertion holds for any continuation:

- the trace begins with the forced call and its result, computed in the sandbox;
- the reply is the one transcript of the whole trajectory (call, observation, continuation as
  llama.cpp sent it) and reads as that transcript does, parsed in one go: whatever the
  continuation writes (prose, tags, another call) is what a hosted trajectory would give, except
  that a call it ends in is reported as ``max_tool_rounds`` (``R1V4Tools(max_tool_rounds=1)``)
  rather than run;
- exactly two requests: the follow-up carries the conversation, the round as the model wrote it
  and the observation message, and the server rendered the observation into its prompt;
- one id (the first round's), one finish (the last round's), and the usage llama.cpp sent for
  each round, summed.

An image the code saves goes back as an image part, which this text-only server refuses (a 500,
after the tool's events were streamed); an observation message without image parts goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from real_asks import grammar
from real_loop_paths import LOOP_PATHS, Looped, LoopPath
from real_server import LlamaServer
from round_proxy import Exchange, RoundProxy

from r1v4 import (
    AnswerDelta,
    GeneratedImage,
    R1V4Client,
    ServerError,
    ServerToolCall,
    ServerToolResult,
    TranscriptIssue,
    parse_transcript,
)
from r1v4.testing import LocalR1V4Server, Reply, tool_call
from r1v4.tools import R1V4Tools, ToolResult, observation_message

QUESTION = [{"role": "user", "content": "What is six times seven? Use code."}]
CODE = {"code": "print(6*7)"}
CALL = tool_call("code", CODE).rstrip("\n")  # R1V4's own form of the call
OBSERVATION = '<observation>{"result": "42", "type": "code"}</observation>'
# A grammar leaves the model the tokens that fit, not the tokenizer's split: the call may be
# written a character per token (SmolLM2 wrote it in 52 here; its tokenizer needs about 30), so
# the forced round gets room for that and its end of turn. The continuation is kept short.
FORCE_FIELDS = ("grammar", "max_tokens")
CONTINUATION_TOKENS = 16


def forcing(call: str, llama: LlamaServer) -> dict[str, Any]:
    """The first round's fields: the call, and room for it however the model splits it."""
    assert len(call) + 2 <= llama.n_predict, "the server's -n would cut the call"
    return {"grammar": grammar(call), "max_tokens": len(call) + 2}


@pytest.fixture(scope="module")
def proxy(llama: LlamaServer) -> Iterator[RoundProxy]:
    with RoundProxy(llama.base_url, forcing(CALL, llama)) as proxy:
        yield proxy


@pytest.fixture
def wire(proxy: RoundProxy) -> Iterator[RoundProxy]:
    proxy.clear()
    yield proxy


@pytest.fixture(scope="module")
def one_round() -> R1V4Tools:
    """The sandbox; a second call (if the continuation writes one) ends the reply."""
    return R1V4Tools(max_tool_rounds=1)


@pytest.fixture(params=LOOP_PATHS, ids=str)
def path(request: pytest.FixtureRequest) -> LoopPath:
    return request.param  # type: ignore[no-any-return]


def hosted_reading(transcript: str) -> Looped:
    """What the trajectory gives parsed in one go, as a hosted reply with that transcript."""
    events = parse_transcript(transcript)
    return Looped(
        "".join(e.text for e in events if isinstance(e, AnswerDelta)),
        transcript,
        [(e.name, e.arguments) for e in events if isinstance(e, ServerToolCall)],
        [(e.name, e.content) for e in events if isinstance(e, ServerToolResult)],
        [(e.kind, e.text) for e in events if isinstance(e, TranscriptIssue)],
        (0, 0, 0),
        "",
        None,
        [],
    )


def fields(exchange: Exchange) -> dict[str, Any]:
    """A request's fields other than its messages and what the proxy forced."""
    return {k: v for k, v in exchange.sent.items() if k not in ("messages", *FORCE_FIELDS)}


def test_the_model_continues_after_a_sandboxed_code_call(
    path: LoopPath, wire: RoundProxy, llama: LlamaServer, real_key: str, one_round: R1V4Tools
) -> None:
    reply = path.run(wire.base_url, real_key, one_round, QUESTION, CONTINUATION_TOKENS)
    first, follow = wire.exchanges  # two rounds: the forced call, then the model on its own
    check_follow_up(first, follow)
    # The observation reached the model: llama.cpp's template put it in the prompt it counted.
    prompt, tokens = llama.rendered({"messages": follow.sent["messages"]})
    assert CALL in prompt and OBSERVATION in prompt
    assert follow.usage["prompt_tokens"] == tokens
    check_one_reply(reply, first, follow)


def check_follow_up(first: Exchange, follow: Exchange) -> None:
    """The follow-up carries the conversation, the round as the model wrote it and the
    observation, with the request's own fields (none of what the proxy forced)."""
    assert (first.forced, first.status, first.text) == (True, 200, CALL)
    assert (follow.forced, follow.status) == (False, 200)
    assert follow.sent["max_tokens"] == CONTINUATION_TOKENS and "grammar" not in follow.sent
    assert fields(follow) == fields(first)
    sent = follow.sent["messages"]
    assert sent[:-2] == first.sent["messages"]
    assert sent[-2:] == [
        {"role": "assistant", "content": CALL},
        {"role": "user", "content": [{"type": "text", "text": OBSERVATION}]},
    ]


def check_one_reply(reply: Looped, first: Exchange, follow: Exchange) -> None:
    """What holds whatever the continuation (``follow.text``) is."""
    # The trace: the forced call and what the sandbox printed.
    assert reply.calls[0] == ("code", CODE)
    assert reply.results[0] == ("code", {"result": "42", "type": "code"})
    # One transcript: the trajectory, the continuation as llama.cpp sent it ...
    continuation = follow.text
    assert reply.transcript == CALL + OBSERVATION + continuation
    # ... read as a hosted reply with that transcript reads, whatever the model wrote.
    hosted = hosted_reading(reply.transcript)
    issues = list(hosted.issues)
    if reply.issues and reply.issues[-1][0] == "max_tool_rounds":
        # The continuation ended in another call of R1V4's tools: not run, the reply ends.
        # Read in one go, that call is unanswered (and its JSON, if broken, reported too).
        text = reply.issues[-1][1]
        assert continuation.rstrip().endswith(text)
        if issues[-1][0] == "invalid_json":
            assert text == f"<tool_call>{issues.pop()[1]}</tool_call>"
        assert issues.pop() == ("unanswered_tool_call", text)
        issues.append(("max_tool_rounds", text))
    assert reply.issues == issues
    assert ("unanswered_tool_call", CALL) not in reply.issues
    assert (reply.content, reply.calls, reply.results) == (
        hosted.content,
        hosted.calls,
        hosted.results,
    )

    # One reply: the first round's id, the last round's finish, llama.cpp's usage summed.
    assert reply.id == first.id
    assert reply.finish == follow.finish_reason
    prompt_sum = first.usage["prompt_tokens"] + follow.usage["prompt_tokens"]
    completion_sum = first.usage["completion_tokens"] + follow.usage["completion_tokens"]
    assert reply.usage == (prompt_sum, completion_sum, prompt_sum + completion_sum)
    if reply.chunks:  # a core stream, as the caller got it
        assert {c.id for c in reply.chunks} == {first.id}
        finishes = [ch.finish_reason for c in reply.chunks for ch in c.choices if ch.finish_reason]
        assert finishes == [follow.finish_reason]
        with_usage = [i for i, c in enumerate(reply.chunks) if c.usage is not None]
        assert with_usage == [len(reply.chunks) - 1]


# What another CPU's SmolLM2 may write instead: the same checks against continuations scripted
# on the local server (behind the same proxy), so none of them holds only for the tokens this
# machine's llama.cpp picks.
CONTINUATIONS = {
    "prose": "Six times seven is 42.",
    "another call": '<tool_call>{"name": "code", "arguments": {"code": "print(1)"}}</tool_call>',
    "a search": "Let me check.<text_search>6*7</text_search>\n",
    "a broken call": '<tool_call>{"name": "code", "arguments": {oops}</tool_call>',
    "a call mid-text": '<tool_call>{"name": "code", "arguments": {}}</tool_call> and more',
    "its own observation": '<tool_call>{"name": "code", "arguments": {}}</tool_call>'
    '<observation>{"result": "1"}</observation>So 42.',
    "another tool": '<tool_call>{"name": "calc", "arguments": {}}</tool_call>',
    "an unclosed think": "<think>Six sevens",
    "a stray tag": "42</answer>",
}


@pytest.fixture(scope="module")
def scripted(real_key: str) -> Iterator[tuple[LocalR1V4Server, RoundProxy]]:
    server = LocalR1V4Server(api_key=real_key, extra_models=["smollm2"]).start()
    try:
        with RoundProxy(server.base_url, {"grammar": grammar(CALL)}) as proxy:
            yield server, proxy
    finally:
        server.stop()


@pytest.mark.parametrize("continuation", list(CONTINUATIONS.values()), ids=list(CONTINUATIONS))
@pytest.mark.parametrize("path", LOOP_PATHS[:2], ids=str)
def test_the_checks_hold_for_any_continuation(
    path: LoopPath,
    continuation: str,
    scripted: tuple[LocalR1V4Server, RoundProxy],
    real_key: str,
    one_round: R1V4Tools,
) -> None:
    server, proxy = scripted
    proxy.clear()
    server.enqueue(
        Reply(content=CALL, usage={"prompt_tokens": 41, "completion_tokens": 30}, id="first"),
        Reply(content=continuation, usage={"prompt_tokens": 101, "completion_tokens": 9}),
    )
    reply = path.run(proxy.base_url, real_key, one_round, QUESTION, CONTINUATION_TOKENS)
    first, follow = proxy.exchanges
    check_follow_up(first, follow)
    check_one_reply(reply, first, follow)


# ---------------------------------------------------------------------- an image the code made

# Written without spaces in its JSON: a grammar may spend a token per character, and llama.cpp
# caps every reply at the server's -n 128.
SQUARE = {"code": "from PIL import Image\nImage.new('L', (8, 8)).save('a.png')"}
SQUARE_CALL = json.dumps({"name": "code", "arguments": SQUARE}, separators=(",", ":"))
SQUARE_CALL = f"<tool_call>{SQUARE_CALL}</tool_call>"
SQUARE_OBSERVATION = (
    '<observation>{"result": "", "type": "code", "images": ["a.png"]}</observation>'
)


@pytest.fixture(scope="module")
def square_proxy(llama: LlamaServer) -> Iterator[RoundProxy]:
    with RoundProxy(llama.base_url, forcing(SQUARE_CALL, llama)) as proxy:
        yield proxy


def test_a_text_only_server_refuses_the_image_the_code_made(
    square_proxy: RoundProxy, real_key: str, one_round: R1V4Tools
) -> None:
    """The default observation message shows the model the image its code saved, as an image
    part. A server without a vision projector (SmolLM2 here; R1V4 itself always has one)
    refuses it: the stream fails with llama.cpp's 500 as a ``ServerError``, after the tool ran
    and its events were delivered."""
    square_proxy.clear()
    got: list[Any] = []
    with R1V4Client(base_url=square_proxy.base_url, api_key=real_key, max_retries=0) as client:
        ask: dict[str, Any] = {
            "model": "smollm2",
            "messages": QUESTION,
            "max_tokens": CONTINUATION_TOKENS,
        }
        with pytest.raises(ServerError) as info:
            for chunk in client.stream(**ask, builtin_tools=one_round):
                got += [e for c in chunk.choices for e in c.delta.events or ()]
    assert info.value.status_code == 500
    assert info.value.message.startswith("image input is not supported")

    first, follow = square_proxy.exchanges
    assert (first.status, first.text, follow.status) == (200, SQUARE_CALL, 500)
    text, image = follow.sent["messages"][-1]["content"]
    assert text == {"type": "text", "text": SQUARE_OBSERVATION}
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    call, made, result = got  # what the tool did was delivered before the refusal
    assert isinstance(call, ServerToolCall) and call.arguments == SQUARE
    assert isinstance(made, GeneratedImage) and (made.width, made.height) == (8, 8)
    assert isinstance(result, ServerToolResult) and result.content["result"] == ""


def text_only(result: ToolResult) -> dict[str, Any]:
    """The default observation message without its image parts, for a text-only model."""
    message = observation_message(result)
    message["content"] = [p for p in message["content"] if p["type"] == "text"]
    return message


def test_a_text_only_observation_message_goes_on(square_proxy: RoundProxy, real_key: str) -> None:
    """``R1V4Tools(observation_message=...)`` keeps the image out of the follow-up: llama.cpp
    continues, and the reply still has the image the code made."""
    square_proxy.clear()
    tools = R1V4Tools(max_tool_rounds=1, observation_message=text_only)
    with R1V4Client(base_url=square_proxy.base_url, api_key=real_key, max_retries=0) as client:
        reply = client.create(
            model="smollm2",
            messages=QUESTION,
            max_tokens=CONTINUATION_TOKENS,
            builtin_tools=tools,
        )
    first, follow = square_proxy.exchanges
    assert (first.text, follow.status) == (SQUARE_CALL, 200)
    assert follow.sent["messages"][-1] == {
        "role": "user",
        "content": [{"type": "text", "text": SQUARE_OBSERVATION}],
    }
    events = reply.message.events
    call, made, result = events[:3]
    assert isinstance(call, ServerToolCall) and call.arguments == SQUARE
    assert isinstance(made, GeneratedImage) and (made.width, made.height) == (8, 8)
    assert made.tool_call_id == "srvtool_0"
    assert isinstance(result, ServerToolResult)
    # The reply's transcript keeps the image, as a hosted trajectory does; the model saw its name.
    assert json.loads(result.raw) == {"result": "", "type": "code", "images": [made.data_uri]}
    assert reply.message.transcript is not None
    assert reply.message.transcript.endswith(follow.text)
    assert reply.id == first.id
