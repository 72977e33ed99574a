"""The twelve ways a user reaches a server (core, ``ChatR1V4``, ``R1V4``; sync and async; stream
and not), each turning one framework-neutral :class:`Ask` into its framework's own input and the
framework's output back into one :class:`Answer`, so a test states each behaviour once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from r1v4 import AsyncR1V4Client, R1V4Client, accumulate

__all__ = ["PATHS", "Answer", "Ask", "Path"]


@dataclass(frozen=True)
class Ask:
    """OpenAI-style message dicts (user, system, assistant with ``tool_calls``, tool), the tools
    bound, and the per-call settings. Generation is always capped, at temperature 0.

    ``tool_choice`` and ``stop`` go the framework's own way (the core's request fields,
    LangChain's ``bind_tools(tool_choice=)`` and ``stop``, LlamaIndex's
    ``chat_with_tools(tool_choice=)`` and ``stop`` in ``additional_kwargs``); ``body`` holds
    llama.cpp's own request fields (``grammar``, ``logit_bias``: see ``real_asks``), sent
    through each framework's extra-body setting (the core's and LangChain's ``extra_body``,
    LlamaIndex's ``additional_kwargs``)."""

    messages: tuple[dict[str, Any], ...]
    tools: tuple[dict[str, Any], ...] = ()
    max_tokens: int = 24
    tool_mode: str = "auto"
    tool_choice: str | None = None
    stop: tuple[str, ...] = ()
    body: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more constructor settings


@dataclass
class Answer:
    text: str
    tool_calls: list[tuple[str, str, dict[str, Any]]]  # (id, name, arguments)
    usage: tuple[int, int, int] | None  # (prompt, completion, total)
    pieces: int  # answer deltas seen (streams), 0 for non-stream calls


def _settings(url: str, key: str, ask: Ask) -> dict[str, Any]:
    return {
        "api_key": key,
        "base_url": url,
        "max_retries": 0,
        "timeout": 300.0,  # a loaded 2-core machine: a reply may take minutes
        "tool_mode": ask.tool_mode,
        **ask.extra,
    }


# ------------------------------------------------------------------------------ core


def _core_fields(ask: Ask, model: str = "smollm2") -> dict[str, Any]:
    fields: dict[str, Any] = {
        "model": model,
        "messages": [dict(m) for m in ask.messages],
        "max_tokens": ask.max_tokens,
        "temperature": 0,
    }
    if ask.tools:
        fields["tools"] = [dict(t) for t in ask.tools]
    if ask.tool_choice is not None:
        fields["tool_choice"] = ask.tool_choice
    if ask.stop:
        fields["stop"] = list(ask.stop)
    if ask.body:
        fields["extra_body"] = dict(ask.body)
    return fields


def _core_answer(message: Any, usage: Any, pieces: int) -> Answer:
    calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]
    u = (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) if usage else None
    return Answer(message.content, calls, u, pieces)


def _pieces(chunks: list[Any]) -> int:
    return sum(1 for c in chunks for ch in c.choices if ch.delta.content)


def core_create(url: str, key: str, ask: Ask) -> Answer:
    with R1V4Client(**_settings(url, key, ask)) as client:
        reply = client.create(**_core_fields(ask))
    return _core_answer(reply.message, reply.usage, 0)


def core_stream(url: str, key: str, ask: Ask) -> Answer:
    with R1V4Client(**_settings(url, key, ask)) as client:
        chunks = list(client.stream(**_core_fields(ask)))
    reply = accumulate(chunks)
    return _core_answer(reply.message, reply.usage, _pieces(chunks))


def core_acreate(url: str, key: str, ask: Ask) -> Answer:
    async def go() -> Answer:
        async with AsyncR1V4Client(**_settings(url, key, ask)) as client:
            reply = await client.create(**_core_fields(ask))
        return _core_answer(reply.message, reply.usage, 0)

    return asyncio.run(go())


