"""Running a planner's plan: each step's tool, in order, each outcome a :class:`StepResult`.

The planner model (``skywork/r1v4-vl-planner-lite``) answers ``<plan>[{"description",
"tool_name", "parameters"}, …]</plan>`` and the transcript parser gives it as a
:class:`~r1v4.Plan` of :class:`~r1v4.PlanStep`\\ s, ``parameters`` parsed from the JSON string the
planner writes. :class:`PlanRunner` runs those steps with R1V4's own tools
(:class:`~r1v4.tools.R1V4Tools`: ``code`` in the sandbox, ``text_search``, ``image_search``,
``web_content``) and the caller's tools, by name.

One run goes through two steps shared by the sync and the async methods: :meth:`_Run.prepare`
reads a step (no I/O: a step that cannot run is answered right there, a step to run becomes a
:class:`_Call`), and the call's ``finish`` or ``fail`` turns what the tool did into a
:class:`StepResult`. Only calling the tool differs between sync and async.
"""

from __future__ import annotations

import json
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

from r1v4._errors import ImageError, InvalidRequestError
from r1v4._transcript import Plan, PlanStep
from r1v4.tools._backends import call_async, call_sync
from r1v4.tools._inputs import ConversationImage
from r1v4.tools._results import ToolImage, ToolResult
from r1v4.tools._toolset import R1V4Tools, _argument

__all__ = [
    "DEFAULT_ANSWER_TOOLS",
    "OnFailure",
    "PlanResult",
    "PlanRunner",
    "PlanTool",
    "StepReason",
    "StepResult",
    "StepStatus",
]

StepStatus: TypeAlias = Literal["ok", "failed", "skipped"]
"""How a step of a plan ended: ``ok`` (its tool ran and answered), ``failed`` (see
:data:`StepReason`), ``skipped`` (not run: a step for the model itself, or one after a failure
when the runner stops there)."""

StepReason: TypeAlias = Literal[
    "unknown_tool", "unavailable", "bad_parameters", "error", "no_tool", "after_failure"
]
"""Why a step failed or was skipped.

Failed: ``unknown_tool`` (no tool of that name), ``unavailable`` (one of R1V4's tools with no
executor or backend configured), ``bad_parameters`` (the parameters are not a JSON object, or
do not fit the tool's signature or schema), ``error`` (the tool raised, or an R1V4 tool's run
ended other than ``ok``: an exception in the code, a limit, a search that raised).
Skipped: ``no_tool`` (the step names one of :data:`DEFAULT_ANSWER_TOOLS`, work for the model
that answers), ``after_failure`` (an earlier step failed and the runner stops on failure).
"""

OnFailure: TypeAlias = Literal["stop", "continue"]
"""What a :class:`PlanRunner` does after a failed step: ``stop`` (the later steps are reported
as skipped, reason ``after_failure``) or ``continue`` (they run)."""

DEFAULT_ANSWER_TOOLS: frozenset[str] = frozenset({"", "answer", "final_answer", "none"})
"""The ``tool_name`` s that mean "no tool: this step is the model's own" (the planner's last
step is typically ``answer``: combine the evidence). Such a step is skipped, reason
``no_tool``, unless a tool of that name is given."""

_DETAIL_CHARS = 1000


