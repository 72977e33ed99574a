"""Plan, then execute: a LangGraph graph in which R1V4's planner plans, the steps run, R1V4 answers.

    pip install langgraph        # besides r1v4[langchain,tools]
    python examples/langchain_plan_execute.py [path-of-an-image]

Three nodes:

* ``plan``: ``ChatR1V4(model="skywork/r1v4-vl-planner-lite")`` breaks the question into steps
  ``{description, tool_name, parameters}``;
* ``execute``: ``plan_runner`` runs them in order: R1V4's ``code`` in a bubblewrap sandbox
  (it crops the picture), your LangChain tool for ``text_search``. Every step is reported; one
  that failed says why (here the run goes on after a failure: ``on_failure="continue"``);
* ``answer``: ``ChatR1V4`` answers from what the steps found, with the crops they made.

Without bubblewrap (macOS, Windows, a container without user namespaces) the ``code`` steps
are reported as unavailable and the rest still runs.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import TypedDict

from _backend import backend
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph

from langchain_r1v4 import ChatR1V4, get_plan, plan_runner
from r1v4 import SandboxUnavailableError
from r1v4.tools import PlanResult, R1V4Tools


@tool
def text_search(query: str) -> str:
    """Search the web. (A stand-in that needs no network; use TavilySearch or the like.)"""
    return f"Street signs in that style are common in Lisbon, Portugal. (query: {query})"


def sample_image() -> bytes:
    """A street sign drawn with Pillow."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 120, 80), fill="navy")
    draw.text((52, 54), "RUA AUGUSTA", fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_block(data: bytes, mime_type: str = "image/png") -> dict[str, str]:
    return {"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": mime_type}


def builtin_tools() -> R1V4Tools:
    try:
        return R1V4Tools()  # code runs in a bubblewrap sandbox
    except SandboxUnavailableError as exc:
        print(f"[sandbox] {exc}\n[sandbox] code steps will be reported as unavailable\n")
        return R1V4Tools(executor=None)


class State(TypedDict, total=False):
    question: str
    image: bytes
    plan: AIMessage
    result: PlanResult
    answer: str


def main() -> None:
    image = Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else sample_image()
    run_plan = plan_runner([text_search], builtin_tools=builtin_tools(), on_failure="continue")

    with backend() as b:
        planner = ChatR1V4(model="skywork/r1v4-vl-planner-lite", **b.client_kwargs)
        answerer = ChatR1V4(**b.client_kwargs)

        def plan(state: State) -> State:
            ask = HumanMessage(
                content=[{"type": "text", "text": state["question"]}, image_block(state["image"])]
            )
            return {"plan": planner.invoke([ask])}

        def execute(state: State) -> State:
            return {"result": run_plan.invoke({"plan": state["plan"], "images": [state["image"]]})}

        def answer(state: State) -> State:
            # What the tools found first (data, not instructions), then the question.
            result = state["result"]
            found = f"What the steps of a plan for my question found:\n\n{result.summary()}"
            crops = [image_block(i.data, i.mime_type) for i in result.images]
            messages = [
                HumanMessage(content=[{"type": "text", "text": found}, *crops]),
                HumanMessage(
                    content=[
                        {"type": "text", "text": state["question"]},
                        image_block(state["image"]),
                    ]
                ),
            ]
            return {"answer": str(answerer.invoke(messages).content)}

        graph = StateGraph(State)
        graph.add_node("plan", plan)
        graph.add_node("execute", execute)
        graph.add_node("answer", answer)
        graph.add_edge(START, "plan")
        graph.add_edge("plan", "execute")
        graph.add_edge("execute", "answer")
        graph.add_edge("answer", END)
        final = graph.compile().invoke(
            {"question": "In which city was this street sign photographed?", "image": image}
        )

    print("plan:")
    for n, step in enumerate(get_plan(final["plan"]) or [], 1):
        print(f"  {n}. {step.description} [{step.tool_name}]")
    print("\nexecuted:")
    for done in final["result"].steps:
        state = done.status if done.reason is None else f"{done.status} ({done.reason})"
        print(f"  step {done.index + 1} {done.tool}: {state}")
        print(f"    {done.observation[:200]}")
        for made in done.images:
            print(f"    made {made.name}: {made.mime_type} {made.width}x{made.height}")
    print("\nanswer:", final["answer"])


if __name__ == "__main__":
    main()
