"""Every way a LangChain user writes an image reaches the server intact, in order, beside the
text; what R1V4 cannot read fails before any request."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

from r1v4 import InvalidRequestError
from r1v4.testing import LocalR1V4Server, make_image

# Distinct images (format, size, colour), so a swapped order or a re-encoding would show.
PNG = make_image("PNG", (4, 3), (255, 0, 0))
JPEG = make_image("JPEG", (10, 10), (0, 128, 0))
GIF = make_image("GIF", (5, 5), (0, 0, 255))
WEBP = make_image("WEBP", (6, 2), (200, 200, 0))
PNG_2 = make_image("PNG", (7, 7), (9, 9, 9))
PNG_3 = make_image("PNG", (2, 9), (90, 0, 90))
JPEG_2 = make_image("JPEG", (12, 4), (10, 20, 30))
PNG_4 = make_image("PNG", (3, 3), (1, 2, 3))
PNG_5 = make_image("PNG", (8, 1), (5, 50, 250))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def every_form(image_host: Any) -> tuple[list[Any], list[bytes]]:
    """One text block, then each image form with a text block after it."""
    url_png = image_host.add("/lc-url.png", PNG_2, "image/png")
    url_jpeg = image_host.add("/lc-legacy.jpg", JPEG_2, "image/jpeg")
    blocks: list[Any] = [{"type": "text", "text": "Compare these."}]
    forms: list[tuple[dict[str, Any], bytes]] = [
        # OpenAI chat-completions block, data URI
        ({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG)}"}}, PNG),
        # OpenAI block with the URL as a bare string
        ({"type": "image_url", "image_url": f"data:image/jpeg;base64,{b64(JPEG)}"}, JPEG),
        # LangChain standard block, base64 + mime type
        ({"type": "image", "base64": b64(GIF), "mime_type": "image/gif"}, GIF),
        # standard block whose mime type is wrong (the core reads the type from the bytes;
        # LangChain itself refuses a base64 block with no mime type at all)
        ({"type": "image", "base64": b64(WEBP), "mime_type": "image/png"}, WEBP),
        # standard block, remote URL (downloaded and inlined by the client)
        ({"type": "image", "url": url_png}, PNG_2),
        # legacy v0 block, base64
        (
            {
                "type": "image",
                "source_type": "base64",
                "data": b64(PNG_3),
                "mime_type": "image/png",
            },
            PNG_3,
        ),
        # legacy v0 block, URL
        ({"type": "image", "source_type": "url", "url": url_jpeg}, JPEG_2),
        # Anthropic-style source block
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG_4)},
            },
            PNG_4,
        ),
        # standard block whose url is already a data URI
        ({"type": "image", "url": f"data:image/png;base64,{b64(PNG_5)}"}, PNG_5),
    ]
    expected: list[bytes] = []
    for n, (block, data) in enumerate(forms):
        blocks.append(block)
        blocks.append(f"after image {n}")  # a bare string is a text block too
        expected.append(data)
    return blocks, expected


def check_arrival(server: LocalR1V4Server, expected: list[bytes]) -> None:
    request = server.requests[-1]
    assert [info.sha256 for info in request.images] == [sha(d) for d in expected]
    parts = request.messages[-1]["content"]
    kinds = [p["type"] for p in parts]
    assert kinds == ["text"] + ["image_url", "text"] * len(expected)
    assert [p["text"] for p in parts if p["type"] == "text"][1:] == [
        f"after image {n}" for n in range(len(expected))
    ]
    # The hosted API takes data URIs only: nothing else may leave the client.
    assert all(p["image_url"]["url"].startswith("data:image/") for p in parts if "image_url" in p)


def test_every_image_form_arrives_intact_in_order(
    make_llm: Any, r1v4_server: LocalR1V4Server, image_host: Any
) -> None:
    blocks, expected = every_form(image_host)
    # The image host is on loopback: a private address, fetched only when allowed.
    reply = make_llm(allow_private_urls=True).invoke([HumanMessage(content=blocks)])
    check_arrival(r1v4_server, expected)
    assert reply.content.startswith(f"I saw {len(expected)} image(s): PNG 4x3, JPEG 10x10, GIF 5x5")


async def test_every_image_form_async_stream(
    make_llm: Any, r1v4_server: LocalR1V4Server, image_host: Any
) -> None:
    blocks, expected = every_form(image_host)
    before = len(image_host.hits)
    text = ""
    async for chunk in make_llm(allow_private_urls=True).astream([HumanMessage(content=blocks)]):
        text += chunk.text
    check_arrival(r1v4_server, expected)
    # The two remote images were fetched by the client (on the async path).
    assert len(image_host.hits) - before == 2
    assert text.startswith(f"I saw {len(expected)} image(s)")


def test_detail_is_passed_on(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    block = {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{b64(PNG)}", "detail": "low"},
    }
    make_llm().invoke([HumanMessage(content=[block, {"type": "text", "text": "hi"}])])
    part = r1v4_server.requests[-1].messages[-1]["content"][0]
    assert part["image_url"]["detail"] == "low"


@pytest.mark.parametrize(
    ("block", "named"),
    [
        ({"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"}, "'audio'"),
        (
            # LangChain turns OpenAI's input_audio into a standard audio block before we see it
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            "'audio'",
        ),
        ({"type": "file", "base64": "JVBERi0=", "mime_type": "application/pdf"}, "'file'"),
        ({"type": "video", "url": "https://example.com/v.mp4"}, "'video'"),
        ({"type": "text-plain", "text": "x", "mime_type": "text/plain"}, "'text-plain'"),
        ({"type": "image", "file_id": "file-abc"}, "file id"),
        ({"type": "image", "source_type": "id", "id": "file-abc"}, "file id"),
        ({"type": "image"}, "no base64 data or url"),
        ({"type": "image_url", "image_url": {}}, "without a url"),
        ({"type": "tool_use", "id": "x", "name": "y", "input": {}}, "'tool_use'"),
    ],
)
def test_unreadable_blocks_fail_before_any_request(
    make_llm: Any, r1v4_server: LocalR1V4Server, block: dict[str, Any], named: str
) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "look"}, block])
    with pytest.raises(InvalidRequestError) as info:
        make_llm().invoke([message])
    assert named in str(info.value)
    assert "message 0, block 1" in str(info.value)
    assert r1v4_server.requests == []


async def test_unreadable_block_fails_before_any_request_async(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    message = HumanMessage(content=[{"type": "file", "url": "https://example.com/a.pdf"}])
    with pytest.raises(InvalidRequestError, match="'file'"):
        async for _ in make_llm().astream([message]):
            pass
    assert r1v4_server.requests == []


@pytest.mark.parametrize("message_class", [SystemMessage, ToolMessage])
def test_images_outside_user_messages_are_refused(
    make_llm: Any, r1v4_server: LocalR1V4Server, message_class: Any
) -> None:
    content = [{"type": "image", "base64": b64(PNG), "mime_type": "image/png"}]
    extra = {"tool_call_id": "call_1"} if message_class is ToolMessage else {}
    with pytest.raises(InvalidRequestError, match="only in user messages"):
        make_llm().invoke([message_class(content=content, **extra), HumanMessage("hi")])
    assert r1v4_server.requests == []


def test_broken_image_is_a_typed_error_before_any_request(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    block = {"type": "image", "base64": b64(b"not an image at all"), "mime_type": "image/png"}
    with pytest.raises(InvalidRequestError):
        make_llm().invoke([HumanMessage(content=[block])])
    assert r1v4_server.requests == []


async def test_history_images_are_decoded_once_across_turns(
    make_llm: Any, r1v4_server: LocalR1V4Server, image_work: Any
) -> None:
    llm = make_llm()
    history: list[Any] = [
        HumanMessage(
            content=[
                {"type": "text", "text": "What is this?"},
                {"type": "image", "base64": b64(PNG), "mime_type": "image/png"},
            ]
        )
    ]
    for turn in range(3):
        reply = llm.invoke(history) if turn % 2 == 0 else await llm.ainvoke(history)
        assert [i.sha256 for i in r1v4_server.last_request.images] == [sha(PNG)]
        history += [reply, HumanMessage(content=f"And now? ({turn})")]
    # The adapter builds a new data URI from the block each turn; the core knows it already.
    assert (image_work.decodes, image_work.checks) == (1, 1)
