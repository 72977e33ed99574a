"""Running a planner's plan with LlamaIndex tools: :func:`plan_runner`.

The running is the core's (:class:`r1v4.tools.PlanRunner`); here a LlamaIndex tool becomes a
tool the core calls: its parameters checked against the tool's ``fn_schema`` first, its
``ToolOutput`` read back as the step's output (an output flagged as an error raises, so the
step fails).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from llama_index.core.schema import BaseNode, NodeWithScore
from llama_index.core.tools import BaseTool, ToolOutput
from llama_index.core.tools.types import AsyncBaseTool, adapt_to_async_tool
from pydantic import ValidationError

from llama_index_r1v4._builtin_tools import _plain
from r1v4 import InvalidRequestError
from r1v4.tools import DEFAULT_ANSWER_TOOLS, OnFailure, PlanRunner, R1V4Tools

__all__ = ["plan_runner"]


class _StepTool:
    """One LlamaIndex tool as a tool of the core's :class:`~r1v4.tools.PlanRunner`."""

    __slots__ = ("_tool", "tool")

    def __init__(self, tool: BaseTool) -> None:
        self.tool = tool
        self._tool: AsyncBaseTool = adapt_to_async_tool(tool)

    def __repr__(self) -> str:
        return f"plan tool {self.tool.metadata.name!r}"

    def check(self, parameters: dict[str, Any]) -> str | None:
        """What in ``parameters`` the tool's ``fn_schema`` does not take, in words."""
        schema = self.tool.metadata.fn_schema
        if schema is None:
            return None
        name = self.tool.metadata.name
        fields = list(schema.model_fields)
        unknown = sorted(set(parameters) - set(fields))
        if unknown and schema.model_config.get("extra") != "allow":
            return (
                f"The {name} tool takes no parameter {', '.join(map(repr, unknown))} "
                f"(it takes {', '.join(fields) or 'none'})."
            )
        try:
            schema.model_validate(parameters)
        except ValidationError as exc:
            return f"The parameters do not fit the {name} tool: {exc}"
        return None

    def __call__(self, /, **parameters: Any) -> Any:
        return _output(self._tool.call(**parameters))

    async def acall(self, /, **parameters: Any) -> Any:
        return _output(await self._tool.acall(**parameters))


def plan_runner(
    tools: Sequence[BaseTool] = (),
    *,
    builtin_tools: R1V4Tools | None = None,
    on_failure: OnFailure = "stop",
    answer_tools: Collection[str] = DEFAULT_ANSWER_TOOLS,
) -> PlanRunner:
    """A :class:`r1v4.tools.PlanRunner` that runs a planner's steps with LlamaIndex tools.

    The planner model (``skywork/r1v4-vl-planner-lite``) answers with steps ``{description,
    tool_name, parameters}`` (:func:`get_plan`); the runner runs them in order with your
    LlamaIndex tools (by ``metadata.name``) and R1V4's own (``builtin_tools``: ``code`` in a
    sandbox, ``text_search``, ``image_search``, ``web_content``). Every step is reported as
    an :class:`r1v4.tools.StepResult`: a step whose tool is unknown, whose parameters do not
    fit the tool's ``fn_schema``, or whose tool raises (or answers a ``ToolOutput`` flagged as
    an error) is ``failed`` with its reason, never hidden.

    Example:
        .. code-block:: python

            from llama_index_r1v4 import R1V4, get_plan, plan_runner
            from r1v4.tools import R1V4Tools

            planner = R1V4(model="skywork/r1v4-vl-planner-lite")
            runner = plan_runner([search_tool], builtin_tools=R1V4Tools())
            response = await planner.achat([question])
            result = await runner.arun(get_plan(response), images=[picture_bytes])
            async for step in runner.aiter_steps(get_plan(response)):   # as each step ends
                ...

    Args:
        tools: your LlamaIndex tools (``FunctionTool``, a ``ToolSpec``'s tools, any
            ``BaseTool``); a tool wins over R1V4's tool of the same name.
        builtin_tools: R1V4's own tools (``None``: a step naming one fails as unknown).
        on_failure: ``"stop"`` (default: after a failed step, the later ones are reported as
            skipped) or ``"continue"``.
        answer_tools: the ``tool_name`` s of steps for the answering model itself, reported
            as skipped (:data:`r1v4.tools.DEFAULT_ANSWER_TOOLS`).

    Returns:
        The core's runner: ``run``/``arun`` (a :class:`r1v4.tools.PlanResult`) and
        ``iter_steps``/``aiter_steps`` take the steps (``get_plan(response)``) and the
        images the ``code`` steps work on (bytes or data URIs). A step's output is the
        tool's ``raw_output`` when it is plain data (text, numbers, dicts, lists; nodes as
        dicts), else the ``ToolOutput``'s text.

    Raises:
        InvalidRequestError: a tool is not a LlamaIndex ``BaseTool``, or two share a name (and
            the settings :class:`r1v4.tools.PlanRunner` refuses).
    """
    named: dict[str, _StepTool] = {}
    for tool in tools:
        if not isinstance(tool, BaseTool):
            raise InvalidRequestError(
                f"plan_runner takes LlamaIndex BaseTools, got {type(tool).__name__}"
            )
        name = tool.metadata.name
        if not name:
            raise InvalidRequestError(f"the tool {tool!r} has no name (metadata.name)")
        if name in named:
            raise InvalidRequestError(f"two tools are named {name!r}")
        named[name] = _StepTool(tool)
    return PlanRunner(
        named, builtin_tools=builtin_tools, on_failure=on_failure, answer_tools=answer_tools
    )


def _output(output: Any) -> Any:
    if not isinstance(output, ToolOutput):
        return _plain(output)
    if output.is_error:
        raise RuntimeError(output.content)
    raw = output.raw_output
    plain = (str, int, float, bool, Mapping, list, tuple, BaseNode, NodeWithScore)
    return _plain(raw) if isinstance(raw, plain) else output.content