class PlanTool(Protocol):
    """A tool a plan's step may name: a callable taking the step's parameters as keywords.

    A plain function is one (sync or ``async def``; the parameters must bind to its
    signature). An object may also have ``async def acall(**parameters)``, used by the async
    methods, and ``check(parameters) -> str | None``, which says in words what in the
    parameters does not fit, before the call (the LangChain and LlamaIndex adapters wrap a
    framework tool so, checking against its schema).
    """

    def __call__(self, /, **parameters: Any) -> Any:
        """Run the tool with the step's parameters; what it returns is the step's output."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step of a plan did: the event a run yields as each step ends.

    Attributes:
        index: the step's position in the plan, from 0.
        step: the planner's step.
        tool: the tool the step names (its ``tool_name``).
        arguments: the parameters the tool was given (a dict), or as the planner wrote them
            when they could not be read.
        status: ``ok``, ``failed`` or ``skipped``.
        reason: why it failed or was skipped (``None`` when ok; see :data:`StepReason`).
        output: what the tool returned: your tool's return value, or the
            :class:`~r1v4.tools.ToolResult` of one of R1V4's tools (failed ones included: its
            ``status``, ``observation`` and ``events()`` tell what happened). ``None`` when
            no tool ran or it raised.
        observation: the outcome as text for a model to read: a string output as it is,
            another output as JSON, an R1V4 tool's observation JSON (the data URIs of the
            images it made replaced by their file names), or what went wrong in words.
        error: what went wrong, in words (``None`` when ok).
        images: the images the step's tool made (R1V4's ``code``), in order.
    """

    index: int
    step: PlanStep
    tool: str
    arguments: Any
    status: StepStatus
    reason: StepReason | None = None
    output: Any = None
    observation: str = ""
    error: str | None = None
    images: tuple[ToolImage, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the step's tool ran and answered."""
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        """Whether the step failed (see :data:`StepReason`)."""
        return self.status == "failed"


@dataclass(frozen=True, slots=True)
class PlanResult:
    """Every step of a plan, run or not, in the plan's order.

    Attributes:
        steps: one :class:`StepResult` per step of the plan.
    """

    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        """Whether no step failed (skipped steps are not failures)."""
        return not any(s.failed for s in self.steps)

    @property
    def failed(self) -> tuple[StepResult, ...]:
        """The steps that failed."""
        return tuple(s for s in self.steps if s.failed)

    @property
    def images(self) -> tuple[ToolImage, ...]:
        """The images the steps made, in order (to show the answering model)."""
        return tuple(image for s in self.steps for image in s.images)

    def summary(self, max_chars_per_step: int = 4000) -> str:
        """The steps and their outcomes as text, for the model that answers from them::

            Step 1 (code) ok: Look closely at the relevant region of the image.
            {"result": "160 120", "type": "code", "images": ["crop_0.png"]}

            Step 2 (text_search) failed, unavailable: Search the web for …
            The text_search tool is unavailable: no backend is configured for it.

        Args:
            max_chars_per_step: an observation longer than this is cut, marked ``…``.

        Returns:
            One paragraph per step, failed and skipped ones included.
        """
        parts = []
        for s in self.steps:
            state = s.status if s.reason is None else f"{s.status}, {s.reason}"
            head = f"Step {s.index + 1} ({s.tool or 'no tool'}) {state}: {s.step.description}"
            body = s.observation
            if len(body) > max_chars_per_step:
                body = body[:max_chars_per_step] + "…"
            parts.append(f"{head}\n{body}" if body else head)
        return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class _Call:
    """A step ready to run: its tool called sync or async, and what to make of the outcome."""

    call: Callable[[], Any]
    acall: Callable[[], Awaitable[Any]]
    finish: Callable[[Any], StepResult]
    fail: Callable[[Exception], StepResult]


class PlanRunner:
    """Runs a plan's steps in order, each with the tool it names; every step is reported.

    A step's ``tool_name`` is looked up in ``tools`` first, then in ``builtin_tools`` (R1V4's
    own: ``code``, ``text_search``, ``image_search``, ``web_content``); a step naming one of
    ``answer_tools`` is the model's own and is skipped. Nothing a step does raises: an unknown
    tool, parameters that do not fit, a tool that raises or an R1V4 tool whose run failed make
    a :class:`StepResult` with ``status="failed"`` and the reason, and ``on_failure`` decides
    whether the later steps run.

    Example:
        .. code-block:: python

            from r1v4 import R1V4Client
            from r1v4.tools import PlanRunner, R1V4Tools

            def lookup(query: str) -> str:
                return my_index.search(query)

            runner = PlanRunner({"text_search": lookup}, builtin_tools=R1V4Tools())
            result = runner.run(plan, images=[picture_bytes])
            for step in result.steps:
                print(step.index + 1, step.tool, step.status, step.observation)

    The images: ``code`` steps find the conversation's images in their working directory
    (``image_0.png``, … see :class:`~r1v4.tools.R1V4Tools`), followed by the images earlier
    steps made, in order.

    Args:
        tools: your tools: a mapping ``name -> tool``, or tools named by their ``__name__``.
            A tool is a callable taking the step's parameters as keywords, sync or async (see
            :class:`PlanTool`); what it returns is the step's output. A name here wins over
            R1V4's tool of the same name.
        builtin_tools: R1V4's own tools (``None``: a step naming one is an unknown tool).
        on_failure: ``"stop"`` (default: once a step failed, the later ones are skipped,
            since they may rest on it) or ``"continue"`` (run every step).
        answer_tools: the tool names that mean a step for the model itself
            (:data:`DEFAULT_ANSWER_TOOLS`).

    Raises:
        InvalidRequestError: a tool is not callable, two tools share a name, ``builtin_tools``
            is not an :class:`~r1v4.tools.R1V4Tools`, or ``on_failure`` is neither
            ``"stop"`` nor ``"continue"``.
    """

    __slots__ = ("answer_tools", "builtin_tools", "on_failure", "tools")

    def __init__(
        self,
        tools: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]] = (),
        *,
        builtin_tools: R1V4Tools | None = None,
        on_failure: OnFailure = "stop",
        answer_tools: Collection[str] = DEFAULT_ANSWER_TOOLS,
    ) -> None:
        if on_failure not in ("stop", "continue"):
            raise InvalidRequestError(
                f"on_failure must be 'stop' or 'continue', got {on_failure!r}"
            )
        if builtin_tools is not None and not isinstance(builtin_tools, R1V4Tools):
            raise InvalidRequestError(
                f"builtin_tools must be an r1v4.tools.R1V4Tools, got {type(builtin_tools).__name__}"
            )
        if isinstance(answer_tools, str) or not all(isinstance(n, str) for n in answer_tools):
            raise InvalidRequestError("answer_tools must be a collection of tool names")
        self.tools: dict[str, Callable[..., Any]] = _named(tools)
        self.builtin_tools = builtin_tools
        self.on_failure: OnFailure = on_failure
        self.answer_tools = frozenset(answer_tools)

    def __repr__(self) -> str:
        return (
            f"PlanRunner(tools={sorted(self.tools)}, builtin_tools={self.builtin_tools!r}, "
            f"on_failure={self.on_failure!r})"
        )

    # -- running ---------------------------------------------------------------------------------

    def run(
        self, plan: Plan | Iterable[PlanStep] | None, images: Sequence[ConversationImage] = ()
    ) -> PlanResult:
        """Run every step, in order.

        Args:
            plan: a :class:`~r1v4.Plan` or its steps (``get_plan(reply)`` of either adapter).
            images: the conversation's images (bytes, data URIs, or objects with ``data``),
                for ``code`` steps.

        Returns:
            One :class:`StepResult` per step.

        Raises:
            InvalidRequestError: ``plan`` is ``None`` (the reply had no plan) or not a plan.
        """
        return PlanResult(tuple(self.iter_steps(plan, images)))

    async def arun(
        self, plan: Plan | Iterable[PlanStep] | None, images: Sequence[ConversationImage] = ()
    ) -> PlanResult:
        """:meth:`run` without blocking the event loop (sync tools run in a worker thread;
        cancelling it stops R1V4's sandboxed code)."""
        return PlanResult(tuple([s async for s in self.aiter_steps(plan, images)]))

    def iter_steps(
        self, plan: Plan | Iterable[PlanStep] | None, images: Sequence[ConversationImage] = ()
    ) -> Iterator[StepResult]:
        """:meth:`run`, each step's result yielded as soon as the step ends.

        Raises:
            InvalidRequestError: as :meth:`run` (here, not at the first ``next``).
        """
        run = _Run(self, plan, images)
        return self._iterate(run)

    def aiter_steps(
        self, plan: Plan | Iterable[PlanStep] | None, images: Sequence[ConversationImage] = ()
    ) -> AsyncIterator[StepResult]:
        """:meth:`arun`, each step's result yielded as soon as the step ends.

        Raises:
            InvalidRequestError: as :meth:`run` (here, not at the first ``anext``).
        """
        run = _Run(self, plan, images)
        return self._aiterate(run)

    def _iterate(self, run: _Run) -> Iterator[StepResult]:
        for index, step in enumerate(run.steps):
            todo = run.prepare(index, step)
            if isinstance(todo, _Call):
                try:
                    outcome = todo.call()
                except Exception as exc:
                    todo = todo.fail(exc)
                else:
                    todo = todo.finish(outcome)
            yield run.record(todo)

    async def _aiterate(self, run: _Run) -> AsyncIterator[StepResult]:
        for index, step in enumerate(run.steps):
            todo = run.prepare(index, step)
            if isinstance(todo, _Call):
                try:
                    outcome = await todo.acall()
                except Exception as exc:
                    todo = todo.fail(exc)
                else:
                    todo = todo.finish(outcome)
            yield run.record(todo)


