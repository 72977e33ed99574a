"""``r1v4.tools.PlanRunner``: a planner's steps run with R1V4's tools and the caller's, in order,
sync and async alike; every failure kind reported as a failed step, and the policy after one."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import psutil
import pytest
from pictures import gradient, png, uri

from r1v4 import (
    AsyncR1V4Client,
    ImageError,
    InvalidRequestError,
    Plan,
    PlanStep,
    R1V4Client,
    ServerToolCall,
    ServerToolResult,
    parse_transcript,
)
from r1v4.testing import LocalR1V4Server, planner_transcript
from r1v4.tools import (
    DEFAULT_ANSWER_TOOLS,
    BubblewrapSandbox,
    PlanResult,
    PlanRunner,
    R1V4Tools,
    StepResult,
    ToolResult,
)

PLANNER = "skywork/r1v4-vl-planner-lite"
KEY = "plan-key"
Mode = Literal["sync", "async"]


@pytest.fixture(scope="module")
def planner_server() -> Iterator[LocalR1V4Server]:
    """The local server's agent scenario: the planner model answers with a plan."""
    with LocalR1V4Server(api_key=KEY, scenario="agent") as server:
        yield server


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    value: Mode = request.param
    return value


def execute(runner: PlanRunner, plan: Any, images: Any = (), mode: Mode = "sync") -> PlanResult:
    if mode == "sync":
        return runner.run(plan, images)
    return asyncio.run(runner.arun(plan, images))


def step(tool: str, parameters: Any = None, description: str = "") -> PlanStep:
    raw = parameters if isinstance(parameters, str) else json.dumps(parameters or {})
    return PlanStep(description or f"use {tool}", tool, parameters, raw)


def question(text: str, image: bytes) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": uri(image)}},
                {"type": "text", "text": text},
            ],
        }
    ]


def plan_of(events: list[Any]) -> Plan:
    [plan] = [e for e in events if isinstance(e, Plan)]
    return plan


# -- the planner's own plan, from the local server over loopback ----------------------------------


def test_a_plan_from_the_planner_runs_with_r1v4s_tools_and_yours(
    planner_server: LocalR1V4Server, sandbox: BubblewrapSandbox
) -> None:
    picture = gradient((160, 120))
    with R1V4Client(api_key=KEY, base_url=planner_server.base_url) as client:
        reply = client.create(model=PLANNER, messages=question("Which city is this?", picture))
    searched: list[str] = []

    def text_search(query: str) -> list[dict[str, str]]:
        searched.append(query)
        return [{"title": "Atlas", "url": "https://example.com/atlas", "snippet": "A city."}]

    runner = PlanRunner([text_search], builtin_tools=R1V4Tools(executor=sandbox))
    result = runner.run(plan_of(reply.message.events), [picture])

    code, search, final = result.steps
    # The planner's code crops image_0.png in the sandbox; the crop comes back as an image.
    assert (code.tool, code.status, code.reason) == ("code", "ok", None)
    assert isinstance(code.output, ToolResult) and code.output.status == "ok"
    assert json.loads(code.observation) == {
        "result": "160 120",
        "type": "code",
        "images": ["crop_0.png"],
    }
    assert [(i.name, i.width, i.height) for i in code.images] == [("crop_0.png", 80, 60)]
    # Its events are those of a hosted trajectory with that call.
    kinds = [type(e) for e in code.output.events()]
    assert ServerToolCall in kinds and ServerToolResult in kinds
    # Your tool, by the name the plan gives, with the parameters the planner wrote (JSON text).
    assert searched == ["Which city is this?"]
    assert (search.tool, search.status, search.arguments) == (
        "text_search",
        "ok",
        {"query": "Which city is this?"},
    )
    assert search.output[0]["title"] == "Atlas" and '"Atlas"' in search.observation
    # The planner's closing "answer" step is the answering model's work: skipped, reported.
    assert (final.tool, final.status, final.reason) == ("answer", "skipped", "no_tool")
    assert result.ok and result.failed == ()
    assert result.images == code.images


