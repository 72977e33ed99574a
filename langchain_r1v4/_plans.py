"""Running a planner's plan with LangChain tools: :func:`plan_runner`, a ``Runnable``.

The running is the core's (:class:`r1v4.tools.PlanRunner`); here a LangChain ``BaseTool``
becomes a tool the core calls (its parameters checked against the tool's schema first, the
run's callbacks passed on), and the planner's ``AIMessage`` and LangChain image blocks become
the core's plan and images.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from langchain_r1v4._accessors import get_plan
from langchain_r1v4._messages import _image_url
from r1v4 import InvalidRequestError, Plan, PlanStep
from r1v4.tools import DEFAULT_ANSWER_TOOLS, OnFailure, PlanResult, PlanRunner, R1V4Tools

__all__ = ["plan_runner"]


class _StepTool:
    """One LangChain tool as a tool of the core's :class:`~r1v4.tools.PlanRunner`."""

    __slots__ = ("config", "tool")

    def __init__(self, tool: BaseTool, config: RunnableConfig | None) -> None:
        self.tool = tool
        self.config = config

    def check(self, parameters: dict[str, Any]) -> str | None:
        """What in ``parameters`` the tool's schema does not take, in words."""
        fields = self.tool.args
        unknown = sorted(set(parameters) - set(fields))
        if unknown:
            return (
                f"The {self.tool.name} tool takes no parameter {', '.join(map(repr, unknown))} "
                f"(it takes {', '.join(fields) or 'none'})."
            )
        schema = self.tool.tool_call_schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            try:
                schema.model_validate(parameters)
            except ValidationError as exc:
                return f"The parameters do not fit the {self.tool.name} tool: {exc}"
        elif isinstance(schema, Mapping):  # a JSON schema: its required names at least
            missing = [k for k in schema.get("required", ()) if k not in parameters]
            if missing:
                return f"The {self.tool.name} tool needs {', '.join(map(repr, missing))}."
        return None

    def __call__(self, /, **parameters: Any) -> Any:
        return self.tool.invoke(parameters, self.config)

    async def acall(self, /, **parameters: Any) -> Any:
        return await self.tool.ainvoke(parameters, self.config)


