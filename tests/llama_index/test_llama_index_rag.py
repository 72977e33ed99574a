"""R1V4 as ``Settings.llm`` behind LlamaIndex's query and chat engines, over loopback HTTP."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.embeddings import MockEmbedding

from llama_index_r1v4 import R1V4
from r1v4.testing import LocalR1V4Server, Reply, general_transcript

KEY = "test-key"
DOCS = [
    Document(text="The Eiffel Tower is 330 metres tall and stands in Paris."),
    Document(text="Mount Fuji is the highest mountain in Japan, at 3,776 metres."),
    Document(text="The Danube flows through ten countries into the Black Sea."),
]
ANSWER = "The Eiffel Tower is 330 metres tall."
TAGS = ("<think>", "<answer>", "<tool_call>", "<observation>")


@pytest.fixture
def index(r1v4_server: LocalR1V4Server, settings_llm: None) -> VectorStoreIndex:
    Settings.llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url)
    Settings.embed_model = MockEmbedding(embed_dim=8)
    return VectorStoreIndex.from_documents(DOCS)


def context_sent(server: LocalR1V4Server) -> str:
    return "\n".join(str(m.get("content")) for m in server.last_request.messages)


def test_query_engine(index: VectorStoreIndex, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=general_transcript(final_answer=ANSWER)))
    response = index.as_query_engine(similarity_top_k=3).query("How tall is the Eiffel Tower?")
    assert str(response) == ANSWER
    assert "330 metres tall" in context_sent(r1v4_server)
    assert "How tall is the Eiffel Tower?" in context_sent(r1v4_server)


def test_streaming_query_engine(index: VectorStoreIndex, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=general_transcript(final_answer=ANSWER), chunk_size=5))
    response = index.as_query_engine(streaming=True, similarity_top_k=3).query("How tall?")
    assert isinstance(response, StreamingResponse)
    text = "".join(response.response_gen)
    assert text == ANSWER
    assert not any(tag in text for tag in TAGS)
    assert r1v4_server.last_request.body["stream"] is True


def test_async_query_engine(index: VectorStoreIndex, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=f"<think>Look it up.</think>{ANSWER}"))
    engine = index.as_query_engine()
    assert str(asyncio.run(engine.aquery("How tall is the Eiffel Tower?"))) == ANSWER


def test_chat_engine_keeps_reasoning_out_of_history(
    index: VectorStoreIndex, r1v4_server: LocalR1V4Server
) -> None:
    engine = index.as_chat_engine()
    r1v4_server.enqueue(
        Reply(content=f"<think>secret musings</think>{ANSWER}"),
        Reply(content="Eiffel Tower height in Paris?"),  # the condensed question
        Reply(content="It is in Paris."),
    )
    assert str(engine.chat("How tall is the Eiffel Tower?")) == ANSWER
    assert str(engine.chat("Where is it?")) == "It is in Paris."
    sent = "".join(str(r.body) for r in r1v4_server.requests[1:])
    assert ANSWER in sent
    assert "secret musings" not in sent


def test_token_counting_through_a_streaming_query(
    r1v4_server: LocalR1V4Server, settings_llm: None
) -> None:
    counter = TokenCountingHandler()
    Settings.callback_manager = CallbackManager([counter])  # LlamaIndex's documented way
    Settings.llm = R1V4(api_key=KEY, base_url=r1v4_server.base_url)
    Settings.embed_model = MockEmbedding(embed_dim=8)
    index = VectorStoreIndex.from_documents(DOCS)
    usage = {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129}
    r1v4_server.enqueue(Reply(content=ANSWER, usage=usage, chunk_size=4))
    response = index.as_query_engine(streaming=True).query("How tall?")
    assert isinstance(response, StreamingResponse)
    "".join(response.response_gen)
    assert [(e.prompt_token_count, e.completion_token_count) for e in counter.llm_token_counts] == [
        (120, 9)
    ]
