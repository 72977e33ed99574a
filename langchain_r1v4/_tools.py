"""Binding the caller's tools, and structured output on top of them.

``ChatR1V4.bind_tools`` and ``with_structured_output`` keep their signatures and docstrings on
the class; what they do is here, as functions of the model they bind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from r1v4._integrations import tool_choice as wire_tool_choice

__all__ = ["StructuredMethod", "ToolLike", "bind_tools", "structured_output"]

StructuredMethod = Literal["function_calling", "json_mode", "json_schema"]
ToolLike = dict[str, Any] | type | Callable[..., Any] | BaseTool


def bind_tools(
    model: BaseChatModel,
    tools: Sequence[ToolLike],
    *,
    tool_choice: dict[str, Any] | str | bool | None,
    parallel_tool_calls: bool | None,
    strict: bool | None,
    kwargs: dict[str, Any],
) -> Runnable[LanguageModelInput, AIMessage]:
    """``model`` bound to ``tools`` in the OpenAI form, with the choice checked against them."""
    formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
    names = [t["function"]["name"] for t in formatted if "function" in t]
    if tool_choice is not None and tool_choice is not False:
        kwargs["tool_choice"] = wire_tool_choice(tool_choice, names)
    if parallel_tool_calls is not None:
        kwargs["parallel_tool_calls"] = parallel_tool_calls
    return model.bind(tools=formatted, **kwargs)


def structured_output(
    model: BaseChatModel,
    schema: dict[str, Any] | type | None,
    *,
    method: StructuredMethod,
    include_raw: bool,
    strict: bool | None,
    kwargs: dict[str, Any],
) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
    """``model`` made to answer in ``schema``: a forced tool call or a ``response_format``,
    then the parser that reads it back (and, with ``include_raw``, the raw message too)."""
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    trace_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    parser: Runnable[Any, Any]
    if method == "function_calling":
        if schema is None:
            raise ValueError("with_structured_output(method='function_calling') needs a schema")
        tool_name = convert_to_openai_tool(schema)["function"]["name"]
        llm = model.bind_tools(
            [schema],
            tool_choice=tool_name,
            parallel_tool_calls=False,
            strict=strict,
            ls_structured_output_format=trace_format,
            **kwargs,
        )
        if is_pydantic:
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
        else:
            parser = JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
    elif method in ("json_mode", "json_schema"):
        llm = model.bind(
            response_format=_response_format(schema, method, strict),
            ls_structured_output_format=trace_format,
            **kwargs,
        )
        parser = (
            PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
            if is_pydantic
            else JsonOutputParser()
        )
    else:
        raise ValueError(
            f"unknown method {method!r}: use 'function_calling', 'json_mode' or 'json_schema'"
        )
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parse.with_fallbacks([no_parse], exception_key="parsing_error")


def _response_format(
    schema: dict[str, Any] | type | None, method: str, strict: bool | None
) -> dict[str, Any]:
    if method == "json_mode":
        return {"type": "json_object"}
    if schema is None:
        raise ValueError("with_structured_output(method='json_schema') needs a schema")
    function = convert_to_openai_tool(schema, strict=strict)["function"]
    json_schema: dict[str, Any] = {
        "name": function["name"],
        "schema": function.get("parameters", {}),
    }
    if strict is not None:
        json_schema["strict"] = strict
    return {"type": "json_schema", "json_schema": json_schema}