async def test_a_plan_from_the_planner_runs_async(
    planner_server: LocalR1V4Server, sandbox: BubblewrapSandbox
) -> None:
    picture = gradient((100, 80))
    async with AsyncR1V4Client(api_key=KEY, base_url=planner_server.base_url) as client:
        reply = await client.create(model=PLANNER, messages=question("What shop?", picture))

    async def text_search(query: str) -> str:
        await asyncio.sleep(0)
        return f"results for {query}"

    runner = PlanRunner({"text_search": text_search}, builtin_tools=R1V4Tools(executor=sandbox))
    seen = [s async for s in runner.aiter_steps(plan_of(reply.message.events), [picture])]
    assert [(s.index, s.tool, s.status) for s in seen] == [
        (0, "code", "ok"),
        (1, "text_search", "ok"),
        (2, "answer", "skipped"),
    ]
    assert json.loads(seen[0].observation)["result"] == "100 80"
    assert seen[1].observation == "results for What shop?"


# -- every failure kind, sync and async -------------------------------------------------------------


def test_an_unknown_tool_fails(mode: Mode) -> None:
    def measure(width: int) -> int:
        return width

    result = execute(PlanRunner([measure]), [step("zoom", {"factor": 2})], mode=mode)
    [s] = result.steps
    assert (s.status, s.reason, s.output) == ("failed", "unknown_tool", None)
    assert s.error is not None and "'zoom'" in s.error and "measure" in s.error
    assert s.observation == s.error and s.failed and not result.ok


def test_r1v4s_tool_without_builtin_tools_is_unknown_and_says_how(mode: Mode) -> None:
    [s] = execute(PlanRunner(), [step("code", {"code": "print(1)"})], mode=mode).steps
    assert (s.status, s.reason) == ("failed", "unknown_tool")
    assert s.error is not None and "builtin_tools=R1V4Tools" in s.error


def test_r1v4s_tool_with_no_backend_is_unavailable(mode: Mode) -> None:
    runner = PlanRunner(builtin_tools=R1V4Tools(executor=None))
    [code, search] = execute(
        runner,
        [step("code", {"code": "print(1)"}), step("web_content", {"url": "https://a.b"})],
        mode=mode,
    ).steps
    assert (code.status, code.reason) == ("failed", "unavailable")
    assert isinstance(code.output, ToolResult) and code.output.status == "unavailable"
    assert code.error is not None and "unavailable" in code.error
    # The default policy stops after it.
    assert (search.status, search.reason) == ("skipped", "after_failure")


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ("not json at all", "not a JSON object"),
        ([1, 2], "must be a JSON object"),
        ({"city": "Paris"}, "missing a required argument: 'query'"),
        ({"query": "x", "limit": 3}, "unexpected keyword argument 'limit'"),
    ],
)
def test_parameters_that_do_not_fit_your_tool_fail(mode: Mode, parameters: Any, words: str) -> None:
    called: list[str] = []

    def text_search(query: str) -> str:
        called.append(query)
        return "found"

    [s] = execute(PlanRunner([text_search]), [step("text_search", parameters)], mode=mode).steps
    assert (s.status, s.reason) == ("failed", "bad_parameters")
    assert s.error is not None and words in s.error, s.error
    assert called == []  # never called with what does not fit


def test_parameters_written_as_json_text_of_json_text_are_read(mode: Mode) -> None:
    def text_search(query: str) -> str:
        return query.upper()

    [s] = execute(
        PlanRunner([text_search]), [step("text_search", '{"query": "tides"}')], mode=mode
    ).steps
    assert (s.status, s.output, s.arguments) == ("ok", "TIDES", {"query": "tides"})


def test_no_parameters_call_the_tool_with_none(mode: Mode) -> None:
    def now() -> str:
        return "noon"

    [s] = execute(PlanRunner([now]), [step("now", None)], mode=mode).steps
    assert (s.status, s.output, s.arguments) == ("ok", "noon", {})


def test_a_tool_check_refuses_parameters_before_the_call(mode: Mode) -> None:
    class Checked:
        calls = 0

        def check(self, parameters: dict[str, Any]) -> str | None:
            return None if isinstance(parameters.get("n"), int) else "n must be an integer"

        def __call__(self, **parameters: Any) -> Any:
            Checked.calls += 1
            return parameters["n"] * 2

    runner = PlanRunner({"double": Checked()}, on_failure="continue")
    bad, good = execute(
        runner, [step("double", {"n": "x"}), step("double", {"n": 4})], mode=mode
    ).steps
    assert (bad.status, bad.reason, bad.error) == (
        "failed",
        "bad_parameters",
        "n must be an integer",
    )
    assert (good.status, good.output, good.observation) == ("ok", 8, "8")
    assert Checked.calls == 1


