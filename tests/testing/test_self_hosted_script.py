"""Scripted self-hosted rounds: ``Reply(followup=Followup(...))`` stops a round at its tool call
and says what the follow-up must carry; ``self_hosted_rounds`` cuts a hosted transcript into
rounds. The faults a client's loop must handle: a native ``code`` call as vLLM's hermes tool
parser sends it, reasoning in ``reasoning_content``."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest

from r1v4.testing import (
    Followup,
    LocalR1V4Server,
    Reply,
    answer,
    general_transcript,
    make_image,
    self_hosted_rounds,
    think,
    tool_call,
)
from testing.followups import (
    assistant,
    observation_message,
    post,
    refusal,
    round_of,
    user,
)
from testing.support import parse_sse

CROP_CALL = {"name": "code", "arguments": {"code": "img.crop((0, 0, 10, 10))"}}
TILE = make_image("PNG", (10, 10))


def hermes_round(**extra: Any) -> Reply:
    """A round as vLLM with ``--reasoning-parser`` and ``--tool-call-parser hermes`` sends it."""
    return Reply(
        reasoning="I should crop the image.",
        tool_calls=[{**CROP_CALL, "id": "call_1"}],
        followup=Followup(image_sizes=((10, 10),), image_format="PNG"),
        **extra,
    )


def test_a_native_code_call_with_reasoning_content_stops_the_round(
    r1v4_server: LocalR1V4Server,
) -> None:
    r1v4_server.enqueue(hermes_round(), Reply(content="<answer>A red corner.</answer>"))
    first = [user("What is in the corner?", make_image("PNG", (40, 40)))]
    response = post(r1v4_server, first, stream=True)
    events = [e for e in parse_sse(response.content) if isinstance(e, dict) and e["choices"]]
    calls = [c for e in events for c in e["choices"][0]["delta"].get("tool_calls") or []]
    assert calls[0]["function"]["name"] == "code" and calls[0]["id"] == "call_1"
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(arguments) == CROP_CALL["arguments"]
    content, reasoning, finish = round_of(response)
    assert (content, reasoning, finish) == ("", "I should crop the image.", "tool_calls")
    assert r1v4_server.awaiting_followup == 1

    observation = {"result": "", "type": "code", "images": ["output_0.png"]}
    # The loop puts the reasoning back in front and writes the native call as a <tool_call>;
    # its JSON may be spelled differently (key order, spaces).
    call_text = json.dumps({"arguments": CROP_CALL["arguments"], "name": "code"}, indent=1)
    text = f"<think>\nI should crop the image.\n</think>\n<tool_call>{call_text}</tool_call>"
    refusals = {
        "<tool_call>" + json.dumps(CROP_CALL) + "</tool_call>": (
            "messages[1] (the assistant message) must begin with the round's reasoning as "
            "<think>…</think> (it came as reasoning_content), got '<tool_call>"
        ),
        "<think>I should zoom.</think><tool_call>" + json.dumps(CROP_CALL) + "</tool_call>": (
            "messages[1] (the assistant message) has 'I should zoom.' in <think>, not the "
            "round's reasoning 'I should crop the image.'"
        ),
        "<think>I should crop the image.</think>": (
            "messages[1] (the assistant message) must carry the round's native code call as "
            '<tool_call>{"name": "code", "arguments": {"code": "img.crop((0, 0, 10, 10))"}}'
            "</tool_call> after its text, got ''"
        ),
        "<think>I should crop the image.</think><tool_call>"
        + json.dumps({"name": "code", "arguments": {"code": "img"}})
        + "</tool_call>": (
            "messages[1] (the assistant message) writes the round's call as "
            '\'{"name": "code", "arguments": {"code": "img"}}\', not'
        ),
    }
    for wrong, problem in refusals.items():
        follow = [*first, assistant(wrong), observation_message(observation, TILE)]
        message = refusal(post(r1v4_server, follow))
        assert problem in message, message
    assert r1v4_server.pending == 1  # nothing consumed by the refusals
    follow = [*first, assistant(text), observation_message(observation, TILE)]
    content, _, finish = round_of(post(r1v4_server, follow))
    assert (content, finish) == ("<answer>A red corner.</answer>", "stop")
    check = r1v4_server.last_request.followup
    assert check is not None and check.ok and (check.round, check.tool) == (1, "code")
    assert check.observation == observation and len(check.images) == 1
    assert r1v4_server.awaiting_followup == 0 and r1v4_server.pending == 0


def test_inline_reasoning_is_part_of_the_rounds_text(r1v4_server: LocalR1V4Server) -> None:
    call = tool_call("text_search", {"query": "R1V4"}).rstrip()
    r1v4_server.enqueue(
        Reply(reasoning="Search.", reasoning_field="inline", content=call, followup=Followup()),
        Reply(content="done"),
    )
    first = [user("Find R1V4.")]
    text, _, finish = round_of(post(r1v4_server, first))
    assert text == "<think>Search.</think>" + call and finish == "stop"
    follow = [*first, assistant(text), observation_message([])]
    assert round_of(post(r1v4_server, follow))[0] == "done"
    # The tool comes from the call: a text_search observation is a list of results.
    check = r1v4_server.last_request.followup
    assert check is not None and check.tool == "text_search" and check.observation == []


def test_followup_fields_narrow_the_check(r1v4_server: LocalR1V4Server) -> None:
    rounds = [
        Reply(
            content=think("Look it up.") + tool_call("web_content", {"url": "https://a.example"}),
            followup=Followup(type="web_content", contains=("Example", "Domain"), images=0),
        ),
        Reply(content=answer("It is an example.")),
    ]
    r1v4_server.enqueue(*rounds)
    first = [user("What is a.example?")]
    text, _, _ = round_of(post(r1v4_server, first))
    page = {"url": "https://a.example", "title": "Example Domain", "content": "For examples."}
    cases = {
        "missing 'Domain'": (
            [{**page, "title": "Example"}],
            "it does not contain 'Domain'",
        ),
        "result dict of another tool": (
            {"result": "No page.", "type": "text_search"},
            "its \"type\" is 'text_search', not 'web_content'",
        ),
        "a result missing content": (
            [{"url": "https://a.example", "title": "Example Domain"}],
            "result 0 needs text content (each web_content result is {url, title, content})",
        ),
    }
    for observation, problem in cases.values():
        follow = [*first, assistant(text), observation_message(observation)]
        assert problem in refusal(post(r1v4_server, follow))
    images = [*first, assistant(text), observation_message([page], TILE)]
    assert "a web_content observation has none" in refusal(post(r1v4_server, images))
    follow = [*first, assistant(text), observation_message([page])]
    assert round_of(post(r1v4_server, follow))[0].endswith("It is an example.\n</answer>")


def test_a_hosted_route_refusal_has_the_hosted_shape(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(hermes_round(), Reply(content="ok"))
    first = [user("Crop it.")]
    round_of(post(r1v4_server, first, api="hosted"))
    response = post(r1v4_server, [*first, assistant("<think>x</think>")], api="hosted")
    body = response.json()
    assert response.status_code == 400 and set(body) == {"code", "code_msg"}
    assert body["code"] == 400309
    assert "in <think>, not the round's reasoning" in refusal(response)
    # A round waits on its own route: the same follow-up on /v1 is a plain request there.
    text = "<think>I should crop the image.</think><tool_call>" + json.dumps(CROP_CALL)
    observation = {"result": "", "type": "code", "images": ["a.png"]}
    follow = [*first, assistant(text + "</tool_call>"), observation_message(observation, TILE)]
    assert round_of(post(r1v4_server, follow))[0] == "ok"
    assert r1v4_server.last_request.followup is None and r1v4_server.awaiting_followup == 1
    reply = round_of(post(r1v4_server, follow, api="hosted"))[0]
    assert reply.startswith("I saw 1 image(s): PNG 10x10.")  # nothing queued: the echo
    assert r1v4_server.last_request.followup is not None and r1v4_server.awaiting_followup == 0


def test_self_hosted_rounds_cuts_a_transcript_at_each_call(r1v4_server: LocalR1V4Server) -> None:
    transcript = general_transcript("Zoom twice?", "Done.", rounds=2, code="print(1)")
    stop_1, stop_2, last = self_hosted_rounds(transcript, Followup(contains="1"))
    for stop in (stop_1, stop_2):
        assert stop.content.endswith("</tool_call>") and "<observation>" not in stop.content
        assert stop.followup is not None
    assert stop_1.followup == Followup(contains="1") and stop_2.followup == Followup()
    assert last.followup is None and last.content.endswith("Done.\n</answer>")
    assert (stop_1.content + stop_2.content + last.content).count("<think>") == 3
    r1v4_server.enqueue(stop_1, stop_2, last)
    messages = [user("Zoom twice?")]
    for _ in range(2):
        text, _, _ = round_of(post(r1v4_server, messages))
        messages = [
            *messages,
            assistant(text),
            observation_message({"result": "1", "type": "code"}),
        ]
        assert r1v4_server.awaiting_followup == 1
    assert round_of(post(r1v4_server, messages))[0] == last.content
    assert [r.followup.round for r in r1v4_server.requests if r.followup] == [1, 2]
    with pytest.raises(ValueError, match="2 followups for 1 round"):
        self_hosted_rounds(general_transcript(), Followup(), Followup())


@pytest.mark.parametrize(
    "fault",
    [{"drop_after": 2}, {"status": 503}, {"error_event_after": 2}, {"drop_before_headers": True}],
)
def test_a_round_that_does_not_reach_the_client_whole_waits_for_nothing(
    r1v4_server: LocalR1V4Server, fault: dict[str, Any]
) -> None:
    r1v4_server.enqueue(hermes_round(**fault))
    with contextlib.suppress(httpx.HTTPError):  # the drops: the client saw a broken response
        httpx.post(
            f"{r1v4_server.base_url}/chat/completions",
            json={"model": "Skywork/R1V4", "messages": [user("x")], "stream": True},
            headers={"Authorization": "Bearer test-key"},
        ).read()
    r1v4_server.wait_finished()
    assert r1v4_server.awaiting_followup == 0


def test_without_followups_nothing_changes(r1v4_server: LocalR1V4Server) -> None:
    # A history ending in an observation, with no round waiting: the echo scenario as ever.
    messages = [user("Hi"), assistant("<tool_call>{}</tool_call>"), observation_message([])]
    text, _, _ = round_of(post(r1v4_server, messages))
    assert text == "I saw 0 image(s). You said: <observation>[]</observation>"
    assert r1v4_server.requests[-1].followup is None


def test_followup_settings_are_checked() -> None:
    assert Followup(image_sizes=[(3, 2)]).images == 1  # type: ignore[arg-type]
    assert Followup(contains="a").contains == ("a",)
    with pytest.raises(ValueError, match="images=2 but 1 image_sizes"):
        Followup(images=2, image_sizes=((1, 1),))
    with pytest.raises(ValueError, match="images must be >= 0"):
        Followup(images=-1)
    with pytest.raises(TypeError, match="followup must be a Followup, got dict"):
        Reply(followup={"type": "code"})  # type: ignore[arg-type]


def test_a_round_the_client_left_before_its_end_waits_for_nothing(
    r1v4_server: LocalR1V4Server,
) -> None:
    r1v4_server.enqueue(hermes_round(stall_after=2, stall_seconds=30))
    body = {"model": "Skywork/R1V4", "messages": [user("x")], "stream": True}
    with httpx.stream(
        "POST",
        f"{r1v4_server.base_url}/chat/completions",
        json=body,
        headers={"Authorization": "Bearer test-key"},
    ) as response:
        next(response.iter_bytes())  # the first events, then the client goes away
    record = r1v4_server.wait_finished()
    assert record.disconnected and not record.completed
    assert r1v4_server.awaiting_followup == 0


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop_after": 1}])
def test_a_follow_up_whose_reply_failed_can_be_sent_again(
    r1v4_server: LocalR1V4Server, fault: dict[str, Any]
) -> None:
    # The client's retry policy sends the same follow-up again: the round still waits for it.
    r1v4_server.enqueue(hermes_round(), Reply(**fault), Reply(content="<answer>Red.</answer>"))
    first = [user("What is in the corner?")]
    round_of(post(r1v4_server, first))
    text = "<think>I should crop the image.</think><tool_call>" + json.dumps(CROP_CALL)
    observation = {"result": "", "type": "code", "images": ["output_0.png"]}
    follow = [*first, assistant(text + "</tool_call>"), observation_message(observation, TILE)]
    with contextlib.suppress(httpx.HTTPError):
        assert post(r1v4_server, follow).status_code == 503
    r1v4_server.wait_finished()
    assert r1v4_server.awaiting_followup == 1
    assert round_of(post(r1v4_server, follow))[0] == "<answer>Red.</answer>"
    check = r1v4_server.last_request.followup
    assert check is not None and check.ok and check.round == 1
    assert r1v4_server.awaiting_followup == 0


def test_a_follow_up_whose_reply_factory_failed_can_be_sent_again(
    r1v4_server: LocalR1V4Server,
) -> None:
    def broken(request: Any) -> Reply:
        raise RuntimeError("factory bug")

    r1v4_server.enqueue(hermes_round(), broken, Reply(content="<answer>Red.</answer>"))
    first = [user("What is in the corner?")]
    round_of(post(r1v4_server, first))
    text = "<think>I should crop the image.</think><tool_call>" + json.dumps(CROP_CALL)
    observation = {"result": "", "type": "code", "images": ["output_0.png"]}
    follow = [*first, assistant(text + "</tool_call>"), observation_message(observation, TILE)]
    assert post(r1v4_server, follow).status_code == 500
    assert r1v4_server.awaiting_followup == 1
    assert round_of(post(r1v4_server, follow))[0] == "<answer>Red.</answer>"