def core_astream(url: str, key: str, ask: Ask) -> Answer:
    async def go() -> Answer:
        async with AsyncR1V4Client(**_settings(url, key, ask)) as client:
            chunks = [c async for c in client.stream(**_core_fields(ask))]
        reply = accumulate(chunks)
        return _core_answer(reply.message, reply.usage, _pieces(chunks))

    return asyncio.run(go())


# ------------------------------------------------------------------------------ LangChain


def _lc_model(url: str, key: str, ask: Ask) -> Any:
    from langchain_r1v4 import ChatR1V4

    llm = ChatR1V4(model="smollm2", temperature=0, max_tokens=ask.max_tokens,
                   stop=list(ask.stop) or None, extra_body=dict(ask.body) or None,
                   **_settings(url, key, ask))  # fmt: skip
    return llm.bind_tools(list(ask.tools), tool_choice=ask.tool_choice) if ask.tools else llm


def _lc_messages(ask: Ask) -> list[Any]:
    from langchain_core.messages import convert_to_messages

    return convert_to_messages([dict(m) for m in ask.messages])


def _lc_answer(msg: Any, pieces: int) -> Answer:
    calls = [(c["id"], c["name"], c["args"]) for c in msg.tool_calls]
    u = msg.usage_metadata
    usage = (u["input_tokens"], u["output_tokens"], u["total_tokens"]) if u else None
    text = msg.content if isinstance(msg.content, str) else msg.text
    return Answer(text, calls, usage, pieces)


def _lc_join(chunks: list[Any]) -> Answer:
    pieces = sum(1 for c in chunks if c.content)
    return _lc_answer(functools.reduce(operator.add, chunks), pieces)


def lc_invoke(url: str, key: str, ask: Ask) -> Answer:
    return _lc_answer(_lc_model(url, key, ask).invoke(_lc_messages(ask)), 0)


def lc_stream(url: str, key: str, ask: Ask) -> Answer:
    return _lc_join(list(_lc_model(url, key, ask).stream(_lc_messages(ask))))


def lc_ainvoke(url: str, key: str, ask: Ask) -> Answer:
    async def go() -> Answer:
        return _lc_answer(await _lc_model(url, key, ask).ainvoke(_lc_messages(ask)), 0)

    return asyncio.run(go())


def lc_astream(url: str, key: str, ask: Ask) -> Answer:
    async def go() -> Answer:
        return _lc_join([c async for c in _lc_model(url, key, ask).astream(_lc_messages(ask))])

    return asyncio.run(go())


# ------------------------------------------------------------------------------ LlamaIndex


def _li_model(url: str, key: str, ask: Ask) -> Any:
    from llama_index_r1v4 import R1V4

    body = {**ask.body, "stop": list(ask.stop)} if ask.stop else dict(ask.body)
    return R1V4(model="smollm2", temperature=0, max_tokens=ask.max_tokens,
                additional_kwargs=body, **_settings(url, key, ask))  # fmt: skip


def _li_messages(ask: Ask) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock, ToolCallBlock

    out = []
    for m in ask.messages:
        content = m.get("content") or []
        blocks: list[Any] = []
        if isinstance(content, str):
            content = [{"type": "text", "text": content}] if content else []
        for part in content:
            if part["type"] == "text":
                blocks.append(TextBlock(text=part["text"]))
            else:
                blocks.append(ImageBlock(url=part["image_url"]["url"]))
        for call in m.get("tool_calls") or ():
            blocks.append(
                ToolCallBlock(
                    tool_call_id=call["id"],
                    tool_name=call["function"]["name"],
                    tool_kwargs=json.loads(call["function"]["arguments"]),
                )
            )
        kwargs = {"tool_call_id": m["tool_call_id"]} if m["role"] == "tool" else {}
        out.append(ChatMessage(role=m["role"], blocks=blocks, additional_kwargs=kwargs))
    return out


