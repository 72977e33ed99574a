"""Deep research with LlamaIndex: R1V4 searches on the server, then answers with sources.

    python examples/llama_index_deep_research.py

``enable_search=True`` turns on the hosted API's deep-research mode. The searches it ran are in
``additional_kwargs["server_tool_calls"]``, what they found in ``get_sources(response)``, and
each source is also a ``CitationBlock`` on the message.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

from _backend import backend
from llama_index.core.llms import ChatMessage

from llama_index_r1v4 import R1V4, get_sources


def main() -> None:
    question = "Which observatory hosts the largest optical telescope in Europe?"
    with backend() as b:
        llm = R1V4(enable_search=True, **b.client_kwargs)
        response = llm.chat([ChatMessage(role="user", content=question)])

    for call in response.message.additional_kwargs.get("server_tool_calls", []):
        print(f"searched: {call['name']} {call['args']}")
    print("\nanswer:", response.message.content)
    print("\nsources:")
    for n, source in enumerate(get_sources(response), 1):
        link = source.url or source.image_url
        print(f"  [{n}] {source.title or '(untitled)'} - {link} ({source.kind})")


if __name__ == "__main__":
    main()
