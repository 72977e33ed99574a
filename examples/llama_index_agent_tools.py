"""A LlamaIndex ``FunctionAgent`` using your tools through R1V4, streaming its thoughts.

    python examples/llama_index_agent_tools.py

``R1V4`` is a ``FunctionCallingLLM``: agents get its calls of your tools as ``ToolCallBlock``s
and its reasoning as ``thinking_delta`` on every ``AgentStream`` event. The default
``tool_mode="auto"`` sends OpenAI ``tools`` where the server supports them and writes them into
the prompt, as R1V4 was trained, where it does not (the hosted API, or vLLM without a tool
parser), so the same agent works on any R1V4 server.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py),
which replays the model's side of the exchange.
"""

from __future__ import annotations

import asyncio

from _backend import Backend, backend
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCall, ToolCallResult

from llama_index_r1v4 import R1V4


def get_weather(city: str) -> str:
    """Current weather in a city, temperature in Celsius."""
    return {"paris": "sunny, 21 °C", "oslo": "snow, -4 °C"}.get(city.lower(), "unknown")


def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from Celsius to Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


def script_local_model(b: Backend) -> None:
    """What a real R1V4 would answer at each turn (only the local server needs telling)."""
    from r1v4.testing import Reply

    b.script(
        Reply(
            reasoning="I need the weather in Paris first.",
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}],
        ),
        Reply(
            reasoning="21 °C; the user wants Fahrenheit, so I convert it.",
            tool_calls=[{"name": "celsius_to_fahrenheit", "arguments": {"celsius": 21}}],
        ),
        Reply(reasoning="21 °C is 69.8 °F.", content="It is sunny in Paris, 21 °C (69.8 °F)."),
    )


async def run(llm: R1V4) -> str:
    agent = FunctionAgent(
        tools=[get_weather, celsius_to_fahrenheit],
        llm=llm,
        system_prompt="You are a helpful assistant. Use the tools when they help.",
    )
    handler = agent.run("What's the weather in Paris, in Fahrenheit?")
    thinking = False
    async for event in handler.stream_events():
        if isinstance(event, AgentStream) and event.thinking_delta:
            if not thinking:
                print("thinking: ", end="")
                thinking = True
            print(event.thinking_delta, end="", flush=True)
        elif isinstance(event, ToolCall) and not isinstance(event, ToolCallResult):
            thinking = False
            print(f"\nagent calls {event.tool_name}({event.tool_kwargs})")
        elif isinstance(event, ToolCallResult):
            print(f"  tool returns {event.tool_output.content}")
    result = await handler
    return str(result.response.content)


def main() -> None:
    with backend() as b:
        if b.local:
            script_local_model(b)
        answer = asyncio.run(run(R1V4(**b.client_kwargs)))
    print(f"\nfinal answer: {answer}")


if __name__ == "__main__":
    main()
