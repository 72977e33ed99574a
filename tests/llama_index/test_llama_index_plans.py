"""``llama_index_r1v4.plan_runner``: the planner's plan (from the local server over loopback) run
with LlamaIndex tools and R1V4's own, in a call and inside a Workflow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock
from llama_index.core.schema import TextNode
from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.types import BaseTool
from llama_index.core.workflow import (
    Context,
    Event,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)

from llama_index_r1v4 import R1V4, get_plan, plan_runner
from r1v4 import InvalidRequestError, PlanStep
from r1v4.testing import LocalR1V4Server, make_image
from r1v4.tools import BubblewrapSandbox, PlanResult, R1V4Tools, StepResult, ToolResult

PLANNER = "skywork/r1v4-vl-planner-lite"
KEY = "plan-key"
PICTURE = make_image("PNG", (160, 120), (30, 30, 200))


@pytest.fixture(scope="module")
def planner_server() -> Iterator[LocalR1V4Server]:
    """The local server's agent scenario: the planner model answers with a plan."""
    with LocalR1V4Server(api_key=KEY, scenario="agent") as server:
        yield server


@pytest.fixture(scope="module")
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox()


@pytest.fixture
def planner(planner_server: LocalR1V4Server) -> R1V4:
    return R1V4(model=PLANNER, api_key=KEY, base_url=planner_server.base_url)


def question(text: str = "Which city is this?") -> ChatMessage:
    return ChatMessage(role="user", blocks=[ImageBlock(image=PICTURE), TextBlock(text=text)])


def text_search(query: str) -> str:
    """Search the web."""
    return f"Atlas: the street is in Porto ({query})"


SEARCH = FunctionTool.from_defaults(text_search)


def check_planner_steps(steps: tuple[StepResult, ...] | list[StepResult]) -> None:
    code, search, final = steps
    assert (code.tool, code.status) == ("code", "ok")
    assert isinstance(code.output, ToolResult)
    assert json.loads(code.observation) == {
        "result": "160 120",
        "type": "code",
        "images": ["crop_0.png"],
    }
    assert [(i.width, i.height) for i in code.images] == [(80, 60)]
    assert (search.tool, search.status, search.arguments) == (
        "text_search",
        "ok",
        {"query": "Which city is this?"},
    )
    assert search.output == "Atlas: the street is in Porto (Which city is this?)"
    assert (final.tool, final.status, final.reason) == ("answer", "skipped", "no_tool")


def test_the_planners_plan_runs_with_a_function_tool_and_r1v4s_code(
    planner: R1V4, sandbox: BubblewrapSandbox
) -> None:
    response = planner.chat([question()])
    runner = plan_runner([SEARCH], builtin_tools=R1V4Tools(executor=sandbox))
    result = runner.run(get_plan(response), [PICTURE])
    check_planner_steps(result.steps)
    assert result.ok and result.images == result.steps[0].images


async def test_the_planners_plan_runs_async(planner: R1V4, sandbox: BubblewrapSandbox) -> None:
    response = await planner.achat([question()])

    async def text_search(query: str) -> str:
        """Search the web (async)."""
        return f"Atlas: the street is in Porto ({query})"

    runner = plan_runner(
        [FunctionTool.from_defaults(async_fn=text_search)],
        builtin_tools=R1V4Tools(executor=sandbox),
    )
    check_planner_steps((await runner.arun(get_plan(response), [PICTURE])).steps)


class StepDone(Event):
    number: int
    tool: str
    status: str


class Planned(Event):
    steps: list[PlanStep]


async def test_a_workflow_streams_each_step_as_it_ends(
    planner: R1V4, sandbox: BubblewrapSandbox
) -> None:
    runner = plan_runner([SEARCH], builtin_tools=R1V4Tools(executor=sandbox))

    class PlanAndRun(Workflow):
        @step
        async def plan(self, ev: StartEvent) -> Planned:
            response = await planner.achat([question()])
            return Planned(steps=get_plan(response) or [])

        @step
        async def execute(self, ctx: Context, ev: Planned) -> StopEvent:
            done = []
            async for result in runner.aiter_steps(ev.steps, [PICTURE]):
                ctx.write_event_to_stream(
                    StepDone(number=result.index + 1, tool=result.tool, status=result.status)
                )
                done.append(result)
            return StopEvent(result=PlanResult(tuple(done)))

    handler = PlanAndRun(timeout=120).run()
    streamed = [
        (e.number, e.tool, e.status)
        async for e in handler.stream_events()
        if isinstance(e, StepDone)
    ]
    result: object = await handler
    assert streamed == [(1, "code", "ok"), (2, "text_search", "ok"), (3, "answer", "skipped")]
    assert isinstance(result, PlanResult)
    check_planner_steps(result.steps)


