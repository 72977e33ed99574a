"""Thinking with images in LlamaIndex: the server's crops as ImageBlocks in the trace.

Over loopback against the local server, whose agent scenario really crops the picture sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock
from llama_index.core.embeddings import MockEmbedding, MockMultiModalEmbedding
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
from llama_index.core.query_engine import SimpleMultiModalQueryEngine
from llama_index.core.schema import Document, ImageDocument
from llama_index_instrumentation import get_dispatcher  # llama_index.core re-exports it untyped
from pictures import gradient, png, uri
from PIL import Image

from llama_index_r1v4 import R1V4, GeneratedImageBlock, get_images
from r1v4.testing import LocalR1V4Server, Reply, answer, general_transcript, think, tool_call

KEY = "test-key"


def middle(picture: bytes) -> bytes:
    img = Image.open(io.BytesIO(picture)).convert("RGB")
    w, h = img.size
    pixels: bytes = img.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4)).tobytes()
    return pixels  # typed here: Pillow 10.0, the floor, ships no types


PICTURE = gradient((64, 48))


@pytest.fixture()
def agent() -> Any:
    with LocalR1V4Server(api_key=KEY, scenario="agent") as server:
        yield server


def llm_for(server: LocalR1V4Server, **kw: Any) -> R1V4:
    return R1V4(api_key=KEY, base_url=server.base_url, **kw)


def question(picture: bytes = PICTURE) -> list[ChatMessage]:
    return [
        ChatMessage(
            role="user",
            blocks=[
                ImageBlock(image=picture, image_mimetype="image/png"),
                TextBlock(text="What is in the middle of the picture?"),
            ],
        )
    ]


def check_crop(message: ChatMessage, picture: bytes = PICTURE) -> None:
    [image] = get_images(message)
    assert (image.mime_type, image.width, image.height) == ("image/png", 32, 24)
    assert Image.open(io.BytesIO(image.data)).convert("RGB").tobytes() == middle(picture)
    [block] = message.additional_kwargs["generated_images"]
    assert isinstance(block, ImageBlock) and isinstance(block, GeneratedImageBlock)
    assert block.tool_call_id == message.additional_kwargs["server_tool_calls"][0]["id"]
    assert isinstance(block.image, bytes)
    assert base64.b64decode(block.image or b"") == image.data
    # The trace, not the answer: no block of the message holds it, its text has no base64.
    assert not any(isinstance(b, ImageBlock) for b in message.blocks)
    assert "base64" not in (message.content or "")
    [result] = message.additional_kwargs["server_tool_results"]
    assert result["output"]["images"] == [{"type": "image", "id": image.id}]


def test_chat_puts_the_crop_in_the_trace(agent: LocalR1V4Server) -> None:
    response = llm_for(agent).chat(question())
    check_crop(response.message)
    assert get_images(response) == get_images(response.message)


@pytest.mark.parametrize("chunk_size", [1, 9, 100_000])
def test_stream_chat_gives_the_image_with_the_chunk_where_it_completes(
    agent: LocalR1V4Server, chunk_size: int
) -> None:
    crop = png((10, 6), "green")
    text = general_transcript(crops=[uri(crop)])
    agent.enqueue(Reply(content=text, chunk_size=chunk_size))
    responses = list(llm_for(agent).stream_chat([ChatMessage(role="user", content="q")]))
    counts = [len(get_images(r)) for r in responses]
    results = [len(r.message.additional_kwargs.get("server_tool_results", ())) for r in responses]
    first = counts.index(1)
    assert counts[first:] == [1] * (len(counts) - first)  # once there, it stays
    assert results[first] == 0 or chunk_size == 100_000  # it came before its observation
    assert not any(r.delta for r in responses[: first + 1] if chunk_size < 100_000)
    assert get_images(responses[-1])[0].data == crop
    agent.enqueue(Reply(content=text))
    whole = llm_for(agent).chat([ChatMessage(role="user", content="q")])
    assert get_images(whole) == get_images(responses[-1])


def test_async_chat_and_stream(agent: LocalR1V4Server) -> None:
    async def run() -> tuple[Any, list[Any]]:
        llm = llm_for(agent)
        whole = await llm.achat(question())
        gen = await llm.astream_chat(question())
        return whole, [r async for r in gen]

    whole, streamed = asyncio.run(run())
    check_crop(whole.message)
    check_crop(streamed[-1].message)


def test_several_images_and_a_truncated_one(agent: LocalR1V4Server) -> None:
    good = [uri(png((4 + i, 4), "red")) for i in range(3)]
    bad = uri(png((9, 9), "blue"))[:-8]
    body = json.dumps({"images": [*good, bad], "result": "four crops"})
    text = think("crop") + tool_call("code", {"code": "..."}) + f"<observation>{body}</observation>"
    text += answer("Done.")
    agent.enqueue(Reply(content=text, chunk_size=4, repeat=2))
    llm = llm_for(agent)
    messages = [ChatMessage(role="user", content="q")]
    for response in (llm.chat(messages), list(llm.stream_chat(messages))[-1]):
        assert [i.data_uri for i in get_images(response)] == good
        kwargs = response.message.additional_kwargs
        assert [i["kind"] for i in kwargs["transcript_issues"]] == ["invalid_image"]
        assert kwargs["server_tool_results"][0]["output"]["images"][3] == bad
        assert response.message.content == "Done."


def test_images_survive_a_memory_round_trip_and_never_go_back(agent: LocalR1V4Server) -> None:
    first = llm_for(agent).chat(question())
    stored = ChatMessage.model_validate_json(first.message.model_dump_json())
    assert get_images(stored) == get_images(first)
    for history in ("answer", "transcript"):
        llm_for(agent, history=history).chat(
            [*question(), stored, ChatMessage(role="user", content="And?")]
        )
        sent = agent.requests[-1].messages[1]
        assert sent["role"] == "assistant" and "base64" not in json.dumps(sent)
        if history == "transcript":
            assert "[generated image omitted]" in sent["content"]


# -- the multi-modal query engine ------------------------------------------------------------


class ChatResponses(BaseEventHandler):
    """Keeps the ChatResponse of every LLM chat: how an app sees past a query engine."""

    responses: list[Any]

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatEndEvent):
            self.responses.append(event.response)


@pytest.fixture()
def chat_responses() -> Any:
    handler = ChatResponses(responses=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        yield handler.responses
    finally:
        dispatcher.event_handlers.remove(handler)


# The issue this answers names SimpleMultiModalQueryEngine; LlamaIndex 0.14.23 deprecated it.
@pytest.mark.filterwarnings("ignore:Call to deprecated class SimpleMultiModalQueryEngine")
def test_multi_modal_query_engine_answers_through_r1v4(
    agent: LocalR1V4Server, chat_responses: list[Any]
) -> None:
    pictures = {
        name: gradient((48, 32), shift) for name, shift in (("a", 0), ("b", 90), ("c", 180))
    }
    docs: list[Document] = [
        ImageDocument(
            image=base64.b64encode(data).decode(),
            image_mimetype="image/png",
            text=f"photo {name}",
            metadata={"name": name},
        )
        for name, data in pictures.items()
    ]
    docs.append(Document(text="The photos show colour gradients from a test card."))
    index = MultiModalVectorStoreIndex.from_documents(
        docs,
        embed_model=MockEmbedding(embed_dim=8),
        image_embed_model=MockMultiModalEmbedding(embed_dim=8),
    )
    llm = llm_for(agent)
    # Built directly: index.as_query_engine() warns for any LLM without "multi" in its name.
    engine = SimpleMultiModalQueryEngine(
        index.as_retriever(similarity_top_k=4, image_similarity_top_k=2), multi_modal_llm=llm
    )
    response = engine.query("What do the photos show?")
    # The retrieved pictures went to R1V4 as images, the text context as text.
    assert response.metadata is not None
    retrieved = [n.node.metadata["name"] for n in response.metadata["image_nodes"]]
    request = agent.requests[-1]
    assert len(retrieved) >= 2 and len(request.images) == len(retrieved)
    assert [i.sha256 for i in request.images] == [
        hashlib.sha256(pictures[n]).hexdigest() for n in retrieved
    ]
    assert "colour gradients from a test card" in request.last_user_text
    assert str(response).startswith("Having examined image_0, image_1")
    assert "base64" not in str(response)
    # The model's crop of the first retrieved picture is in the trace of its chat response.
    [chat_response] = chat_responses
    [image] = get_images(chat_response)
    assert Image.open(io.BytesIO(image.data)).convert("RGB").tobytes() == middle(
        pictures[retrieved[0]]
    )


def test_the_standard_engine_in_multimodal_mode_too(
    agent: LocalR1V4Server, chat_responses: list[Any]
) -> None:
    """LlamaIndex 0.14.23 deprecates SimpleMultiModalQueryEngine for this: same outcome."""
    from llama_index.core.query_engine import RetrieverQueryEngine

    pictures = [gradient((40, 40), shift) for shift in (0, 120)]
    docs = [
        ImageDocument(
            image=base64.b64encode(p).decode(), image_mimetype="image/png", text=f"photo {n}"
        )
        for n, p in enumerate(pictures)
    ]
    index = MultiModalVectorStoreIndex.from_documents(
        docs,
        embed_model=MockEmbedding(embed_dim=8),
        image_embed_model=MockMultiModalEmbedding(embed_dim=8),
    )
    llm = llm_for(agent)
    engine = RetrieverQueryEngine.from_args(
        retriever=index.as_retriever(similarity_top_k=2, image_similarity_top_k=2),
        llm=llm,
        multimodal=True,
    )
    response = engine.query("What do the photos show?")
    request = agent.requests[-1]
    assert len(request.images) >= 1 and "What do the photos show?" in request.last_user_text
    assert "base64" not in str(response)
    [image] = get_images(chat_responses[-1])
    sent = {hashlib.sha256(p).hexdigest(): p for p in pictures}[request.images[0].sha256]
    assert Image.open(io.BytesIO(image.data)).convert("RGB").tobytes() == middle(sent)