def test_r1v4s_tool_without_its_argument_fails_as_bad_parameters(
    mode: Mode, sandbox: BubblewrapSandbox
) -> None:
    runner = PlanRunner(builtin_tools=R1V4Tools(executor=sandbox))
    [s] = execute(runner, [step("code", {"language": "python", "lines": 3})], mode=mode).steps
    assert (s.status, s.reason, s.output) == ("failed", "bad_parameters", None)
    assert s.error is not None and "no argument it can use" in s.error


def test_a_tool_that_raises_fails_with_what_it_raised(mode: Mode) -> None:
    def lookup(city: str) -> str:
        raise ConnectionError(f"no route to the weather service for {city}")

    [s] = execute(PlanRunner([lookup]), [step("lookup", {"city": "Oslo"})], mode=mode).steps
    assert (s.status, s.reason, s.output) == ("failed", "error", None)
    assert (
        s.error
        == "The lookup tool raised ConnectionError: no route to the weather service for Oslo"
    )


def test_code_that_raises_in_the_sandbox_fails_with_its_observation(
    mode: Mode, sandbox: BubblewrapSandbox
) -> None:
    runner = PlanRunner(builtin_tools=R1V4Tools(executor=sandbox))
    [s] = execute(runner, [step("code", {"code": "1 / 0"})], mode=mode).steps
    assert (s.status, s.reason) == ("failed", "error")
    assert isinstance(s.output, ToolResult) and s.output.status == "error"
    assert "ZeroDivisionError" in s.observation
    assert s.error is not None and "status 'error'" in s.error and "ZeroDivisionError" in s.error


def test_a_search_backend_that_raises_fails(mode: Mode) -> None:
    def broken(query: str) -> Any:
        raise TimeoutError("search timed out")

    runner = PlanRunner(builtin_tools=R1V4Tools(executor=None, text_search=broken))
    [s] = execute(runner, [step("text_search", {"query": "q"})], mode=mode).steps
    assert (s.status, s.reason) == ("failed", "error")
    assert s.error is not None and "TimeoutError: search timed out" in s.error


# -- the policy after a failure ---------------------------------------------------------------------


def test_stop_skips_every_later_step_without_calling_it(mode: Mode) -> None:
    calls: list[str] = []

    def ok(tag: str) -> str:
        calls.append(tag)
        return tag

    def boom() -> None:
        raise ValueError("no")

    plan = [step("ok", {"tag": "a"}), step("boom"), step("ok", {"tag": "b"}), step("answer")]
    result = execute(PlanRunner([ok, boom]), plan, mode=mode)
    assert [(s.status, s.reason) for s in result.steps] == [
        ("ok", None),
        ("failed", "error"),
        ("skipped", "after_failure"),
        ("skipped", "after_failure"),
    ]
    assert calls == ["a"]
    assert [s.index for s in result.failed] == [1]


def test_continue_runs_every_step_after_a_failure(mode: Mode) -> None:
    calls: list[str] = []

    def ok(tag: str) -> str:
        calls.append(tag)
        return tag

    plan = [step("nope"), step("ok", {"tag": "b"}), step("ok", {"x": 1}), step("ok", {"tag": "c"})]
    result = execute(PlanRunner([ok], on_failure="continue"), plan, mode=mode)
    assert [(s.status, s.reason) for s in result.steps] == [
        ("failed", "unknown_tool"),
        ("ok", None),
        ("failed", "bad_parameters"),
        ("ok", None),
    ]
    assert calls == ["b", "c"] and len(result.failed) == 2


def test_the_policy_is_checked() -> None:
    with pytest.raises(InvalidRequestError, match="on_failure must be 'stop' or 'continue'"):
        PlanRunner(on_failure="retry")  # type: ignore[arg-type]


# -- images, steps as they end, settings ------------------------------------------------------------


def test_a_later_code_step_sees_the_images_earlier_steps_made(
    mode: Mode, sandbox: BubblewrapSandbox
) -> None:
    runner = PlanRunner(builtin_tools=R1V4Tools(executor=sandbox))
    plan = [
        step("code", {"code": "img.crop((0, 0, 30, 20)).save('crop.png')"}),
        step(
            "code",
            {
                "code": "from PIL import Image\nprint(sorted(image_paths), Image.open('image_1.png').size)"
            },
        ),
    ]
    first, second = execute(runner, plan, [png((64, 48))], mode=mode).steps
    assert first.ok and [(i.width, i.height) for i in first.images] == [(30, 20)]
    assert json.loads(second.observation)["result"] == "['image_0.png', 'image_1.png'] (30, 20)"


