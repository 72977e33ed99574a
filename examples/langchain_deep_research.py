"""Deep research: R1V4 searches the web and images on the server, then answers with sources.

    python examples/langchain_deep_research.py

``enable_search=True`` turns on the hosted API's deep-research mode. The searches it ran are in
``additional_kwargs["server_tool_calls"]``; what they found is in ``get_sources(reply)``; with
``output_version="v1"`` the answer's text block carries the sources as citations.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

from _backend import backend

from langchain_r1v4 import ChatR1V4, get_sources


def main() -> None:
    with backend() as b:
        llm = ChatR1V4(enable_search=True, output_version="v1", **b.client_kwargs)
        reply = llm.invoke("Which observatory hosts the largest optical telescope in Europe?")

    for block in reply.content_blocks:
        if block["type"] == "server_tool_call":
            print(f"searched: {block['name']} {block['args']}")
        elif block["type"] == "text":
            print("\nanswer:", block["text"])
    print("\nsources:")
    for n, source in enumerate(get_sources(reply), 1):
        link = source.url or source.image_url
        print(f"  [{n}] {source.title or '(untitled)'} - {link} ({source.kind})")


if __name__ == "__main__":
    main()
