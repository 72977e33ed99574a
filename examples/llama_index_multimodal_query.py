"""LlamaIndex's multi-modal query engine over a few pictures, answered by R1V4.

    python examples/llama_index_multimodal_query.py

``SimpleMultiModalQueryEngine`` retrieves image documents (and text) and sends the pictures to
R1V4 as images; R1V4 may crop and zoom into them with its own code tool before it answers. The
query engine returns only the answer, so the crops are read from the chat response itself,
seen through LlamaIndex's instrumentation: ``get_images(response)``.
``MockEmbedding`` keeps the example free of an embedding service (it retrieves every picture
here); use real text and image embeddings in an application. LlamaIndex 0.14.23 and later
also offer ``RetrieverQueryEngine.from_args(..., multimodal=True)``, which works the same.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

import base64
import io
import warnings
from typing import Any

from _backend import Backend, backend
from llama_index.core.embeddings import MockEmbedding, MockMultiModalEmbedding
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
from llama_index.core.query_engine import SimpleMultiModalQueryEngine
from llama_index.core.schema import Document, ImageDocument

from llama_index_r1v4 import R1V4, get_images

QUESTION = "Which of these signs is open?"


def picture(word: str, colour: str) -> str:
    """A small sign, as base64 PNG."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (200, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 35, 150, 85), fill=colour)
    draw.text((80, 53), word, fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def script_local_model(b: Backend) -> None:
    """What a real R1V4 would answer (only the local server needs telling); its code tool
    really crops the first picture it was sent."""
    from r1v4.testing import RecordedRequest, Reply, center_crop, data_uri, general_transcript

    def reply(request: RecordedRequest) -> Reply:
        first = next(
            part["image_url"]["url"]
            for message in request.body["messages"]
            if isinstance(message["content"], list)
            for part in message["content"]
            if part.get("type") == "image_url"
        )
        picture = base64.b64decode(first.partition(",")[2])
        return Reply(
            content=general_transcript(
                QUESTION,
                "The bakery's sign says OPEN; the pharmacy's says CLOSED.",
                crops=[data_uri(center_crop(picture))],
            ),
            chunk_size=8,
        )

    b.script(reply)


class ChatResponses(BaseEventHandler):
    """Keeps every chat response an LLM gives, whatever engine asked for it."""

    responses: list[Any]

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatEndEvent):
            self.responses.append(event.response)


def main() -> None:
    signs = {"bakery": ("OPEN", "green"), "pharmacy": ("CLOSED", "red")}
    documents: list[Document] = [
        ImageDocument(
            image=picture(word, colour),
            image_mimetype="image/png",
            text=f"the sign of the {shop}",
            metadata={"shop": shop},
        )
        for shop, (word, colour) in signs.items()
    ]
    documents.append(Document(text="Both shops are on the market square."))
    seen = ChatResponses(responses=[])
    get_dispatcher().add_event_handler(seen)

    with backend() as b:
        if b.local:
            script_local_model(b)
        index = MultiModalVectorStoreIndex.from_documents(
            documents,
            embed_model=MockEmbedding(embed_dim=8),
            image_embed_model=MockMultiModalEmbedding(embed_dim=8),
        )
        with warnings.catch_warnings():
            # Deprecated in favour of the standard engines' multimodal mode (see above).
            warnings.simplefilter("ignore", DeprecationWarning)
            engine = SimpleMultiModalQueryEngine(
                index.as_retriever(similarity_top_k=3, image_similarity_top_k=2),
                multi_modal_llm=R1V4(**b.client_kwargs),
            )
        response = engine.query(QUESTION)

    shops = [n.node.metadata["shop"] for n in response.metadata["image_nodes"]]
    print(f"pictures sent to R1V4: {', '.join(shops)}")
    for made in get_images(seen.responses[-1]):
        print(
            f"R1V4 made {made.id}: {made.mime_type} {made.width}x{made.height} ({made.size} bytes)"
        )
    print(f"answer: {response}")


if __name__ == "__main__":
    main()