# -- failures, reported ---------------------------------------------------------------------------


def plan_step(tool_name: str, parameters: Any) -> PlanStep:
    return PlanStep(f"use {tool_name}", tool_name, parameters, json.dumps(parameters))


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"city": "Oslo", "days": 2, "units": "metric"}, "takes no parameter 'units'"),
        ({"city": "Oslo", "days": "many"}, "valid integer"),
        ({"days": 2}, "city"),
    ],
)
async def test_parameters_that_do_not_fit_the_tools_schema_fail_before_the_call(
    parameters: dict[str, Any], words: str
) -> None:
    calls: list[str] = []

    def forecast(city: str, days: int) -> str:
        """The weather forecast."""
        calls.append(city)
        return "sun"

    runner = plan_runner([FunctionTool.from_defaults(forecast)])
    for result in (
        runner.run([plan_step("forecast", parameters)]),
        await runner.arun([plan_step("forecast", parameters)]),
    ):
        [s] = result.steps
        assert (s.status, s.reason) == ("failed", "bad_parameters")
        assert s.error is not None and words in s.error, s.error
    assert calls == []


async def test_raising_tools_and_error_outputs_fail_and_the_policy_holds() -> None:
    def flaky(city: str) -> str:
        """Always fails."""
        raise RuntimeError(f"service down for {city}")

    class Refusing(BaseTool):
        @property
        def metadata(self) -> ToolMetadata:
            return ToolMetadata(name="refuse", description="Answers an error.")

        def __call__(self, input: Any = None, **kwargs: Any) -> ToolOutput:
            return ToolOutput(
                content="quota exceeded",
                tool_name="refuse",
                raw_input=kwargs,
                raw_output=None,
                is_error=True,
            )

    tools = [FunctionTool.from_defaults(flaky), Refusing(), SEARCH]
    plan = [
        plan_step("flaky", {"city": "Rome"}),
        plan_step("refuse", {"input": "please"}),
        plan_step("zoom", {}),
        plan_step("text_search", {"query": "q"}),
    ]
    stopped = plan_runner(tools).run(plan)
    assert [(s.status, s.reason) for s in stopped.steps] == [
        ("failed", "error"),
        ("skipped", "after_failure"),
        ("skipped", "after_failure"),
        ("skipped", "after_failure"),
    ]
    assert stopped.steps[0].error == "The flaky tool raised RuntimeError: service down for Rome"
    going_on = await plan_runner(tools, on_failure="continue").arun(plan)
    assert [(s.status, s.reason) for s in going_on.steps] == [
        ("failed", "error"),
        ("failed", "error"),
        ("failed", "unknown_tool"),
        ("ok", None),
    ]
    assert going_on.steps[1].error == "The refuse tool raised RuntimeError: quota exceeded"


def test_outputs_are_the_tools_plain_data() -> None:
    def count(text: str) -> int:
        """Counts letters."""
        return len(text)

    def note(title: str) -> TextNode:
        """A note."""
        return TextNode(text=f"about {title}", metadata={"title": title})

    runner = plan_runner([FunctionTool.from_defaults(count), FunctionTool.from_defaults(note)])
    counted, noted = runner.run(
        [plan_step("count", {"text": "hello"}), plan_step("note", {"title": "tides"})]
    ).steps
    assert (counted.output, counted.observation) == (5, "5")
    assert noted.output == {"title": "tides", "content": "about tides"}


def test_what_cannot_run_raises() -> None:
    with pytest.raises(InvalidRequestError, match="takes LlamaIndex BaseTools"):
        plan_runner([text_search])  # type: ignore[list-item]
    with pytest.raises(InvalidRequestError, match="two tools are named 'text_search'"):
        plan_runner([SEARCH, SEARCH])
    with pytest.raises(InvalidRequestError, match="on_failure"):
        plan_runner(on_failure="later")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="no plan to run"):
        plan_runner([SEARCH]).run(None)
