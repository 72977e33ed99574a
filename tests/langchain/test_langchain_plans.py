"""``langchain_r1v4.plan_runner``: the planner's plan (from the local server over loopback) run
with LangChain tools and R1V4's own, as a Runnable and in a LangGraph graph."""

from __future__ import annotations

import base64
import json
from typing import Any, TypedDict
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import BaseTool, tool
from langgraph.graph import END, START, StateGraph

from langchain_r1v4 import ChatR1V4, plan_runner
from r1v4 import InvalidRequestError, PlanStep
from r1v4.testing import LocalR1V4Server, Reply, make_image, planner_transcript
from r1v4.tools import BubblewrapSandbox, PlanResult, R1V4Tools, ToolResult

PLANNER = "skywork/r1v4-vl-planner-lite"
PICTURE = make_image("PNG", (160, 120), (200, 30, 30))


@pytest.fixture(scope="module")
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox()


@pytest.fixture
def planner(agent_server: LocalR1V4Server) -> ChatR1V4:
    return ChatR1V4(model=PLANNER, api_key="test-key", base_url=agent_server.base_url)


def question(text: str = "Which city is this?") -> HumanMessage:
    block = {
        "type": "image",
        "base64": base64.b64encode(PICTURE).decode(),
        "mime_type": "image/png",
    }
    return HumanMessage(content=[{"type": "text", "text": text}, block])


@tool
def text_search(query: str) -> str:
    """Search the web."""
    return f"Atlas: the photo's street is in Lisbon ({query})"


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tools: list[tuple[str, str]] = []

    def on_tool_start(
        self, serialized: dict[str, Any], input_str: str, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.tools.append((serialized["name"], input_str))


def check_planner_steps(result: PlanResult) -> None:
    code, search, final = result.steps
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
    assert search.output == "Atlas: the photo's street is in Lisbon (Which city is this?)"
    assert (final.tool, final.status, final.reason) == ("answer", "skipped", "no_tool")


@pytest.mark.parametrize("way", ["invoke", "ainvoke"])
async def test_the_planners_plan_runs_with_a_langchain_tool_and_r1v4s_code(
    planner: ChatR1V4, sandbox: BubblewrapSandbox, way: str
) -> None:
    ask = question()
    message = planner.invoke([ask]) if way == "invoke" else await planner.ainvoke([ask])
    run_plan = plan_runner([text_search], builtin_tools=R1V4Tools(executor=sandbox))
    recorder = Recorder()
    value = {"plan": message, "images": [ask]}
    config: Any = {"callbacks": [recorder]}
    if way == "invoke":
        result = run_plan.invoke(value, config)
    else:
        result = await run_plan.ainvoke(value, config)
    check_planner_steps(result)
    # The tool ran as LangChain runs tools: its callbacks saw it, with the planner's query.
    assert recorder.tools == [("text_search", "{'query': 'Which city is this?'}")]


def test_the_runner_ends_a_chain_after_the_planner(
    planner: ChatR1V4, agent_server: LocalR1V4Server
) -> None:
    agent_server.enqueue(
        Reply(
            content=planner_transcript(
                steps=[
                    {
                        "description": "Search.",
                        "tool_name": "text_search",
                        "parameters": {"query": "q"},
                    },
                    {"description": "Answer.", "tool_name": "answer", "parameters": {}},
                ]
            )
        )
    )
    result = (planner | plan_runner([text_search])).invoke("Plan it.")
    assert [(s.tool, s.status) for s in result.steps] == [
        ("text_search", "ok"),
        ("answer", "skipped"),
    ]
    assert result.ok


def test_a_langgraph_node_runs_the_plan(planner: ChatR1V4, sandbox: BubblewrapSandbox) -> None:
    run_plan = plan_runner([text_search], builtin_tools=R1V4Tools(executor=sandbox))

    class State(TypedDict, total=False):
        question: HumanMessage
        plan: AIMessage
        result: PlanResult

    def plan(state: State) -> State:
        return {"plan": planner.invoke([state["question"]])}

    def execute(state: State) -> State:
        return {"result": run_plan.invoke({"plan": state["plan"], "images": [state["question"]]})}

    graph = StateGraph(State)
    graph.add_node("plan", plan)
    graph.add_node("execute", execute)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "execute")
    graph.add_edge("execute", END)
    final = graph.compile().invoke({"question": question()})
    check_planner_steps(final["result"])


