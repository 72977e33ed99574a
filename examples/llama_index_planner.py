"""The planner model with LlamaIndex: R1V4 breaks a visual task into typed steps.

    python examples/llama_index_planner.py

``skywork/r1v4-vl-planner-lite`` answers with a plan rather than an answer. ``get_plan`` turns
the reply into ``PlanStep`` objects whose ``parameters`` are already parsed.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

from _backend import backend

from llama_index_r1v4 import R1V4, get_plan


def main() -> None:
    with backend() as b:
        planner = R1V4(model="skywork/r1v4-vl-planner-lite", **b.client_kwargs)
        response = planner.complete("Plan how to find out which city a street photo was taken in.")

    steps = get_plan(response)
    if not steps:
        print("the model answered without a plan:", response.text)
        return
    print("reasoning:", response.additional_kwargs.get("thinking", "(none)"), "\n")
    for n, step in enumerate(steps, 1):
        print(f"{n}. {step.description}")
        print(f"   tool: {step.tool_name}  parameters: {step.parameters}")


if __name__ == "__main__":
    main()
