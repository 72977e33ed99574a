"""The paths of a reply the client continues with R1V4's own tools (``builtin_tools=``): the
core's ``create``/``stream``, sync and async, ``ChatR1V4`` ``invoke``/``stream`` and ``R1V4``
``chat``/``stream_chat``, each turning its framework's reply into one :class:`Looped`, so a test
states what holds once.
"""

from __future__ import annotations

import asyncio
import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from r1v4 import (
    AsyncR1V4Client,
    ChatCompletion,
    ChatCompletionChunk,
    R1V4Client,
    ServerToolCall,
    ServerToolResult,
    TranscriptIssue,
    accumulate,
)
from r1v4.tools import R1V4Tools

__all__ = ["LOOP_PATHS", "LoopPath", "Looped"]


@dataclass
class Looped:
    """One reply, whatever path it took."""

    content: str
    transcript: str | None  # the whole trajectory as one transcript
    calls: list[tuple[str, Any]]  # the server tool calls: (name, arguments)
    results: list[tuple[str | None, Any]]  # their results: (name, observation)
    issues: list[tuple[str, str]]  # transcript issues: (kind, text)
    usage: tuple[int, int, int]  # (prompt, completion, total)
    id: str
    finish: str | None
    chunks: list[ChatCompletionChunk]  # a core stream as the caller got it (else empty)


def _settings(url: str, key: str) -> dict[str, Any]:
    return {"api_key": key, "base_url": url, "max_retries": 0, "timeout": 300.0}


def _fields(messages: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    return {"model": "smollm2", "messages": messages, "max_tokens": max_tokens, "temperature": 0}


# ------------------------------------------------------------------------------ core


def _core(reply: ChatCompletion, chunks: list[ChatCompletionChunk]) -> Looped:
    m = reply.message
    assert reply.usage is not None
    u = reply.usage
    return Looped(
        m.content,
        m.transcript,
        [(e.name, e.arguments) for e in m.events if isinstance(e, ServerToolCall)],
        [(e.name, e.content) for e in m.events if isinstance(e, ServerToolResult)],
        [(e.kind, e.text) for e in m.events if isinstance(e, TranscriptIssue)],
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        reply.id,
        reply.choices[0].finish_reason,
        chunks,
    )


def core_create(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    with R1V4Client(**_settings(url, key)) as client:
        return _core(client.create(**_fields(messages, n), builtin_tools=tools), [])


def core_stream(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    with R1V4Client(**_settings(url, key)) as client:
        chunks = list(client.stream(**_fields(messages, n), builtin_tools=tools))
    return _core(accumulate(chunks), chunks)


def core_acreate(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    async def go() -> Looped:
        async with AsyncR1V4Client(**_settings(url, key)) as client:
            return _core(await client.create(**_fields(messages, n), builtin_tools=tools), [])

    return asyncio.run(go())


def core_astream(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    async def go() -> Looped:
        async with AsyncR1V4Client(**_settings(url, key)) as client:
            stream = client.stream(**_fields(messages, n), builtin_tools=tools)
            chunks = [c async for c in stream]
        return _core(accumulate(chunks), chunks)

    return asyncio.run(go())


# ------------------------------------------------------------------------------ adapters


def _trace(kwargs: dict[str, Any], issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "calls": [(c["name"], c["args"]) for c in kwargs.get("server_tool_calls") or ()],
        "results": [(r["name"], r["output"]) for r in kwargs.get("server_tool_results") or ()],
        "issues": [(i["kind"], i["text"]) for i in issues],
    }


def _lc(message: Any) -> Looped:
    meta, u = message.response_metadata, message.usage_metadata
    return Looped(
        content=message.content,
        transcript=meta.get("raw_content"),
        **_trace(message.additional_kwargs, meta.get("transcript_issues") or []),
        usage=(u["input_tokens"], u["output_tokens"], u["total_tokens"]),
        id=meta["id"],
        finish=meta.get("finish_reason"),
        chunks=[],
    )


def _lc_model(url: str, key: str, tools: R1V4Tools, n: int) -> Any:
    from langchain_r1v4 import ChatR1V4

    return ChatR1V4(
        model="smollm2", temperature=0, max_tokens=n, builtin_tools=tools, **_settings(url, key)
    )


def lc_invoke(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    return _lc(_lc_model(url, key, tools, n).invoke(messages))


def lc_stream(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    chunks = list(_lc_model(url, key, tools, n).stream(messages))
    return _lc(functools.reduce(operator.add, chunks))


def _li(response: Any) -> Looped:
    kwargs, raw = response.message.additional_kwargs, response.raw
    u = raw["usage"]
    return Looped(
        content=response.message.content or "",
        transcript=kwargs.get("raw_content"),
        **_trace(kwargs, kwargs.get("transcript_issues") or []),
        usage=(u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]),
        id=raw["id"],
        finish=raw["finish_reason"],
        chunks=[],
    )


def _li_call(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int, how: str) -> Any:
    from llama_index.core.base.llms.types import ChatMessage

    from llama_index_r1v4 import R1V4

    llm = R1V4(
        model="smollm2", temperature=0, max_tokens=n, builtin_tools=tools, **_settings(url, key)
    )
    history = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    try:
        if how == "chat":
            return llm.chat(history)
        *_, last = llm.stream_chat(history)
        return last
    finally:
        llm.close()


def li_chat(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    return _li(_li_call(url, key, tools, messages, n, "chat"))


def li_stream_chat(url: str, key: str, tools: R1V4Tools, messages: list[Any], n: int) -> Looped:
    return _li(_li_call(url, key, tools, messages, n, "stream_chat"))


# ------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class LoopPath:
    name: str
    stream: bool
    run: Callable[[str, str, R1V4Tools, list[Any], int], Looped]

    def __str__(self) -> str:
        return self.name


LOOP_PATHS = [
    LoopPath("core-create", False, core_create),
    LoopPath("core-stream", True, core_stream),
    LoopPath("core-acreate", False, core_acreate),
    LoopPath("core-astream", True, core_astream),
    LoopPath("lc-invoke", False, lc_invoke),
    LoopPath("lc-stream", True, lc_stream),
    LoopPath("li-chat", False, li_chat),
    LoopPath("li-stream_chat", True, li_stream_chat),
]