class _Run:
    """One run of a plan: its steps, the images so far, and whether it stopped."""

    __slots__ = ("images", "runner", "steps", "stopped")

    def __init__(
        self,
        runner: PlanRunner,
        plan: Plan | Iterable[PlanStep] | None,
        images: Sequence[ConversationImage],
    ) -> None:
        self.runner = runner
        self.steps = _steps(plan)
        self.images: list[ConversationImage] = list(images)
        self.stopped = False

    def record(self, result: StepResult) -> StepResult:
        self.images.extend(result.images)
        if result.failed and self.runner.on_failure == "stop":
            self.stopped = True
        return result

    def prepare(self, index: int, step: PlanStep) -> StepResult | _Call:
        runner = self.runner
        name = step.tool_name

        def answer(
            status: StepStatus, reason: StepReason, error: str, arguments: Any
        ) -> StepResult:
            return StepResult(index, step, name, arguments, status, reason, None, error, error)

        if self.stopped:
            return answer(
                "skipped", "after_failure", "Not run: an earlier step failed.", step.parameters
            )
        tool = runner.tools.get(name)
        builtin = runner.builtin_tools
        if tool is None and (builtin is None or not builtin.handles(name)):
            if name in runner.answer_tools:
                what = "Not run: this step is for the model that answers."
                return answer("skipped", "no_tool", what, step.parameters)
            return answer("failed", "unknown_tool", _unknown(name, runner), step.parameters)
        arguments, problem = _parameters(step)
        if arguments is None:
            return answer("failed", "bad_parameters", problem or "", step.parameters)
        if tool is not None:
            problem = _misfit(tool, arguments)
            if problem is not None:
                return answer("failed", "bad_parameters", problem, arguments)
            return self._user_call(index, step, tool, arguments)
        assert builtin is not None
        if name in builtin.available and _argument(name, arguments) is None:
            problem = f"The {name} step's parameters have no argument it can use: {arguments!r}"
            return answer("failed", "bad_parameters", problem[:_DETAIL_CHARS], arguments)
        return self._builtin_call(index, step, builtin, arguments)

    def _user_call(
        self, index: int, step: PlanStep, tool: Callable[..., Any], arguments: dict[str, Any]
    ) -> _Call:
        name = step.tool_name

        def finish(output: Any) -> StepResult:
            return StepResult(index, step, name, arguments, "ok", None, output, _text(output))

        def fail(exc: Exception) -> StepResult:
            error = f"The {name} tool raised {_detail(exc)}"
            return StepResult(index, step, name, arguments, "failed", "error", None, error, error)

        return _Call(
            lambda: call_sync(tool, (), arguments, method="PlanRunner.arun (not run)"),
            lambda: call_async(tool, (), arguments),
            finish,
            fail,
        )

    def _builtin_call(
        self, index: int, step: PlanStep, tools: R1V4Tools, arguments: dict[str, Any]
    ) -> _Call:
        name = step.tool_name
        call = {"name": name, "arguments": arguments}
        images = list(self.images)  # as they are now: later steps' images are not this one's

        def finish(result: ToolResult) -> StepResult:
            text = _observation(result)
            if result.ok:
                return StepResult(
                    index, step, name, arguments, "ok", None, result, text, None, result.images
                )
            reason: StepReason = "unavailable" if result.status == "unavailable" else "error"
            return StepResult(
                index,
                step,
                name,
                arguments,
                "failed",
                reason,
                result,
                text,
                _failure(result),
                result.images,
            )

        def fail(exc: Exception) -> StepResult:
            # R1V4Tools answers every failure of a run itself but the caller's images: those
            # are the caller's error, not the step's.
            if isinstance(exc, ImageError):
                raise exc
            error = f"The {name} tool could not run: {_detail(exc)}"
            return StepResult(index, step, name, arguments, "failed", "error", None, error, error)

        return _Call(
            lambda: tools.run(call, images), lambda: tools.arun(call, images), finish, fail
        )


