"""Thinking with images in LangChain: the crops the server's tools make, as LangChain images.

Over loopback against the local server, whose agent scenario really crops the picture sent.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from pictures import gradient, png, uri
from PIL import Image

from langchain_r1v4 import ChatR1V4, get_images, get_sources
from r1v4.testing import (
    LocalR1V4Server,
    Reply,
    answer,
    deep_research_transcript,
    general_transcript,
    think,
    tool_call,
)

API_KEY = "test-key"


PICTURE = gradient((64, 48))


def question() -> HumanMessage:
    return HumanMessage(
        content=[
            {"type": "text", "text": "What is in the middle of the picture?"},
            {
                "type": "image",
                "base64": base64.b64encode(PICTURE).decode(),
                "mime_type": "image/png",
            },
        ]
    )


def expected_crop() -> bytes:
    pixels: bytes = Image.open(io.BytesIO(PICTURE)).crop((16, 12, 48, 36)).tobytes()
    return pixels  # typed here: Pillow 10.0, the floor, ships no types


def aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    return full


@pytest.fixture()
def agent() -> Any:
    with LocalR1V4Server(api_key=API_KEY, scenario="agent") as server:
        yield server


def llm_for(server: LocalR1V4Server, **kw: Any) -> ChatR1V4:
    return ChatR1V4(api_key=API_KEY, base_url=server.base_url, **kw)


def check_crop(message: BaseMessage) -> None:
    [image] = get_images(message)
    assert (image.mime_type, image.width, image.height) == ("image/png", 32, 24)
    assert image.tool_call_id == message.additional_kwargs["server_tool_calls"][0]["id"]
    assert Image.open(io.BytesIO(image.data)).convert("RGB").tobytes() == expected_crop()
    # Never in the answer, and the observation refers to the image instead of holding it.
    assert isinstance(message.content, str) and "base64" not in message.content
    [result] = message.additional_kwargs["server_tool_results"]
    assert result["output"]["images"] == [{"type": "image", "id": image.id}]
    assert "base64" not in json.dumps(result)


def test_invoke_v0_keeps_the_crop_beside_the_trace(agent: LocalR1V4Server) -> None:
    message = llm_for(agent).invoke([question()])
    check_crop(message)
    [block] = message.additional_kwargs["generated_images"]
    assert block["type"] == "image" and block["mime_type"] == "image/png"
    # The one copy of the image: the transcript kept for history holds a placeholder.
    assert "[generated image omitted]" in message.response_metadata["raw_content"]
    assert block["base64"] not in message.response_metadata["raw_content"]
    assert base64.b64decode(block["base64"]) == get_images(message)[0].data


@pytest.mark.parametrize("chunk_size", [1, 7, 100_000])
def test_stream_delivers_the_image_on_the_chunk_where_it_completes(
    agent: LocalR1V4Server, chunk_size: int
) -> None:
    crop = uri(png((20, 10), "green"))
    text = general_transcript(crops=[crop])
    agent.enqueue(Reply(content=text, chunk_size=chunk_size))
    chunks = list(llm_for(agent).stream("q"))
    kinds: list[str] = []
    for chunk in chunks:
        if chunk.additional_kwargs.get("server_tool_calls"):
            kinds.append("call")
        if chunk.additional_kwargs.get("generated_images"):
            kinds.append("image")
        if chunk.additional_kwargs.get("server_tool_results"):
            kinds.append("result")
        if chunk.content:
            kinds.append("answer")
    assert kinds[: kinds.index("answer")] == ["call", "image", "result"]
    [with_image] = [c for c in chunks if c.additional_kwargs.get("generated_images")]
    assert not with_image.content  # an image never rides on answer text
    full = aggregate(chunks)
    [image] = get_images(full)
    assert image.data_uri == crop
    agent.enqueue(Reply(content=text))
    whole = llm_for(agent).invoke("q")
    assert whole.additional_kwargs == full.additional_kwargs


def test_v1_puts_standard_image_blocks_in_the_result_of_their_call(
    agent: LocalR1V4Server,
) -> None:
    shots = [uri(png((8, 8), "red")), uri(png((6, 4), "blue"))]
    text = general_transcript(rounds=2, crops=shots)
    agent.enqueue(Reply(content=text, chunk_size=5, repeat=2))
    llm = llm_for(agent, output_version="v1")
    message = llm.invoke("q")
    full = aggregate(list(llm.stream("q")))
    for msg in (message, full):
        blocks = [b for b in msg.content if isinstance(b, dict) and b["type"] != "reasoning"]
        assert [b["type"] for b in blocks] == ["server_tool_call", "server_tool_result"] * 2 + [
            "text"
        ]
        calls, results = blocks[0:4:2], blocks[1:4:2]
        for call, result, shot in zip(calls, results, shots, strict=True):
            assert result["tool_call_id"] == call["id"] and result["status"] == "success"
            image, observation = result["output"]
            assert image["type"] == "image" and image["mime_type"] == "image/png"
            assert "data:image/png;base64," + image["base64"] == shot
            assert image["extras"]["tool_call_id"] == call["id"]
            assert observation["images"] == [{"type": "image", "id": image["id"]}]
        assert [i.data_uri for i in get_images(msg)] == shots
    strip = [
        {k: v for k, v in b.items() if k != "index"}
        for b in full.content
        if isinstance(b, dict) and b["type"] != "reasoning"
    ]
    assert strip == [
        {k: v for k, v in b.items() if k != "index"}
        for b in message.content
        if isinstance(b, dict) and b["type"] != "reasoning"
    ]


def test_stream_events_v3_with_images(agent: LocalR1V4Server) -> None:
    from langchain_tests.utils.stream_lifecycle import assert_valid_event_stream

    agent.enqueue(Reply(content=general_transcript(crops=[uri(png((5, 5), "red"))]), chunk_size=4))
    stream = llm_for(agent).stream_events("q", version="v3")
    events = list(stream)
    assert_valid_event_stream(events)
    blocks = stream.output.content_blocks
    kinds = [b["type"] for b in blocks]
    # The image streams as its own block where it completes, before its observation.
    assert kinds == ["reasoning", "server_tool_call", "image", "server_tool_result", "text"]
    assert blocks[2]["extras"]["tool_call_id"] == blocks[1]["id"]  # type: ignore[typeddict-item]
    assert blocks[3]["output"]["images"] == [{"type": "image", "id": blocks[2]["id"]}]  # type: ignore[typeddict-item]


def test_several_images_and_a_truncated_one(agent: LocalR1V4Server) -> None:
    good = [uri(png((4 + i, 4), "red")) for i in range(3)]
    bad = uri(png((9, 9), "blue"))[:-8]
    body = json.dumps({"images": [*good, bad], "result": "four crops"})
    text = think("crop") + tool_call("code", {"code": "..."}) + f"<observation>{body}</observation>"
    text += answer("Done.")
    agent.enqueue(Reply(content=text, chunk_size=3, repeat=2))
    llm = llm_for(agent)
    for message in (llm.invoke("q"), aggregate(list(llm.stream("q")))):
        assert [i.data_uri for i in get_images(message)] == good
        [issue] = message.response_metadata["transcript_issues"]
        assert issue["kind"] == "invalid_image"
        output = message.additional_kwargs["server_tool_results"][0]["output"]
        assert output["images"][:3] == [{"type": "image", "id": f"srvimg_{i}"} for i in range(3)]
        assert output["images"][3] == bad  # the text of a bad image is kept
        assert message.content == "Done."


def test_sources_stream_on_the_chunk_where_their_observation_completes(
    agent: LocalR1V4Server,
) -> None:
    agent.enqueue(Reply(content=deep_research_transcript(results=2), chunk_size=6))
    chunks = list(llm_for(agent, enable_search=True).stream("q"))
    with_sources = [n for n, c in enumerate(chunks) if c.response_metadata.get("sources")]
    with_results = [
        n for n, c in enumerate(chunks) if c.additional_kwargs.get("server_tool_results")
    ]
    first_answer = next(n for n, c in enumerate(chunks) if c.content)
    assert with_sources == with_results  # each search's sources come with its observation
    assert max(with_sources) < first_answer
    assert "sources" not in chunks[-1].response_metadata
    urls = [s.url for s in get_sources(aggregate(chunks))]
    assert urls[:2] == ["https://example.com/search/1", "https://example.com/search/2"]
    assert len(urls) == len(set(urls))  # each once


def test_history_transcript_sends_no_image_back(agent: LocalR1V4Server) -> None:
    first = llm_for(agent).invoke([question()])
    assert get_images(first)
    for history in ("answer", "transcript"):
        llm = llm_for(agent, history=history)
        llm.invoke([question(), first, HumanMessage("And the colour?")])
        sent = agent.requests[-1].messages[1]
        assert sent["role"] == "assistant" and "base64" not in json.dumps(sent)
        if history == "transcript":
            assert "[generated image omitted]" in sent["content"]
            assert "<observation>" in sent["content"]


def test_an_aimessage_without_images_has_none() -> None:
    assert get_images(AIMessage("plain")) == []
