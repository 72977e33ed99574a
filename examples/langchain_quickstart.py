"""Quickstart: ask R1V4 a question with LangChain, then stream the answer.

    python examples/langchain_quickstart.py

Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

from _backend import backend

from langchain_r1v4 import ChatR1V4


def main() -> None:
    with backend() as b:
        llm = ChatR1V4(model="skywork/r1v4-lite", **b.client_kwargs)

        reply = llm.invoke("In one sentence: why do leaves change colour in autumn?")
        print("answer:", reply.content)  # the answer only: no <think>, no tool tags
        print("tokens:", reply.usage_metadata)

        print("\nstreamed: ", end="", flush=True)
        for chunk in llm.stream("Name three primary colours."):
            print(chunk.content, end="", flush=True)  # reasoning chunks have empty content
        print()


if __name__ == "__main__":
    main()
