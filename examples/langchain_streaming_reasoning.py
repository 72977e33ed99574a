"""Stream R1V4's reasoning, its server-side tool calls and its answer, each as it arrives.

    python examples/langchain_streaming_reasoning.py

Reasoning comes first, in chunks of its own (``additional_kwargs["reasoning_content"]``);
the agent's own tool calls and observations arrive as they are parsed; ``chunk.content`` is
only ever the answer. Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4
server (see _backend.py).
"""

from __future__ import annotations

import asyncio

from _backend import backend

from langchain_r1v4 import ChatR1V4

DIM, BOLD, RESET = "\033[2m", "\033[1m", "\033[0m"


async def main() -> None:
    with backend() as b:
        llm = ChatR1V4(**b.client_kwargs)
        section = None
        full = None
        async for chunk in llm.astream("Is 1001 a prime number? Check it."):
            full = chunk if full is None else full + chunk
            reasoning = chunk.additional_kwargs.get("reasoning_content")
            if reasoning:
                if section != "thinking":
                    section = "thinking"
                    print(f"\n{BOLD}thinking{RESET}")
                    reasoning = reasoning.lstrip()  # segments after the first start with "\n\n"
                print(f"{DIM}{reasoning}{RESET}", end="", flush=True)
            for call in chunk.additional_kwargs.get("server_tool_calls", []):
                section = "tool"
                print(f"\n{BOLD}-> agent runs {call['name']}{RESET} {call['args']}")
            for result in chunk.additional_kwargs.get("server_tool_results", []):
                section = "tool"
                print(f"{BOLD}<- observation{RESET} {result['output']}")
            if chunk.content:
                if section != "answer":
                    section = "answer"
                    print(f"\n{BOLD}answer{RESET}")
                print(chunk.content, end="", flush=True)
        print()
        if full is not None:
            print(f"\n{DIM}usage: {full.usage_metadata}{RESET}")


if __name__ == "__main__":
    asyncio.run(main())