# -- reading a plan and its steps -----------------------------------------------------------------


def _named(
    tools: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]],
) -> dict[str, Any]:
    if isinstance(tools, Mapping):
        pairs = list(tools.items())
    elif isinstance(tools, (str, bytes)):
        raise InvalidRequestError("tools must be a mapping name -> tool, or a list of tools")
    else:
        pairs = [(getattr(t, "__name__", None), t) for t in tools]
    named: dict[str, Any] = {}
    for name, tool in pairs:
        if not callable(tool):
            raise InvalidRequestError(
                f"a plan's tool must be a callable taking the step's parameters, got "
                f"{type(tool).__name__} (LangChain and LlamaIndex tools: use the adapter's "
                "plan_runner)"
            )
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(f"the tool {tool!r} has no name; pass a mapping name -> tool")
        if name in named:
            raise InvalidRequestError(f"two tools are named {name!r}")
        named[name] = tool
    return named


def _steps(plan: Plan | Iterable[PlanStep] | None) -> tuple[PlanStep, ...]:
    if plan is None:
        raise InvalidRequestError(
            "there is no plan to run (the planner's reply had no <plan>: get_plan gave None)"
        )
    items = plan.steps if isinstance(plan, Plan) else plan
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise InvalidRequestError(
            f"a plan is an r1v4.Plan or a list of r1v4.PlanStep, got {type(plan).__name__}"
        )
    steps = tuple(items)
    for item in steps:
        if not isinstance(item, PlanStep):
            raise InvalidRequestError(
                f"a plan's steps are r1v4.PlanStep objects, got {type(item).__name__}"
            )
    return steps


