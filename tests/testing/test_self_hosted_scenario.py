"""The ``self_hosted`` scenario: on ``/v1`` the agent's transcripts one round per request, as a
bare inference server serving R1V4's open weights gives them, each follow-up checked; ``/api/v1``
stays hosted. Follow-ups are written by hand (the client's loop is not used here); the ``code``
rounds are run in the real bubblewrap sandbox, to prove a client's sandbox can run them.
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import pytest
from pictures import gradient
from PIL import Image

from r1v4.testing import CROP_CODE, SUM_CODE, LocalR1V4Server, center_crop
from r1v4.tools import BubblewrapSandbox, R1V4Tools
from testing.followups import (
    assistant,
    call_of,
    observation_message,
    post,
    refusal,
    round_of,
    user,
)


@pytest.fixture(scope="module")
def tools() -> R1V4Tools:
    return R1V4Tools(executor=BubblewrapSandbox())


def sandbox_followup(
    tools: R1V4Tools, messages: list[dict[str, Any]], text: str, images: list[bytes]
) -> list[dict[str, Any]]:
    """Run the round's call in the sandbox; the follow-up as the tool loop writes it."""
    result = tools.run(call_of(text), images)
    observation = json.loads(result.observation)
    if result.images:
        observation["images"] = [image.name for image in result.images]
    made = [image.data for image in result.images]
    return [*messages, assistant(text), observation_message(observation, *made)]


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGB").tobytes()


@pytest.mark.parametrize("stream", [False, True])
def test_the_code_round_stops_the_sandbox_runs_it_and_the_crop_gets_the_answer(
    self_hosted_server: LocalR1V4Server, tools: R1V4Tools, stream: bool
) -> None:
    server = self_hosted_server
    picture = gradient((64, 48))
    first = [user("What is in the middle?", picture)]
    text, reasoning, finish = round_of(post(server, first, stream=stream))
    # A bare server's reply: the call, then nothing; the model stops there.
    assert finish == "stop" and reasoning == ""
    assert text.startswith("<think>") and text.endswith("</tool_call>")
    assert "<observation>" not in text and "<answer>" not in text
    assert call_of(text) == {"name": "code", "arguments": {"code": CROP_CODE}}
    assert server.awaiting_followup == 1

    follow = sandbox_followup(tools, first, text, [picture])
    answer, _, finish = round_of(post(server, follow, stream=stream))
    assert finish == "stop"
    assert answer.endswith("</answer>") and "<tool_call>" not in answer
    assert "Having examined image_0, here is the answer to: What is in the middle?" in answer
    assert server.awaiting_followup == 0

    check = server.last_request.followup
    assert check is not None and check.ok and check.error is None
    assert (check.round, check.tool, check.assistant) == (1, "code", text)
    assert check.observation == {
        "result": "cropped 64x48 to 32x24",
        "type": "code",
        "images": ["crop_0.png"],
    }
    assert check.observation_text.startswith('{"result": "cropped 64x48 to 32x24"')
    (image,) = check.images
    assert (image.format, image.width, image.height) == ("PNG", 32, 24)
    # The code crops the region the hosted scenario's crop shows.
    sent = follow[-1]["content"][1]["image_url"]["url"]
    assert sent.startswith("data:image/png;base64,")
    assert pixels(base64.b64decode(sent.split(",", 1)[1])) == pixels(center_crop(picture))
    assert server.requests[0].followup is None  # the first request continues nothing