def _li_tools(ask: Ask) -> list[Any]:
    """``FunctionTool``s whose metadata is exactly the given OpenAI tool schema."""
    from llama_index.core.tools import FunctionTool, ToolMetadata
    from pydantic import BaseModel

    tools = []
    for t in ask.tools:
        schema = dict(t["function"]["parameters"])

        class Params(BaseModel):
            @classmethod
            def model_json_schema(cls, *a: Any, _s: dict[str, Any] = schema, **k: Any) -> Any:
                return dict(_s)

        meta = ToolMetadata(
            name=t["function"]["name"],
            description=t["function"]["description"],
            fn_schema=Params,
        )
        tools.append(FunctionTool(fn=lambda **kw: "ok", metadata=meta))
    return tools


def _li_answer(llm: Any, resp: Any, pieces: int) -> Answer:
    selections = llm.get_tool_calls_from_response(resp, error_on_no_tool_call=False)
    calls = [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections]
    u = (resp.raw or {}).get("usage")
    usage = (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) if u else None
    return Answer(resp.message.content or "", calls, usage, pieces)


def li_chat(url: str, key: str, ask: Ask) -> Answer:
    llm = _li_model(url, key, ask)
    try:
        if ask.tools:
            resp = llm.chat_with_tools(
                _li_tools(ask), chat_history=_li_messages(ask), tool_choice=ask.tool_choice
            )
        else:
            resp = llm.chat(_li_messages(ask))
        return _li_answer(llm, resp, 0)
    finally:
        llm.close()


def li_stream_chat(url: str, key: str, ask: Ask) -> Answer:
    llm = _li_model(url, key, ask)
    try:
        if ask.tools:
            gen = llm.stream_chat_with_tools(
                _li_tools(ask), chat_history=_li_messages(ask), tool_choice=ask.tool_choice
            )
        else:
            gen = llm.stream_chat(_li_messages(ask))
        responses = list(gen)
        return _li_answer(llm, responses[-1], sum(1 for r in responses if r.delta))
    finally:
        llm.close()


def li_achat(url: str, key: str, ask: Ask) -> Answer:
    async def go() -> Answer:
        llm = _li_model(url, key, ask)
        try:
            if ask.tools:
                resp = await llm.achat_with_tools(
                    _li_tools(ask), chat_history=_li_messages(ask), tool_choice=ask.tool_choice
                )
            else:
                resp = await llm.achat(_li_messages(ask))
            return _li_answer(llm, resp, 0)
        finally:
            await llm.aclose()

    return asyncio.run(go())


def li_astream_chat(url: str, key: str, ask: Ask) -> Answer:
    async def go() -> Answer:
        llm = _li_model(url, key, ask)
        try:
            if ask.tools:
                gen = await llm.astream_chat_with_tools(
                    _li_tools(ask), chat_history=_li_messages(ask), tool_choice=ask.tool_choice
                )
            else:
                gen = await llm.astream_chat(_li_messages(ask))
            responses = [r async for r in gen]
            return _li_answer(llm, responses[-1], sum(1 for r in responses if r.delta))
        finally:
            await llm.aclose()

    return asyncio.run(go())


# ------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Path:
    name: str
    stream: bool
    run: Callable[[str, str, Ask], Answer]

    def __str__(self) -> str:
        return self.name


PATHS = [
    Path("core-create", False, core_create),
    Path("core-stream", True, core_stream),
    Path("core-acreate", False, core_acreate),
    Path("core-astream", True, core_astream),
    Path("lc-invoke", False, lc_invoke),
    Path("lc-stream", True, lc_stream),
    Path("lc-ainvoke", False, lc_ainvoke),
    Path("lc-astream", True, lc_astream),
    Path("li-chat", False, li_chat),
    Path("li-stream_chat", True, li_stream_chat),
    Path("li-achat", False, li_achat),
    Path("li-astream_chat", True, li_astream_chat),
]