def test_steps_are_yielded_as_each_one_ends() -> None:
    calls: list[int] = []

    def tick(n: int) -> int:
        calls.append(n)
        return n

    steps = PlanRunner([tick]).iter_steps([step("tick", {"n": 1}), step("tick", {"n": 2})])
    first = next(steps)
    assert (first.output, calls) == (1, [1])
    assert [s.output for s in steps] == [2] and calls == [1, 2]


async def test_async_steps_are_yielded_as_each_one_ends() -> None:
    calls: list[int] = []

    async def tick(n: int) -> int:
        calls.append(n)
        return n

    steps = PlanRunner([tick]).aiter_steps([step("tick", {"n": 1}), step("tick", {"n": 2})])
    first = await steps.__anext__()
    assert (first.output, calls) == (1, [1])
    assert [s.output async for s in steps] == [2] and calls == [1, 2]


async def test_async_runs_a_sync_tool_in_a_worker_thread_and_prefers_acall() -> None:
    loop_thread = threading.current_thread()
    where: list[threading.Thread] = []

    def blocking(x: int) -> int:
        where.append(threading.current_thread())
        return x

    class Both:
        def __call__(self, **parameters: Any) -> str:
            return "sync"

        async def acall(self, **parameters: Any) -> str:
            return "async"

    tools: dict[str, Callable[..., Any]] = {"blocking": blocking, "both": Both()}
    result = await PlanRunner(tools).arun([step("blocking", {"x": 3}), step("both")])
    assert [s.output for s in result.steps] == [3, "async"]
    assert where and where[0] is not loop_thread
    assert PlanRunner({"both": Both()}).run([step("both")]).steps[0].output == "sync"


async def test_an_async_only_tool_from_sync_run_inside_a_loop_fails_and_says_why() -> None:
    async def fetch(url: str) -> str:
        return url

    [s] = PlanRunner([fetch]).run([step("fetch", {"url": "u"})]).steps
    assert (s.status, s.reason) == ("failed", "error")
    assert s.error is not None and "PlanRunner.arun" in s.error


def test_an_async_only_tool_runs_from_sync_code_without_a_loop() -> None:
    async def fetch(url: str) -> str:
        return f"page {url}"

    [s] = PlanRunner([fetch]).run([step("fetch", {"url": "u"})]).steps
    assert (s.status, s.output) == ("ok", "page u")


def test_your_tool_wins_over_r1v4s_of_the_same_name(mode: Mode) -> None:
    def code(code: str) -> str:
        return "my interpreter"

    runner = PlanRunner([code], builtin_tools=R1V4Tools(executor=None))
    [s] = execute(runner, [step("code", {"code": "print(1)"})], mode=mode).steps
    assert (s.status, s.output) == ("ok", "my interpreter")


def test_answer_tools_are_a_setting_and_a_tool_of_that_name_runs() -> None:
    assert {"answer", "final_answer", ""} <= DEFAULT_ANSWER_TOOLS
    [s] = PlanRunner(answer_tools=()).run([step("answer")]).steps
    assert (s.status, s.reason) == ("failed", "unknown_tool")
    [s] = PlanRunner({"answer": lambda: "done"}).run([step("answer")]).steps
    assert (s.status, s.output) == ("ok", "done")


def test_a_plan_from_a_transcript_reads_its_json_text_parameters() -> None:
    transcript = planner_transcript(
        steps=[{"description": "Search.", "tool_name": "text_search", "parameters": {"query": "q"}}]
    )
    plan = plan_of(parse_transcript(transcript))
    assert plan.steps[0].raw_parameters == '{"query": "q"}'
    [s] = PlanRunner({"text_search": lambda query: [query]}).run(plan).steps
    assert (s.status, s.output, s.observation) == ("ok", ["q"], '["q"]')


# -- what the caller gets wrong raises --------------------------------------------------------------


def test_no_plan_raises_at_the_call() -> None:
    runner = PlanRunner()
    with pytest.raises(InvalidRequestError, match="no plan to run"):
        runner.run(None)
    with pytest.raises(InvalidRequestError, match="no plan to run"):
        runner.iter_steps(None)
    with pytest.raises(InvalidRequestError, match="no plan to run"):
        runner.aiter_steps(None)
    with pytest.raises(InvalidRequestError, match=r"r1v4\.PlanStep"):
        runner.run([{"tool_name": "code"}])  # type: ignore[list-item]
    with pytest.raises(InvalidRequestError, match=r"r1v4\.Plan or a list"):
        runner.run("<plan>[]</plan>")  # type: ignore[arg-type]


