"""A LangChain agent (``create_agent``) using your tools through R1V4, in prompted tool mode.

    python examples/langchain_agent_tools.py

``tool_mode="prompted"`` renders the tools into the system prompt the way R1V4 was trained
(Qwen/Hermes ``<tool_call>`` form) and reads the calls back from the answer, so the agent works
on servers with no OpenAI tool support: the hosted API, or vLLM started without a tool parser.
(``"auto"``, the default, picks this by itself on the hosted API and after a refusal.)
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py),
which has no native tool support and replays the model's side of the exchange.
"""

from __future__ import annotations

from _backend import Backend, backend
from langchain.agents import create_agent
from langchain_core.tools import tool

from langchain_r1v4 import ChatR1V4


@tool
def get_weather(city: str) -> str:
    """Current weather in a city, temperature in Celsius."""
    return {"paris": "sunny, 21 °C", "oslo": "snow, -4 °C"}.get(city.lower(), "unknown")


@tool
def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from Celsius to Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


def script_local_model(b: Backend) -> None:
    """What a real R1V4 would answer at each turn (only the local server needs telling)."""
    from r1v4.testing import Reply

    b.script(
        Reply(
            content="<think>I need the weather in Paris first.</think>\n"
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
        ),
        Reply(
            content="<think>21 °C; the user wants Fahrenheit, so I convert it.</think>\n"
            '<tool_call>{"name": "celsius_to_fahrenheit", "arguments": {"celsius": 21}}'
            "</tool_call>"
        ),
        Reply(
            content="<think>21 °C is 69.8 °F.</think>\n"
            "<answer>It is sunny in Paris, 21 °C (69.8 °F).</answer>"
        ),
    )


def main() -> None:
    with backend(native_tools=False) as b:
        if b.local:
            script_local_model(b)
        llm = ChatR1V4(tool_mode="prompted", **b.client_kwargs)
        agent = create_agent(
            llm,
            [get_weather, celsius_to_fahrenheit],
            system_prompt="You are a helpful assistant. Use the tools when they help.",
        )
        result = agent.invoke(
            {"messages": [("user", "What's the weather in Paris, in Fahrenheit?")]}
        )

    for message in result["messages"]:
        if message.type == "ai" and message.tool_calls:
            for call in message.tool_calls:
                print(f"agent calls {call['name']}({call['args']})")
        elif message.type == "tool":
            print(f"  tool returns {message.content}")
        elif message.type == "ai":
            print(f"final answer: {message.content}")


if __name__ == "__main__":
    main()