# -- failures, reported ---------------------------------------------------------------------------


def step(tool_name: str, parameters: Any) -> PlanStep:
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

    @tool
    def forecast(city: str, days: int) -> str:
        """The weather forecast."""
        calls.append(city)
        return "sun"

    run_plan = plan_runner([forecast])
    for result in (
        run_plan.invoke([step("forecast", parameters)]),
        await run_plan.ainvoke([step("forecast", parameters)]),
    ):
        [s] = result.steps
        assert (s.status, s.reason) == ("failed", "bad_parameters")
        assert s.error is not None and words in s.error, s.error
    assert calls == []


async def test_unknown_tools_and_raising_tools_fail_and_the_policy_holds() -> None:
    @tool
    def flaky(city: str) -> str:
        """Always fails."""
        raise RuntimeError(f"service down for {city}")

    plan = [step("zoom", {}), step("flaky", {"city": "Rome"}), step("text_search", {"query": "q"})]
    stopped = plan_runner([flaky, text_search]).invoke(plan)
    assert [(s.status, s.reason) for s in stopped.steps] == [
        ("failed", "unknown_tool"),
        ("skipped", "after_failure"),
        ("skipped", "after_failure"),
    ]
    going_on = await plan_runner([flaky, text_search], on_failure="continue").ainvoke(plan)
    assert [(s.status, s.reason) for s in going_on.steps] == [
        ("failed", "unknown_tool"),
        ("failed", "error"),
        ("ok", None),
    ]
    assert going_on.steps[1].error == "The flaky tool raised RuntimeError: service down for Rome"


def test_what_cannot_run_raises(planner: ChatR1V4, agent_server: LocalR1V4Server) -> None:
    with pytest.raises(InvalidRequestError, match="takes LangChain BaseTools"):
        plan_runner([lambda query: query])  # type: ignore[list-item]
    with pytest.raises(InvalidRequestError, match="two tools are named 'text_search'"):
        plan_runner([text_search, text_search])
    with pytest.raises(InvalidRequestError, match="on_failure"):
        plan_runner(on_failure="later")  # type: ignore[arg-type]
    agent_server.enqueue(Reply(content="<answer>No plan needed.</answer>"))
    no_plan = planner.invoke("Plan it.")
    with pytest.raises(InvalidRequestError, match="no plan to run"):
        plan_runner([text_search]).invoke(no_plan)
    remote = {"type": "image", "url": "https://example.com/street.jpg"}
    with pytest.raises(InvalidRequestError, match="inline images"):
        plan_runner().invoke({"plan": [], "images": [remote]})
    with pytest.raises(InvalidRequestError, match="inline images"):
        plan_runner().invoke({"plan": [], "images": ["https://example.com/street.jpg"]})
    with pytest.raises(InvalidRequestError, match="plan_runner's input"):
        plan_runner().invoke("a plan")


def test_a_tool_is_any_base_tool() -> None:
    class Counter(BaseTool):
        name: str = "count"
        description: str = "Counts letters."

        def _run(self, text: str) -> int:
            return len(text)

    [s] = plan_runner([Counter()]).invoke([step("count", {"text": "hello"})]).steps
    assert (s.status, s.output, s.observation) == ("ok", 5, "5")


def test_images_come_as_messages_blocks_bytes_or_data_uris(sandbox: BubblewrapSandbox) -> None:
    from r1v4.testing import make_image_data_uri

    block = {"type": "image_url", "image_url": {"url": make_image_data_uri("PNG", (20, 10))}}
    images = [question(), block, make_image("PNG", (30, 10)), make_image_data_uri("PNG", (40, 10))]
    code = "from PIL import Image\nprint([Image.open(p).size[0] for p in image_paths])"
    run_plan = plan_runner(builtin_tools=R1V4Tools(executor=sandbox))
    [s] = run_plan.invoke({"plan": [step("code", {"code": code})], "images": images}).steps
    assert json.loads(s.observation)["result"] == "[160, 20, 30, 40]"