def test_without_an_image_the_code_round_computes(
    self_hosted_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    first = [{"role": "user", "content": "How much is it?"}]
    text, _, finish = round_of(post(self_hosted_server, first))
    assert finish == "stop" and call_of(text) == {"name": "code", "arguments": {"code": SUM_CODE}}
    wrong = [*first, assistant(text), observation_message({"result": "284", "type": "code"})]
    assert "it does not contain '285'" in refusal(post(self_hosted_server, wrong))
    follow = sandbox_followup(tools, first, text, [])
    observation = follow[-1]["content"][0]["text"]
    assert observation == '<observation>{"result": "285", "type": "code"}</observation>'
    answer, _, _ = round_of(post(self_hosted_server, follow))
    assert "Having examined no image, here is the answer to: How much is it?" in answer


RESULTS: dict[str, Any] = {
    "text_search": [{"title": "Observatory", "url": "https://example.org/a", "snippet": "A hill."}],
    "image_search": [
        {"title": "Dome", "source": "https://example.org/d.jpg", "link": "https://example.org/d"}
    ],
    "web_content": [{"url": "https://example.com/observatory", "title": "Obs", "content": "Text"}],
}


def unavailable(tool: str) -> dict[str, str]:
    return {
        "result": f"The {tool} tool is unavailable: no backend is configured for it.",
        "type": tool,
    }


@pytest.mark.parametrize("with_image", [True, False])
@pytest.mark.parametrize("backends", ["results", "unavailable"])
def test_deep_research_stops_at_each_search_and_takes_its_shape(
    self_hosted_server: LocalR1V4Server, with_image: bool, backends: str
) -> None:
    server = self_hosted_server
    messages = [user("Where was this photo taken?", *([gradient((16, 16))] if with_image else []))]
    calls: list[tuple[str, str]] = []
    for _ in range(5):
        text, _, finish = round_of(post(server, messages, enable_search=True, stream=True))
        assert finish == "stop"
        if "<answer>" in text:
            break
        tag = re.search(r"<(text_search|image_search|web_content)>([^<]*)</\1>\Z", text)
        assert tag is not None, text
        assert "<observation>" not in text
        calls.append((tag[1], tag[2]))
        observation = RESULTS[tag[1]] if backends == "results" else unavailable(tag[1])
        messages = [*messages, assistant(text), observation_message(observation)]
        assert server.awaiting_followup == 1
    else:
        pytest.fail("no answer after 5 rounds")
    assert "Based on the search results, here is the answer to: Where was this photo taken?" in text
    expected = [("text_search", "Where was this photo taken?")]
    if with_image:
        expected.append(("image_search", "image_0"))
    expected.append(("web_content", "https://example.com/observatory"))
    assert calls == expected
    assert server.awaiting_followup == 0
    checks = [r.followup for r in server.requests[1:]]
    assert [c.tool for c in checks if c is not None] == [name for name, _ in expected]
    assert all(c is not None and c.ok and c.images == () for c in checks)


@pytest.mark.parametrize(
    ("observation", "problem"),
    [
        (
            [{"title": "t", "snippet": "s"}],
            "result 0 needs text url (each text_search result is {title, url, snippet})",
        ),
        ({"results": []}, "its \"type\" is None, not 'text_search'"),
        ("nothing found", "it must be a list of {title, url, snippet} results or"),
        (
            {"result": "unavailable", "type": "web_content"},
            "its \"type\" is 'web_content', not 'text_search'",
        ),
    ],
)
def test_a_search_observation_of_the_wrong_shape_is_refused(
    self_hosted_server: LocalR1V4Server, observation: Any, problem: str
) -> None:
    first = [user("Who built it?")]
    text, _, _ = round_of(post(self_hosted_server, first, enable_search=True))
    assert text.endswith("</text_search>")
    wrong = [*first, assistant(text), observation_message(observation)]
    message = refusal(post(self_hosted_server, wrong, enable_search=True))
    assert "the observation answering round 0's text_search call: " + problem in message
    right = [*first, assistant(text), observation_message([])]  # no results is a result
    text, _, _ = round_of(post(self_hosted_server, right, enable_search=True))
    assert text.endswith("</web_content>")


def test_the_planner_answers_in_one_reply(self_hosted_server: LocalR1V4Server) -> None:
    body = {"model": "skywork/r1v4-vl-planner-lite"}
    response = post(self_hosted_server, [user("Plan it.")], **body)
    text, _, finish = round_of(response)
    assert finish == "stop" and text.startswith("<think>") and "<plan>[" in text
    assert self_hosted_server.awaiting_followup == 0


@pytest.mark.parametrize("enable_search", [False, True])
def test_the_hosted_route_runs_its_tools_itself(
    self_hosted_server: LocalR1V4Server, enable_search: bool
) -> None:
    messages = [user("What is in the middle?", gradient((64, 48)))]
    text, _, finish = round_of(
        post(self_hosted_server, messages, api="hosted", enable_search=enable_search)
    )
    assert finish == "stop" and "<observation>" in text and text.endswith("</answer>")
    assert self_hosted_server.awaiting_followup == 0


def test_conversations_interleave_and_each_follow_up_meets_its_own_round(
    self_hosted_server: LocalR1V4Server,
) -> None:
    server = self_hosted_server
    wide, square = gradient((64, 48)), gradient((40, 40), shift=9)
    a = [user("What is in the middle?", wide)]
    b = [user("What is in the middle?", square)]
    text_a, _, _ = round_of(post(server, a))
    text_b, _, _ = round_of(post(server, b))
    # A third, plain request while two rounds wait is a new conversation, not a follow-up.
    text_c, _, _ = round_of(post(server, [user("Another question")]))
    assert call_of(text_c)["arguments"]["code"] == SUM_CODE
    assert server.awaiting_followup == 3

    def follow(messages: list[dict[str, Any]], text: str, crop_of: bytes) -> list[dict[str, Any]]:
        size, _ = pixels(crop_of)
        w, h = size
        observation = {
            "result": f"cropped {w}x{h} to {w // 2}x{h // 2}",
            "type": "code",
            "images": ["crop_0.png"],
        }
        return [*messages, assistant(text), observation_message(observation, center_crop(crop_of))]

    # B's round with A's crop: the size B's code makes is checked, not any crop.
    mixed = follow(b, text_b, wide)
    assert "does not contain 'cropped 40x40 to 20x20'" in refusal(post(server, mixed))
    answer_b, _, _ = round_of(post(server, follow(b, text_b, square)))
    answer_a, _, _ = round_of(post(server, follow(a, text_a, wide)))
    assert answer_a.endswith("</answer>") and answer_b.endswith("</answer>")
    assert server.awaiting_followup == 1
    server.reset()
    assert server.awaiting_followup == 0


def test_a_request_sent_again_is_a_new_conversation(self_hosted_server: LocalR1V4Server) -> None:
    # A bare server cannot tell a request sent again from a new one with the same messages.
    first = [user("What is in the middle?", gradient((8, 8)))]
    once, _, _ = round_of(post(self_hosted_server, first))
    again, _, _ = round_of(post(self_hosted_server, first))
    assert once == again and self_hosted_server.awaiting_followup == 2
