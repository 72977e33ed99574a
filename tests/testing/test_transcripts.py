"""The local R1V4 server: the agent scenario and the transcript builders."""

from __future__ import annotations

import json
import re

import httpx

from r1v4.testing import (
    LocalR1V4Server,
    deep_research_transcript,
    general_transcript,
    make_image_data_uri,
    planner_transcript,
)
from testing.support import AUTH, MODEL, chat_body, deltas, parse_sse, url


def tags(text: str) -> list[str]:
    return re.findall(r"<(\w+)>", text)


def test_agent_scenario_matches_the_request() -> None:
    image = {"type": "image_url", "image_url": {"url": make_image_data_uri()}}
    content = [image, {"type": "text", "text": "Where is this?"}]
    with LocalR1V4Server(scenario="agent") as server:
        general = httpx.post(
            url(server),
            json={"model": MODEL, "messages": [{"role": "user", "content": content}]},
            headers=AUTH,
        ).json()["choices"][0]["message"]["content"]
        search = httpx.post(
            url(server),
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": content}],
                "enable_search": True,
                "stream": True,
            },
            headers=AUTH,
        )
        plan = httpx.post(
            url(server),
            json={**chat_body("Plan it"), "model": "skywork/r1v4-vl-planner-lite"},
            headers=AUTH,
        ).json()["choices"][0]["message"]["content"]
    assert tags(general) == ["think", "tool_call", "observation", "think", "answer"]
    assert "Where is this?" in general
    research = deltas(parse_sse(search.content), "content")
    assert tags(research) == [
        "think",
        "text_search",
        "observation",
        "think",
        "image_search",
        "observation",
        "think",
        "web_content",
        "observation",
        "think",
        "answer",
    ]
    assert tags(plan) == ["think", "plan"]


def test_general_transcript_shape() -> None:
    text = general_transcript("Q?", "A.", rounds=2)
    assert tags(text) == ["think", "tool_call", "observation"] * 2 + ["think", "answer"]
    calls = [json.loads(c) for c in re.findall(r"<tool_call>(.*?)</tool_call>", text, re.S)]
    assert calls[0]["name"] == "code"
    assert "code" in calls[0]["arguments"]
    observations = re.findall(r"<observation>(.*?)</observation>", text, re.S)
    assert json.loads(observations[0])["type"] == "code"
    assert re.search(r"<answer>\s*A\.\s*</answer>$", text)


def test_deep_research_transcript_shape() -> None:
    text = deep_research_transcript("Q?", "A.", query="q", image="img.png", url="https://x.y")
    assert "<text_search>q</text_search>" in text
    assert "<image_search>img.png</image_search>" in text
    assert "<web_content>https://x.y</web_content>" in text
    text_obs, image_obs, web_obs = (
        json.loads(o) for o in re.findall(r"<observation>(.*?)</observation>", text, re.S)
    )
    assert set(text_obs[0]) == {"title", "url", "snippet"}
    assert set(image_obs[0]) == {"title", "source", "link"}
    assert web_obs[0]["url"] == "https://x.y"
    assert "image_search" not in deep_research_transcript(image=None)


def test_planner_transcript_shape() -> None:
    text = planner_transcript(
        "Q?", [{"description": "search", "tool_name": "text_search", "parameters": {"query": "q"}}]
    )
    assert text.startswith("<think>\n")
    plan = json.loads(re.search(r"<plan>(.*)</plan>", text, re.S).group(1))  # type: ignore[union-attr]
    assert plan == [
        {"description": "search", "tool_name": "text_search", "parameters": '{"query": "q"}'}
    ]
    default = json.loads(re.search(r"<plan>(.*)</plan>", planner_transcript(), re.S).group(1))  # type: ignore[union-attr]
    assert all(isinstance(step["parameters"], str) for step in default)