def plan_runner(
    tools: Sequence[BaseTool] = (),
    *,
    builtin_tools: R1V4Tools | None = None,
    on_failure: OnFailure = "stop",
    answer_tools: Collection[str] = DEFAULT_ANSWER_TOOLS,
) -> Runnable[Any, PlanResult]:
    """A ``Runnable`` that runs a planner's plan, each step with the tool it names.

    The planner model (``skywork/r1v4-vl-planner-lite``) answers with steps ``{description,
    tool_name, parameters}``; this runs them in order with your LangChain tools (by their
    ``name``) and R1V4's own (``builtin_tools``: ``code`` in a sandbox, ``text_search``,
    ``image_search``, ``web_content``). Every step is reported as an
    :class:`r1v4.tools.StepResult`: a step whose tool is unknown, whose parameters do not fit
    the tool's schema, or whose tool raises is ``failed`` with its reason, never hidden.
    Your tools get the run's callbacks, as tools an agent calls do.

    Example:
        .. code-block:: python

            from langchain_r1v4 import ChatR1V4, plan_runner
            from r1v4.tools import R1V4Tools

            planner = ChatR1V4(model="skywork/r1v4-vl-planner-lite")
            run_plan = plan_runner([my_search_tool], builtin_tools=R1V4Tools())
            result = (planner | run_plan).invoke([question])   # a PlanResult
            print(result.summary())

    In a LangGraph node, pass the images the ``code`` steps work on with the plan::

        result = run_plan.invoke({"plan": state["plan_message"], "images": [state["question"]]})

    Args:
        tools: your LangChain tools; a tool wins over R1V4's tool of the same name.
        builtin_tools: R1V4's own tools (``None``: a step naming one fails as unknown).
        on_failure: ``"stop"`` (default: after a failed step, the later ones are reported as
            skipped) or ``"continue"``.
        answer_tools: the ``tool_name`` s of steps for the answering model itself, reported
            as skipped (:data:`r1v4.tools.DEFAULT_ANSWER_TOOLS`).

    Returns:
        A ``Runnable`` (``invoke``, ``ainvoke``, ``batch``, …) whose input is the planner's
        message (an ``AIMessage``, as ``ChatR1V4`` returns it), an ``r1v4.Plan`` or a list of
        ``r1v4.PlanStep``, or a dict ``{"plan": <one of those>, "images": [...]}``; the
        images are messages (their image blocks), LangChain image blocks with inline data,
        bytes or data URIs. Its output is an :class:`r1v4.tools.PlanResult`.

    Raises:
        InvalidRequestError: a tool is not a LangChain ``BaseTool``, or two share a name (and
            the settings :class:`r1v4.tools.PlanRunner` refuses). At run time: the message
            has no plan, or an image is not inline.
    """
    named: dict[str, BaseTool] = {}
    for tool in tools:
        if not isinstance(tool, BaseTool):
            raise InvalidRequestError(
                f"plan_runner takes LangChain BaseTools, got {type(tool).__name__}"
            )
        if tool.name in named:
            raise InvalidRequestError(f"two tools are named {tool.name!r}")
        named[tool.name] = tool

    def runner(config: RunnableConfig | None) -> PlanRunner:
        return PlanRunner(
            {name: _StepTool(tool, config) for name, tool in named.items()},
            builtin_tools=builtin_tools,
            on_failure=on_failure,
            answer_tools=answer_tools,
        )

    runner(None)  # the core's checks of the settings, now rather than at the first run

    def run(value: Any, config: RunnableConfig) -> PlanResult:
        plan, images = _read_input(value)
        return runner(config).run(plan, images)

    async def arun(value: Any, config: RunnableConfig) -> PlanResult:
        plan, images = _read_input(value)
        return await runner(config).arun(plan, images)

    return RunnableLambda(run, afunc=arun, name="r1v4_plan_runner")


def _read_input(value: Any) -> tuple[Plan | Sequence[PlanStep] | None, list[Any]]:
    images: list[Any] = []
    if isinstance(value, Mapping) and "plan" in value:
        images = _images(value.get("images") or ())
        value = value["plan"]
    if isinstance(value, BaseMessage):
        return get_plan(value), images
    if isinstance(value, (Plan, list, tuple)):
        return value, images
    raise InvalidRequestError(
        "plan_runner's input is the planner's message, an r1v4.Plan, a list of r1v4.PlanStep, "
        f"or {{'plan': ..., 'images': [...]}}; got {type(value).__name__}"
    )


def _images(items: Any) -> list[Any]:
    """The images of messages and LangChain image blocks, as the core takes them."""
    if isinstance(items, (BaseMessage, Mapping, str, bytes)):
        items = [items]
    out: list[Any] = []
    for position, item in enumerate(items):
        if isinstance(item, BaseMessage):
            blocks = item.content if isinstance(item.content, list) else []
            out += [
                _inline(b, position, i)
                for i, b in enumerate(blocks)
                if isinstance(b, dict) and b.get("type") in ("image", "image_url")
            ]
        elif isinstance(item, Mapping):
            out.append(_inline(dict(item), position, 0))
        elif isinstance(item, str) and not item.startswith("data:"):
            out.append(_inline({"type": "image", "url": item}, position, 0))
        else:
            out.append(item)  # bytes, a data URI, an image object: the core checks it
    return out


def _inline(block: dict[str, Any], position: int, i: int) -> str:
    url, _detail = _image_url(block, position, i)
    if isinstance(url, str) and url.startswith("data:"):
        return url
    raise InvalidRequestError(
        f"image {position}, block {i}: a plan's code works on inline images (base64 or a data "
        "URI); read or download this one first"
    )
