"""A LlamaIndex RAG query engine over a few local documents, answered by R1V4.

    python examples/llama_index_rag.py

``Settings.llm = R1V4()`` is all a query engine needs. The answer streams as plain text: R1V4's
reasoning and its own tool trace never reach the response, only the answer does.
``MockEmbedding`` keeps the example free of an embedding service (it retrieves every document
here); use a real embedding model in an application.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

from pathlib import Path

from _backend import Backend, backend
from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding

from llama_index_r1v4 import R1V4

DOCS = Path(__file__).parent / "llama_index_rag_docs"
QUESTION = "How large is the biggest telescope on La Palma, and why are the skies there so dark?"


def script_local_model(b: Backend) -> None:
    """What a real R1V4 would answer (only the local server needs telling)."""
    from r1v4.testing import Reply, answer, think

    b.script(
        Reply(
            content=think("The context names the GTC's mirror size and the 1988 sky law.")
            + answer(
                "The Gran Telescopio Canarias has a 10.4-metre segmented mirror. The skies stay "
                "dark because a 1988 law makes street lights point down and use amber light."
            ),
            chunk_size=6,
        )
    )


def main() -> None:
    with backend() as b:
        if b.local:
            script_local_model(b)
        Settings.llm = R1V4(**b.client_kwargs)
        Settings.embed_model = MockEmbedding(embed_dim=64)
        documents = SimpleDirectoryReader(str(DOCS)).load_data()
        index = VectorStoreIndex.from_documents(documents)
        engine = index.as_query_engine(streaming=True, similarity_top_k=3)

        print("question:", QUESTION)
        print("answer: ", end="", flush=True)
        response = engine.query(QUESTION)
        for token in response.response_gen:  # type: ignore[union-attr]
            print(token, end="", flush=True)
        print("\n\nread from:")
        for node in response.source_nodes:
            print(f"  - {node.metadata.get('file_name')}")


if __name__ == "__main__":
    main()