def _parameters(step: PlanStep) -> tuple[dict[str, Any] | None, str | None]:
    """The step's parameters as keywords, or why they cannot be."""
    value = step.parameters
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}, None
    if isinstance(value, str):  # not JSON when parsed, or JSON text of JSON text
        try:
            value = json.loads(value)
        except ValueError:
            return None, f"The step's parameters are not a JSON object: {value[:_DETAIL_CHARS]!r}"
    if not isinstance(value, Mapping):
        return None, f"The step's parameters must be a JSON object, not {value!r}"[:_DETAIL_CHARS]
    if not all(isinstance(key, str) for key in value):
        return None, "The step's parameter names must be strings"
    return dict(value), None


def _misfit(tool: Callable[..., Any], arguments: dict[str, Any]) -> str | None:
    """What in ``arguments`` does not fit ``tool``, in words; ``None`` when they fit."""
    check = getattr(tool, "check", None)
    if callable(check):
        problem = check(arguments)
        return None if problem is None else str(problem)[:_DETAIL_CHARS]
    import inspect

    try:
        signature = inspect.signature(tool)
    except (TypeError, ValueError):  # a builtin without one: the call itself will tell
        return None
    try:
        signature.bind(**arguments)
    except TypeError as exc:
        return f"The parameters do not fit {signature}: {exc}"[:_DETAIL_CHARS]
    return None


def _unknown(name: str, runner: PlanRunner) -> str:
    known = sorted(runner.tools)
    if runner.builtin_tools is not None:
        known += sorted(set(runner.builtin_tools.available) - set(known))
    where = ", ".join(known) if known else "none"
    text = f"There is no tool named {name!r} (the tools are: {where})."
    if runner.builtin_tools is None and R1V4Tools.handles(name):
        text += " It is one of R1V4's own tools: pass builtin_tools=R1V4Tools(...) to run it."
    return text


# -- what came back -------------------------------------------------------------------------------


def _text(output: Any) -> str:
    """A tool's output as text: a string as it is, data as JSON, another object as ``str``."""
    if isinstance(output, str):
        return output
    try:
        return json.dumps(output, ensure_ascii=False)
    except (TypeError, ValueError):
        if isinstance(output, (Mapping, list, tuple)):  # data holding an object or two
            try:
                return json.dumps(output, ensure_ascii=False, default=str)
            except (TypeError, ValueError):  # a circular structure
                pass
        return str(output)


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_DETAIL_CHARS]


def _observation(result: ToolResult) -> str:
    """The observation JSON with the images' data URIs replaced by their file names."""
    if not result.images:
        return result.observation
    try:
        data = json.loads(result.observation)
    except ValueError:
        return result.observation
    if isinstance(data, dict) and isinstance(data.get("images"), list):
        names = [image.name for image in result.images]
        data["images"] = [
            names[n] if n < len(names) and isinstance(v, str) and v.startswith("data:") else v
            for n, v in enumerate(data["images"])
        ]
    return json.dumps(data, ensure_ascii=False)


def _failure(result: ToolResult) -> str:
    """What an R1V4 tool's observation says went wrong."""
    try:
        data = json.loads(result.observation)
    except ValueError:
        data = None
    said = data.get("result") if isinstance(data, dict) else None
    text = said if isinstance(said, str) and said else result.observation
    return f"The {result.name} tool's run ended with status {result.status!r}: {text}"[
        :_DETAIL_CHARS
    ]
