"""The planner model: R1V4 breaks a visual task into steps, returned as typed data.

    python examples/langchain_planner.py

``skywork/r1v4-vl-planner-lite`` answers with a plan rather than an answer. ``get_plan`` turns
the reply into ``PlanStep`` objects whose ``parameters`` are already parsed, and works as the
last step of a chain: ``planner | get_plan``.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

from _backend import backend
from langchain_core.prompts import ChatPromptTemplate

from langchain_r1v4 import ChatR1V4, get_plan


def main() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("human", "Plan how to find out {question} from a photo of a street.")]
    )
    with backend() as b:
        planner = ChatR1V4(model="skywork/r1v4-vl-planner-lite", **b.client_kwargs)
        steps = (prompt | planner | get_plan).invoke({"question": "which city it was taken in"})

    if not steps:
        print("the model answered without a plan")
        return
    for n, step in enumerate(steps, 1):
        print(f"{n}. {step.description}")
        print(f"   tool: {step.tool_name}  parameters: {step.parameters}")


if __name__ == "__main__":
    main()
