"""Self-hosted follow-ups that do not carry what the tool loop sends are refused, each with a
message saying what is missing or wrong, in the route's error shape; a refusal consumes nothing,
so the right follow-up still gets the next round."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pictures import gradient

from r1v4.testing import (
    CROP_CODE,
    Followup,
    LocalR1V4Server,
    Reply,
    answer,
    center_crop,
    make_image,
    think,
    tool_call,
)
from testing.followups import (
    assistant,
    image_part,
    observation_message,
    post,
    refusal,
    round_of,
    user,
)

PICTURE = gradient((64, 48))
CROP = center_crop(PICTURE)  # 32x24
OBSERVATION = {"result": "cropped 64x48 to 32x24", "type": "code", "images": ["crop_0.png"]}
FIRST = [user("What is in the middle?", PICTURE)]

Messages = list[dict[str, Any]]
# Each fault: the round's text -> the follow-up's messages after FIRST.
Fault = Callable[[str], Messages]


def text_observation(text: str, *images: bytes) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}, *map(image_part, images)]}


def good(text: str) -> Messages:
    return [assistant(text), observation_message(OBSERVATION, CROP)]


FAULTS: dict[str, tuple[Fault, str]] = {
    "observation missing": (
        lambda t: [assistant(t)],
        "the observation message is missing after messages[1]: it answers round 0's code call",
    ),
    "assistant message missing": (
        lambda t: [observation_message(OBSERVATION, CROP)],
        "messages[1] is the observation, but the assistant message with the round's text must "
        "come first (the round's request had 1 message(s))",
    ),
    "another role first": (
        lambda t: [user("go on"), observation_message(OBSERVATION, CROP)],
        "messages[1] must be the assistant message with the round's text, got role 'user'",
    ),
    "round's text changed": (
        lambda t: [assistant(t.replace("crop the region", "zoom into the region")), *good(t)[1:]],
        "messages[1] (the assistant message) differs from the round's text at character 99: "
        "'zoom into the region of interest with co' where the round has 'crop the region of "
        "interest with code.\\n<'",
    ),
    "text after the call": (
        lambda t: [assistant(t + "\nDone."), *good(t)[1:]],
        "messages[1] (the assistant message) has text after the round's tool call, where the "
        "model stopped: 'Done.'",
    ),
    "call as native tool_calls": (
        lambda t: [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "code", "arguments": "{}"},
                    }
                ],
            },
            *good(t)[1:],
        ],
        "messages[1] (the assistant message) carries native tool_calls: the round's call must "
        "be written in its content as <tool_call>",
    ),
    "observation as a tool message": (
        lambda t: [assistant(t), {"role": "tool", "tool_call_id": "c1", "content": "cropped"}],
        "messages[2] (the observation message) must have role 'user', got 'tool'",
    ),
    "no observation tag": (
        lambda t: [assistant(t), text_observation(json.dumps(OBSERVATION), CROP)],
        "messages[2]'s text must start with <observation>, got '{\"result\"",
    ),
    "unclosed observation": (
        lambda t: [assistant(t), text_observation("<observation>" + json.dumps(OBSERVATION), CROP)],
        "messages[2]'s text must end with </observation>",
    ),
    "image before the text": (
        lambda t: [
            assistant(t),
            {"role": "user", "content": good(t)[1]["content"][::-1]},
        ],
        "messages[2] (the observation message) must begin with a text part <observation>…",
    ),
    "more text after the observation": (
        lambda t: [
            assistant(t),
            {
                "role": "user",
                "content": [*good(t)[1]["content"], {"type": "text", "text": "Thanks."}],
            },
        ],
        "messages[2] may hold only image parts after the observation text, got "
        "['image_url', 'text']",
    ),
    "not JSON": (
        lambda t: [assistant(t), text_observation("<observation>cropped it</observation>", CROP)],
        "the observation is not valid JSON (Expecting value: line 1 column 1 (char 0)): "
        "'cropped it'",
    ),
    "another tool's type": (
        lambda t: [assistant(t), observation_message({**OBSERVATION, "type": "text_search"}, CROP)],
        "the observation answering round 0's code call: its \"type\" is 'text_search', not 'code'",
    ),
    "no result": (
        lambda t: [
            assistant(t),
            observation_message({"type": "code", "images": ["crop_0.png"]}, CROP),
        ],
        'the observation answering round 0\'s code call: it needs "result" (text) beside "type"',
    ),
    "data URIs in the observation": (
        lambda t: [
            assistant(t),
            observation_message(
                {**OBSERVATION, "images": [image_part(CROP)["image_url"]["url"]]}, CROP
            ),
        ],
        'its "images" must name the image files (the images follow as image parts), not hold '
        "data URIs",
    ),
    "image part missing": (
        lambda t: [assistant(t), observation_message(OBSERVATION)],
        'its "images" names 1 image(s), but the message carries 0 image part(s)',
    ),
    "image not named": (
        lambda t: [assistant(t), observation_message({**OBSERVATION, "images": None}, CROP)],
        'the message carries 1 image part(s), but the observation names none in "images"',
    ),
    "two images": (
        lambda t: [
            assistant(t),
            observation_message({**OBSERVATION, "images": ["a.png", "b.png"]}, CROP, CROP),
        ],
        "the message carries 2 image(s), not the 1 the call made",
    ),
    "crop of another size": (
        lambda t: [assistant(t), observation_message(OBSERVATION, center_crop(gradient((60, 48))))],
        "image 0 is 30x24 pixels, not the 32x24 the call made",
    ),
    "not a PNG": (
        lambda t: [assistant(t), observation_message(OBSERVATION, make_image("JPEG", (32, 24)))],
        "image 0 is JPEG, not PNG",
    ),
    "not the code's output": (
        lambda t: [assistant(t), observation_message({**OBSERVATION, "result": "done"}, CROP)],
        "it does not contain 'cropped 64x48 to 32x24'",
    ),
    "more messages after the observation": (
        lambda t: [*good(t), user("And then?")],
        "the follow-up must end with the observation message (messages[2]), but 1 more "
        "message(s) follow it",
    ),
}


def scripted_rounds() -> list[Reply]:
    """The self_hosted scenario's rounds for FIRST, scripted (the hosted route stops only where
    a scripted reply says so)."""
    reasoning = (
        "The question is: What is in the middle? I should look at the image more closely, so I "
        "will crop the region of interest with code."
    )
    stop = Reply(
        content=think(reasoning) + tool_call("code", {"code": CROP_CODE}).rstrip(),
        followup=Followup(
            contains="cropped 64x48 to 32x24", image_sizes=((32, 24),), image_format="PNG"
        ),
    )
    return [stop, Reply(content=think("Seen.") + answer("A gradient."))]


@pytest.mark.parametrize("api", ["openai", "hosted"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_faulty_follow_up_is_refused_and_the_right_one_goes_on(
    self_hosted_server: LocalR1V4Server, fault: str, api: str
) -> None:
    server = self_hosted_server
    if api == "hosted":
        server.enqueue(*scripted_rounds())
    text, _, _ = round_of(post(server, FIRST, api=api))
    make, problem = FAULTS[fault]
    message = refusal(post(server, [*FIRST, *make(text)], api=api))
    assert problem in message, message
    record = server.last_request
    assert record.followup is not None and not record.followup.ok
    assert record.followup.error == message.removeprefix("Self-hosted follow-up refused: ")
    assert (record.followup.round, record.followup.tool) == (1, "code")
    assert record.response_id is None and server.awaiting_followup == 1
    assert server.pending == (1 if api == "hosted" else 0)  # the refusal consumed nothing
    answer_text, _, _ = round_of(post(server, [*FIRST, *good(text)], api=api))
    assert answer_text.endswith("</answer>") and server.awaiting_followup == 0
    assert server.last_request.followup is not None and server.last_request.followup.ok


def test_what_a_refused_follow_up_carried_is_recorded(self_hosted_server: LocalR1V4Server) -> None:
    text, _, _ = round_of(post(self_hosted_server, FIRST))
    small = center_crop(gradient((60, 48)))
    follow = [*FIRST, assistant(text), observation_message(OBSERVATION, small)]
    refusal(post(self_hosted_server, follow))
    check = self_hosted_server.last_request.followup
    assert check is not None and check.assistant == text
    assert check.observation == OBSERVATION
    assert check.observation_text == json.dumps(OBSERVATION)
    (image,) = check.images
    assert (image.format, image.width, image.height) == ("PNG", 30, 24)


def test_an_observation_that_continues_no_waiting_round_is_refused(
    self_hosted_server: LocalR1V4Server,
) -> None:
    server = self_hosted_server
    text, _, _ = round_of(post(server, FIRST))
    # The history was changed: the first message is not the one the round answered.
    changed = [user("What is in the corner?", PICTURE), *good(text)]
    message = refusal(post(server, changed))
    assert "the request ends in an observation but continues no round waiting for one" in message
    assert (
        "(round 0, stopped at a code call), messages[0] differs from messages[0] of that "
        "round's request" in message
    )
    # The follow-up of a round already answered, sent again while another round waits.
    round_of(post(server, [*FIRST, *good(text)]))
    round_of(post(server, [user("Another question")]))
    message = refusal(post(server, [*FIRST, *good(text)]))
    assert "continues no round waiting for one" in message
    assert server.awaiting_followup == 1