def test_bad_tools_raise_when_the_runner_is_built() -> None:
    with pytest.raises(InvalidRequestError, match="must be a callable"):
        PlanRunner({"search": "not a tool"})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="two tools are named 'f'"):

        def f() -> None: ...

        PlanRunner([f, f])
    with pytest.raises(InvalidRequestError, match=r"must be an r1v4\.tools\.R1V4Tools"):
        PlanRunner(builtin_tools=object())  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="answer_tools"):
        PlanRunner(answer_tools="answer")


def test_an_image_that_is_not_one_raises_image_error(sandbox: BubblewrapSandbox) -> None:
    runner = PlanRunner(builtin_tools=R1V4Tools(executor=sandbox))
    with pytest.raises(ImageError):
        runner.run([step("code", {"code": "print(1)"})], [b"not an image"])


# -- the records ------------------------------------------------------------------------------------


def test_the_summary_tells_every_step_for_the_answering_model() -> None:
    def search(query: str) -> dict[str, str]:
        return {"hit": "x" * 50}

    result = PlanRunner([search]).run(
        [step("search", {"query": "q"}, "Find it."), step("nope", {}, "Then this."), step("answer")]
    )
    assert result.summary(max_chars_per_step=60).split("\n\n") == [
        'Step 1 (search) ok: Find it.\n{"hit": "' + "x" * 50 + '"…',
        "Step 2 (nope) failed, unknown_tool: Then this.\n"
        "There is no tool named 'nope' (the tools are: search).",
        "Step 3 (answer) skipped, after_failure: use answer\nNot run: an earlier step failed.",
    ]


def test_a_step_result_is_a_typed_record() -> None:
    [s] = PlanRunner({"f": lambda: {"a": 1}}).run([step("f")]).steps
    assert isinstance(s, StepResult)
    assert (s.index, s.tool, s.arguments, s.status, s.reason, s.error) == (
        0,
        "f",
        {},
        "ok",
        None,
        None,
    )
    assert s.ok and not s.failed and s.observation == '{"a": 1}'
    assert "PlanRunner(tools=['f']" in repr(PlanRunner({"f": lambda: 1}))


async def test_cancelling_a_run_stops_the_code_and_runs_no_later_step(tmp_path: Path) -> None:
    runner = PlanRunner(
        {"after": lambda: later.append(1)},
        builtin_tools=R1V4Tools(executor=BubblewrapSandbox(host_tmp=str(tmp_path))),
    )
    later: list[int] = []
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    task = asyncio.ensure_future(
        runner.arun([step("code", {"code": "import time\ntime.sleep(60)"}), step("after")])
    )
    started: list[psutil.Process] = []
    for _ in range(500):  # wait until the sandboxed Python runs
        await asyncio.sleep(0.02)
        started = [p for p in me.children(recursive=True) if p.pid not in before]
        if any("python" in p.name() for p in started):
            break
    assert any("python" in p.name() for p in started), [p.name() for p in started]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, alive = psutil.wait_procs(started, timeout=5)
    assert alive == [] and later == []
    assert list(tmp_path.iterdir()) == []


def test_an_output_is_read_as_text_a_model_can_read() -> None:
    class Reading:
        def __str__(self) -> str:
            return "21 degrees"

    tools: dict[str, Callable[..., Any]] = {
        "text": lambda: "plain",
        "data": lambda: {"n": [1, 2]},
        "object": Reading,
        "mixed": lambda: [Reading(), 3],
    }
    result = PlanRunner(tools).run([step(name) for name in tools])
    assert [s.observation for s in result.steps] == [
        "plain",
        '{"n": [1, 2]}',
        "21 degrees",
        '["21 degrees", 3]',
    ]
    assert isinstance(result.steps[2].output, Reading)


def test_a_parameter_may_have_any_name(mode: Mode) -> None:
    def request(method: str, fn: str, args: str, kwargs: str, self: str) -> str:
        return " ".join((method, fn, args, kwargs, self))

    names = {"method": "GET", "fn": "f", "args": "a", "kwargs": "k", "self": "s"}
    [s] = execute(PlanRunner([request]), [step("request", names)], mode=mode).steps
    assert (s.status, s.output) == ("ok", "GET f a k s")
