"""Every ``ImageBlock`` form reaches the server intact: the server decodes what arrived."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    CitableBlock,
    DocumentBlock,
    ImageBlock,
    TextBlock,
)

import r1v4
from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server, make_image

PNG = make_image("PNG", (4, 3), (255, 0, 0))
JPEG = make_image("JPEG", (10, 10), (0, 0, 255))
GIF = make_image("GIF", (5, 7), (0, 255, 0))


def ask(*blocks: ImageBlock) -> list[ChatMessage]:
    return [ChatMessage(role="user", blocks=[*blocks, TextBlock(text="What is this?")])]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sent_images(server: LocalR1V4Server) -> list[tuple[str, int, int, str, str]]:
    return [
        (i.format, i.width, i.height, i.sha256, i.mime_type) for i in server.last_request.images
    ]


def data_uris(server: LocalR1V4Server) -> list[str]:
    content = server.last_request.messages[-1]["content"]
    return [p["image_url"]["url"] for p in content if p["type"] == "image_url"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"png": tmp_path / "red.png", "jpeg": tmp_path / "blue.jpg", "lying": tmp_path / "x.png"}
    out["png"].write_bytes(PNG)
    out["jpeg"].write_bytes(JPEG)
    out["lying"].write_bytes(JPEG)  # a JPEG named .png
    return out


def allowing_private_urls(llm: R1V4) -> R1V4:
    """``llm`` that may fetch image URLs from a private address, such as the loopback host."""
    return llm.model_copy(update={"allow_private_urls": True})


def test_bytes_path_url_and_data_uri_arrive_intact(
    llm: R1V4, r1v4_server: LocalR1V4Server, files: dict[str, Path], image_host: Any
) -> None:
    llm = allowing_private_urls(llm)  # the image host is on loopback
    blocks = [
        ImageBlock(image=PNG),
        ImageBlock(path=files["jpeg"]),
        ImageBlock(url=image_host.url_for("/red.png")),
        ImageBlock(url=f"data:image/gif;base64,{base64.b64encode(GIF).decode()}"),
    ]
    reply = llm.chat(ask(*blocks))
    assert sent_images(r1v4_server) == [
        ("PNG", 4, 3, sha(PNG), "image/png"),
        ("JPEG", 10, 10, sha(JPEG), "image/jpeg"),
        ("PNG", 4, 3, sha(PNG), "image/png"),
        ("GIF", 5, 7, sha(GIF), "image/gif"),
    ]
    assert reply.message.content == (
        "I saw 4 image(s): PNG 4x3, JPEG 10x10, PNG 4x3, GIF 5x7. You said: What is this?"
    )


def test_async_paths_fetch_and_read_images(
    llm: R1V4, r1v4_server: LocalR1V4Server, files: dict[str, Path], image_host: Any
) -> None:
    llm = allowing_private_urls(llm)  # the image host is on loopback
    blocks = [
        ImageBlock(url=image_host.url_for("/photo")),  # served as application/octet-stream
        ImageBlock(path=files["png"]),
        ImageBlock(image=JPEG),
    ]

    async def run() -> None:
        await llm.achat(ask(*blocks))
        [r async for r in await llm.astream_chat(ask(*blocks))]

    asyncio.run(run())
    for request in r1v4_server.requests:
        assert [(i.format, i.sha256) for i in request.images] == [
            ("JPEG", sha(JPEG)),
            ("PNG", sha(PNG)),
            ("JPEG", sha(JPEG)),
        ]


def test_real_mime_type_is_sent_never_data_none(
    llm: R1V4, r1v4_server: LocalR1V4Server, files: dict[str, Path], image_host: Any
) -> None:
    llm = allowing_private_urls(llm)  # the image host is on loopback
    raw_b64 = base64.b64encode(JPEG).decode()
    blocks = [
        ImageBlock(image=JPEG, image_mimetype="image/png"),  # a wrong declaration
        ImageBlock(path=files["lying"]),  # a wrong file extension
        ImageBlock(url=f"data:None;base64,{raw_b64}"),  # what inline_url() makes without a type
        ImageBlock(url=image_host.url_for("/photo")),  # a wrong Content-Type
        ImageBlock(image=io.BytesIO(JPEG)),
    ]
    list(llm.stream_chat(ask(*blocks)))
    uris = data_uris(r1v4_server)
    assert len(uris) == 5
    assert all(u.startswith("data:image/jpeg;base64,") for u in uris)
    assert {i.sha256 for i in r1v4_server.last_request.images} == {sha(JPEG)}


def test_detail_is_passed_through(llm: R1V4, r1v4_server: LocalR1V4Server) -> None:
    llm.chat(ask(ImageBlock(image=PNG, detail="low")))
    part = r1v4_server.last_request.messages[-1]["content"][0]
    assert part["image_url"]["detail"] == "low"


def test_images_in_assistant_history_and_tool_results(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    messages = [
        ChatMessage(role="user", blocks=[ImageBlock(image=PNG), TextBlock(text="first")]),
        ChatMessage(role="assistant", content="A red square."),
        ChatMessage(role="user", blocks=[ImageBlock(image=JPEG), TextBlock(text="and this?")]),
    ]
    llm.chat(messages)
    assert [i.format for i in r1v4_server.last_request.images] == ["PNG", "JPEG"]
    assert r1v4_server.last_request.messages[1] == {"role": "assistant", "content": "A red square."}


def test_bad_images_fail_before_any_request(
    llm: R1V4, r1v4_server: LocalR1V4Server, tmp_path: Path, image_host: Any
) -> None:
    gone = tmp_path / "gone.png"
    gone.write_bytes(PNG)
    missing = ImageBlock(path=gone)
    gone.unlink()  # deleted between building the message and sending it
    with pytest.raises(r1v4.ImageError):
        llm.chat(ask(missing))
    with pytest.raises(r1v4.ImageError):
        llm.chat(ask(ImageBlock(image=b"this is not an image at all, just text")))
    with pytest.raises(r1v4.ImageError):
        llm.chat(ask(ImageBlock(url=image_host.url_for("/nothing-here.png"))))
    with pytest.raises(r1v4.ImageError):
        asyncio.run(llm.achat(ask(ImageBlock(url=image_host.url_for("/nothing-here.png")))))
    assert r1v4_server.requests == []


def test_an_image_the_adapter_encoded_is_not_decoded_again(
    llm: R1V4, r1v4_server: LocalR1V4Server, image_work: Any
) -> None:
    llm.chat(ask(ImageBlock(image=PNG)))
    assert sent_images(r1v4_server) == [("PNG", 4, 3, sha(PNG), "image/png")]
    # The adapter checked the bytes once; the client trusted the URI it made, decoding nothing.
    assert (image_work.checks, image_work.decodes) == (1, 0)


def test_citable_blocks_send_their_text_and_images_in_place(
    llm: R1V4, r1v4_server: LocalR1V4Server
) -> None:
    cited = CitableBlock(
        title="doc",
        source="doc.pdf",
        content=[TextBlock(text="quoted"), ImageBlock(image=JPEG)],
    )
    message = ChatMessage(role="user", blocks=[ImageBlock(image=PNG), cited, TextBlock(text="?")])
    llm.chat([message])
    parts = r1v4_server.last_request.messages[-1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text", "image_url", "text"]
    assert [p["text"] for p in parts if p["type"] == "text"] == ["quoted", "?"]
    assert [i.format for i in r1v4_server.last_request.images] == ["PNG", "JPEG"]
    pdf = DocumentBlock(data=b"%PDF-1.4 not read", document_mimetype="application/pdf")
    with pytest.raises(r1v4.InvalidRequestError, match="DocumentBlock is not supported"):
        llm.chat(
            [ChatMessage(role="user", blocks=[CitableBlock(title="t", source="s", content=[pdf])])]
        )
