"""The tool loop against the local server's self-hosted mode (issue 22): a bare inference
server that stops at each of R1V4's tool calls and refuses a follow-up that does not carry the
round and its observation (with the crop, for the image question). The server checks the wire;
these tests check that the caller gets the whole trajectory as one reply, on every core path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from core_paths import PATH_IDS, PATHS, complete

from r1v4 import (
    ChatCompletion,
    GeneratedImage,
    ServerToolCall,
    ServerToolResult,
    TranscriptIssue,
)
from r1v4.testing import CROP_CODE, LocalR1V4Server, make_image_data_uri
from r1v4.tools import R1V4Tools

MODEL = "skywork/r1v4-lite"
PICTURE = make_image_data_uri("PNG", (80, 60))


def question(with_image: bool) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "What is in the middle?"}]
    if with_image:
        content.append({"type": "image_url", "image_url": {"url": PICTURE}})
    return [{"role": "user", "content": content}]


@pytest.fixture(scope="module")
def tools() -> R1V4Tools:
    return R1V4Tools()


@pytest.fixture(params=PATHS, ids=PATH_IDS)
def call(request: pytest.FixtureRequest, self_hosted_server: LocalR1V4Server) -> Iterator[Any]:
    def run(**fields: Any) -> ChatCompletion:
        fields.setdefault("model", MODEL)
        return complete(self_hosted_server.base_url, *request.param, **fields)[0]

    yield run


def test_the_image_question_crops_in_the_sandbox_and_answers(
    call: Any, self_hosted_server: LocalR1V4Server, tools: R1V4Tools
) -> None:
    reply = call(messages=question(True), builtin_tools=tools)
    message = reply.message
    follow_ups = [r.followup for r in self_hosted_server.requests if r.followup is not None]
    assert follow_ups and all(f.ok for f in follow_ups), [f.error for f in follow_ups]
    assert follow_ups[0].tool == "code" and len(follow_ups[0].images) == 1
    assert message.content  # the scenario's answer, after the observation
    calls = [e for e in message.events if isinstance(e, ServerToolCall)]
    assert calls[0].name == "code" and calls[0].arguments == {"code": CROP_CODE}
    (image, *_) = [e for e in message.events if isinstance(e, GeneratedImage)]
    assert (image.width, image.height) == (
        follow_ups[0].images[0].width,
        follow_ups[0].images[0].height,
    )
    results = [e for e in message.events if isinstance(e, ServerToolResult)]
    assert len(results) == len(calls) == len(follow_ups)
    assert not [e for e in message.events if isinstance(e, TranscriptIssue)]
    assert reply.choices[0].finish_reason == "stop"


def test_without_builtin_tools_the_first_call_is_unanswered(
    call: Any, self_hosted_server: LocalR1V4Server
) -> None:
    reply = call(messages=question(True))
    issues = [e for e in reply.message.events if isinstance(e, TranscriptIssue)]
    assert [i.kind for i in issues] == ["unanswered_tool_call"]
    assert not [e for e in reply.message.events if isinstance(e, ServerToolCall)]
    self_hosted_server.reset()  # the round it left waiting


def test_deep_research_without_backends_goes_on_with_unavailable_observations(
    call: Any, self_hosted_server: LocalR1V4Server
) -> None:
    reply = call(
        messages=question(False), builtin_tools=R1V4Tools(executor=None), enable_search=True
    )
    follow_ups = [r.followup for r in self_hosted_server.requests if r.followup is not None]
    assert follow_ups and all(f.ok for f in follow_ups), [f.error for f in follow_ups]
    results = [e for e in reply.message.events if isinstance(e, ServerToolResult)]
    assert len(results) == len(follow_ups)
    assert reply.message.content
