"""Plan, execute, answer: a LlamaIndex Workflow around R1V4's planner.

    python examples/llama_index_plan_workflow.py [path-of-an-image]

Three steps, each an ``@step`` of the workflow:

* ``plan``: ``R1V4(model="skywork/r1v4-vl-planner-lite")`` breaks the question into steps
  ``{description, tool_name, parameters}`` (``get_plan``);
* ``execute``: ``plan_runner`` runs them in order, R1V4's ``code`` in a bubblewrap sandbox (it
  crops the picture) and your ``FunctionTool`` for ``text_search``, and streams an event as
  each step ends; a failed step is reported with its reason (here the run goes on after one:
  ``on_failure="continue"``);
* ``answer``: ``R1V4`` answers from what the steps found, with the crops they made.

Without bubblewrap (macOS, Windows, a container without user namespaces) the ``code`` steps
are reported as unavailable and the rest still runs.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path
from typing import Any

from _backend import backend
from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Context, Event, StartEvent, StopEvent, Workflow, step

from llama_index_r1v4 import R1V4, get_plan, plan_runner
from r1v4 import PlanStep, SandboxUnavailableError
from r1v4.tools import PlanResult, PlanRunner, R1V4Tools, StepResult


def text_search(query: str) -> str:
    """Search the web. (A stand-in that needs no network; use a ToolSpec's search tool.)"""
    return f"Bakeries with blue awnings like this one are typical of Porto, Portugal. ({query})"


def sample_image() -> bytes:
    """A shop front drawn with Pillow."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, 130, 60), fill="royalblue")
    draw.text((50, 40), "PADARIA", fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def builtin_tools() -> R1V4Tools:
    try:
        return R1V4Tools()  # code runs in a bubblewrap sandbox
    except SandboxUnavailableError as exc:
        print(f"[sandbox] {exc}\n[sandbox] code steps will be reported as unavailable\n")
        return R1V4Tools(executor=None)


class Planned(Event):
    """The planner's steps."""

    steps: list[PlanStep]


class StepDone(Event):
    """One step of the plan ended (streamed to the caller as it happens)."""

    result: StepResult


class Executed(Event):
    """Every step, run or not."""

    result: PlanResult


class PlanExecuteAnswer(Workflow):
    """Plan with the planner model, run the steps, answer from their results."""

    def __init__(
        self, planner: R1V4, answerer: R1V4, runner: PlanRunner, image: bytes, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.planner, self.answerer, self.runner, self.image = planner, answerer, runner, image

    @step
    async def plan(self, ctx: Context, ev: StartEvent) -> Planned | StopEvent:
        await ctx.store.set("question", ev.question)
        ask = ChatMessage(
            role="user", blocks=[ImageBlock(image=self.image), TextBlock(text=ev.question)]
        )
        steps = get_plan(await self.planner.achat([ask]))
        if steps is None:
            return StopEvent(result="the planner answered without a plan")
        return Planned(steps=steps)

    @step
    async def execute(self, ctx: Context, ev: Planned) -> Executed:
        done = []
        async for result in self.runner.aiter_steps(ev.steps, [self.image]):
            ctx.write_event_to_stream(StepDone(result=result))
            done.append(result)
        return Executed(result=PlanResult(tuple(done)))

    @step
    async def answer(self, ctx: Context, ev: Executed) -> StopEvent:
        question = await ctx.store.get("question")
        # What the tools found first (data, not instructions), then the question.
        found = f"What the steps of a plan for my question found:\n\n{ev.result.summary()}"
        crops = [ImageBlock(image=i.data, image_mimetype=i.mime_type) for i in ev.result.images]
        messages = [
            ChatMessage(role="user", blocks=[TextBlock(text=found), *crops]),
            ChatMessage(
                role="user", blocks=[ImageBlock(image=self.image), TextBlock(text=question)]
            ),
        ]
        response = await self.answerer.achat(messages)
        return StopEvent(result=response.message.content)


async def main() -> None:
    image = Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else sample_image()
    runner = plan_runner(
        [FunctionTool.from_defaults(text_search)],
        builtin_tools=builtin_tools(),
        on_failure="continue",
    )
    with backend() as b:
        workflow = PlanExecuteAnswer(
            planner=R1V4(model="skywork/r1v4-vl-planner-lite", **b.client_kwargs),
            answerer=R1V4(**b.client_kwargs),
            runner=runner,
            image=image,
            timeout=300,
        )
        handler = workflow.run(question="In which city is this bakery?")
        async for event in handler.stream_events():
            if isinstance(event, StepDone):
                done = event.result
                state = done.status if done.reason is None else f"{done.status} ({done.reason})"
                print(f"step {done.index + 1} {done.tool}: {state}: {done.step.description}")
                print(f"  {done.observation[:200]}")
                for made in done.images:
                    print(f"  made {made.name}: {made.mime_type} {made.width}x{made.height}")
        print("\nanswer:", await handler)


if __name__ == "__main__":
    asyncio.run(main())
