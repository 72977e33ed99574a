"""The twelve ways a user reaches R1V4, as uniform callables.

Every path takes the server's base URL, the client settings and a framework-neutral
:class:`Call`, translates the call into its framework's own input form (core dicts, LangChain
messages and content blocks, LlamaIndex ``ChatMessage``/``ImageBlock``/``FunctionTool``), runs
it to the end and returns an :class:`Outcome` -- or raises whatever the path raises. Stream paths
record what the caller is handed as it arrives (:class:`Seen`: every answer delta and the response
id of every chunk), so a test still sees what the caller got when the stream then fails. The
outcome holds the whole result the caller ends with, so a test can compare all of it (raw
content, id, usage, trace), not just the answer text.

For the client-side tests each stream path also offers ``make`` (the client or model object)
and ``iterate`` (its answer deltas as a plain (async) generator that closes nothing itself): a
test holds the object, breaks out or cancels, and checks that the framework alone closed the
connection.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import operator
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from r1v4 import DEFAULT_MODEL, AsyncR1V4Client, ChatCompletion, R1V4Client, accumulate

__all__ = [
    "PATHS",
    "Call",
    "Image",
    "Msg",
    "Outcome",
    "Path",
    "Seen",
    "Settings",
    "Tool",
    "run_path",
    "run_path_seen",
]


# ------------------------------------------------------------------------------ the call


@dataclass(frozen=True)
class Image:
    """One image part, in whichever form the test needs.

    ``url``: an http(s) URL or a data URI, sent as a URL in every framework.
    ``data`` (+ ``mime``): raw bytes, sent the framework's raw-bytes way (core: a data URI the
    client must still validate; LangChain: a ``base64`` image block; LlamaIndex: ``ImageBlock``
    ``image=``).
    ``b64`` (+ ``mime``): base64 text as the user has it (LangChain ``base64`` block; core and
    LlamaIndex: a data URI).
    """

    url: str | None = None
    data: bytes | None = None
    b64: str | None = None
    mime: str = "image/png"

    def data_uri(self) -> str:
        if self.url is not None:
            return self.url
        text = self.b64 if self.b64 is not None else base64.b64encode(self.data or b"").decode()
        return f"data:{self.mime};base64,{text}"


Part = str | Image


@dataclass(frozen=True)
class Msg:
    role: str
    content: str | tuple[Part, ...]

    def parts(self) -> tuple[Part, ...]:
        return (self.content,) if isinstance(self.content, str) else self.content


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]

    def openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


_UNSET: Any = object()


@dataclass(frozen=True)
class Call:
    """What the user asks, independent of the framework."""

    messages: tuple[Msg, ...] = (Msg("user", "hello"),)
    model: Any = _UNSET  # per-call model override (a wrong type is a bad input)
    max_tokens: Any = _UNSET
    tools: tuple[Tool, ...] = ()

    def options(self) -> dict[str, Any]:
        """Per-call keyword arguments, passed the framework's per-call way."""
        out: dict[str, Any] = {}
        if self.model is not _UNSET:
            out["model"] = self.model
        if self.max_tokens is not _UNSET:
            out["max_tokens"] = self.max_tokens
        return out


@dataclass(frozen=True)
class Settings:
    """Client settings, given to each framework through its own constructor (``backoff``
    included: 10 ms keeps retrying tests fast).

    ``follow_redirects`` makes the path pass its own httpx client (``http_client`` /
    ``http_async_client`` / ``async_http_client``) built with ``follow_redirects=True``.
    """

    api_key: str
    max_retries: int = 2
    timeout: float = 10.0
    backoff: float = 0.01
    follow_redirects: bool = False
    callbacks: tuple[Any, ...] = ()  # LangChain callback handlers for ChatR1V4
    allow_private_urls: bool = False  # image URLs on loopback (the test image host) need it


@dataclass
class Seen:
    """What a stream path handed the caller, as it came: each answer delta, and the response id
    each chunk (LangChain chunk, LlamaIndex response) carried."""

    parts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What a path ended with.

    ``whole``: the whole result, as comparable data with the clock (``created``) left out --
    core: the ``ChatCompletion`` (stream paths: ``accumulate`` of the chunks); LangChain: the
    message's ``model_dump()`` (stream paths: the sum of the chunks); LlamaIndex: the last
    ``ChatResponse``'s ``model_dump()``. ``ids``: each place that result names its response
    (LangChain: the message id and ``response_metadata["id"]``).
    """

    text: str
    parts: list[str] = field(default_factory=list)
    whole: Any = None
    ids: list[str | None] = field(default_factory=list)


# ------------------------------------------------------------------------------ core


def core_messages(call: Call) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in call.messages:
        if isinstance(m.content, str):
            out.append({"role": m.role, "content": m.content})
            continue
        parts: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, str):
                parts.append({"type": "text", "text": p})
            else:
                parts.append({"type": "image_url", "image_url": {"url": p.data_uri()}})
        out.append({"role": m.role, "content": parts})
    return out


def core_fields(call: Call) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": DEFAULT_MODEL, "messages": core_messages(call)}
    fields.update(call.options())
    if call.tools:
        fields["tools"] = [t.openai() for t in call.tools]
    return fields


def core_kwargs(url: str, s: Settings) -> dict[str, Any]:
    return {
        "api_key": s.api_key,
        "base_url": url,
        "timeout": s.timeout,
        "max_retries": s.max_retries,
        "backoff": s.backoff,
        "allow_private_urls": s.allow_private_urls,
    }


Owned = list[httpx.Client | httpx.AsyncClient]


def _user_sync(s: Settings, owned: Owned | None) -> httpx.Client | None:
    """The user's own httpx client, when the settings ask for one (kept in ``owned``)."""
    if not s.follow_redirects:
        return None
    http = httpx.Client(follow_redirects=True)
    if owned is not None:
        owned.append(http)
    return http


def _user_async(s: Settings, owned: Owned | None) -> httpx.AsyncClient | None:
    if not s.follow_redirects:
        return None
    http = httpx.AsyncClient(follow_redirects=True)
    if owned is not None:
        owned.append(http)
    return http


def _close_owned(owned: Owned) -> None:
    for http in owned:
        if isinstance(http, httpx.Client):
            http.close()
        else:
            asyncio.run(http.aclose())


async def _aclose_owned(owned: Owned) -> None:
    for http in owned:
        if isinstance(http, httpx.Client):
            http.close()
        else:
            await http.aclose()


def make_core_sync(url: str, s: Settings, owned: Owned | None = None) -> R1V4Client:
    return R1V4Client(http_client=_user_sync(s, owned), **core_kwargs(url, s))


def make_core_async(url: str, s: Settings, owned: Owned | None = None) -> AsyncR1V4Client:
    return AsyncR1V4Client(http_async_client=_user_async(s, owned), **core_kwargs(url, s))


def core_outcome(completion: ChatCompletion, parts: list[str] | None = None) -> Outcome:
    whole = dataclasses.replace(completion, created=0)
    return Outcome(completion.message.content, parts or [], whole, [completion.id])


def core_chunk(chunk: Any, seen: Seen) -> None:
    seen.ids.append(chunk.id)
    for choice in chunk.choices:
        if choice.delta.content:
            seen.parts.append(choice.delta.content)


def core_sync_create(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    owned: Owned = []
    c = make_core_sync(url, s, owned)
    try:
        out = c.create(**core_fields(call))
    finally:
        c.close()
        _close_owned(owned)
    return core_outcome(out)


def iter_core_sync(c: R1V4Client, call: Call) -> Iterator[str]:
    for chunk in c.stream(**core_fields(call)):
        for choice in chunk.choices:
            if choice.delta.content:
                yield choice.delta.content


def core_sync_stream(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    owned: Owned = []
    c = make_core_sync(url, s, owned)
    chunks = []
    try:
        for chunk in c.stream(**core_fields(call)):
            chunks.append(chunk)
            core_chunk(chunk, seen)
    finally:
        c.close()
        _close_owned(owned)
    return core_outcome(accumulate(chunks), seen.parts)


def core_async_create(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    async def go() -> Outcome:
        owned: Owned = []
        c = make_core_async(url, s, owned)
        try:
            out = await c.create(**core_fields(call))
        finally:
            await c.aclose()
            await _aclose_owned(owned)
        return core_outcome(out)

    return asyncio.run(go())


async def aiter_core(c: AsyncR1V4Client, call: Call) -> AsyncIterator[str]:
    async for chunk in c.stream(**core_fields(call)):
        for choice in chunk.choices:
            if choice.delta.content:
                yield choice.delta.content


def core_async_stream(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    async def go() -> Outcome:
        owned: Owned = []
        c = make_core_async(url, s, owned)
        chunks = []
        try:
            async for chunk in c.stream(**core_fields(call)):
                chunks.append(chunk)
                core_chunk(chunk, seen)
        finally:
            await c.aclose()
            await _aclose_owned(owned)
        return core_outcome(accumulate(chunks), seen.parts)

    return asyncio.run(go())


# ------------------------------------------------------------------------------ LangChain


def lc_messages(call: Call) -> list[Any]:
    from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage

    out: list[Any] = []
    for m in call.messages:
        content: Any
        content = m.content if isinstance(m.content, str) else [_lc_block(p) for p in m.content]
        if m.role == "user":
            out.append(HumanMessage(content=content))
        elif m.role == "system":
            out.append(SystemMessage(content=content))
        elif m.role == "assistant":
            out.append(AIMessage(content=content))
        else:  # any other role goes the generic way LangChain offers
            out.append(ChatMessage(role=m.role, content=content))
    return out


def _lc_block(p: Part) -> dict[str, Any]:
    if isinstance(p, str):
        return {"type": "text", "text": p}
    if p.url is not None:
        if p.url.startswith("data:"):
            return {"type": "image_url", "image_url": {"url": p.url}}
        return {"type": "image", "url": p.url}
    b64 = p.b64 if p.b64 is not None else base64.b64encode(p.data or b"").decode()
    return {"type": "image", "base64": b64, "mime_type": p.mime}


def make_langchain(url: str, s: Settings, owned: Owned | None = None) -> Any:
    from langchain_r1v4 import ChatR1V4

    return ChatR1V4(
        api_key=s.api_key,
        base_url=url,
        timeout=s.timeout,
        max_retries=s.max_retries,
        backoff=s.backoff,
        http_client=_user_sync(s, owned),
        http_async_client=_user_async(s, owned),
        callbacks=list(s.callbacks) or None,
        allow_private_urls=s.allow_private_urls,
    )


def _lc_runnable(llm: Any, call: Call) -> Any:
    # Tools the LangChain way: bound to the model (dict schemas are accepted as they are).
    return llm.bind_tools([t.openai() for t in call.tools]) if call.tools else llm


def close_langchain(llm: Any) -> None:
    llm.client.close()  # ChatR1V4 has no close of its own: its core clients have


async def aclose_langchain(llm: Any) -> None:
    await llm.async_client.aclose()


def lc_outcome(msg: Any, parts: list[str] | None = None) -> Outcome:
    ids = [msg.id, msg.response_metadata.get("id")]
    return Outcome(msg.content, parts or [], msg.model_dump(), ids)


def lc_chunk(chunk: Any, seen: Seen) -> None:
    seen.ids.append(chunk.id)
    if chunk.content:
        seen.parts.append(chunk.content)


def lc_invoke(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    owned: Owned = []
    llm = make_langchain(url, s, owned)
    try:
        msg = _lc_runnable(llm, call).invoke(lc_messages(call), **call.options())
    finally:
        close_langchain(llm)
        _close_owned(owned)
    return lc_outcome(msg)


def iter_lc(llm: Any, call: Call) -> Iterator[str]:
    for chunk in _lc_runnable(llm, call).stream(lc_messages(call), **call.options()):
        if chunk.content:
            yield chunk.content


def lc_stream(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    owned: Owned = []
    llm = make_langchain(url, s, owned)
    chunks = []
    try:
        for chunk in _lc_runnable(llm, call).stream(lc_messages(call), **call.options()):
            chunks.append(chunk)
            lc_chunk(chunk, seen)
    finally:
        close_langchain(llm)
        _close_owned(owned)
    return lc_outcome(functools.reduce(operator.add, chunks), seen.parts)


def lc_ainvoke(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    async def go() -> Outcome:
        owned: Owned = []
        llm = make_langchain(url, s, owned)
        try:
            msg = await _lc_runnable(llm, call).ainvoke(lc_messages(call), **call.options())
        finally:
            await aclose_langchain(llm)
            await _aclose_owned(owned)
        return lc_outcome(msg)

    return asyncio.run(go())


async def aiter_lc(llm: Any, call: Call) -> AsyncIterator[str]:
    async for chunk in _lc_runnable(llm, call).astream(lc_messages(call), **call.options()):
        if chunk.content:
            yield chunk.content


def lc_astream(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    async def go() -> Outcome:
        owned: Owned = []
        llm = make_langchain(url, s, owned)
        chunks = []
        try:
            async for chunk in _lc_runnable(llm, call).astream(lc_messages(call), **call.options()):
                chunks.append(chunk)
                lc_chunk(chunk, seen)
        finally:
            await aclose_langchain(llm)
            await _aclose_owned(owned)
        return lc_outcome(functools.reduce(operator.add, chunks), seen.parts)

    return asyncio.run(go())


# ------------------------------------------------------------------------------ LlamaIndex

_LI_ROLES = {"user": "user", "system": "system", "assistant": "assistant"}


def li_messages(call: Call) -> list[Any]:
    """LlamaIndex ``ChatMessage``s. An unknown role cannot be expressed: ``MessageRole`` is an
    enum, so ``ChatMessage`` itself refuses it (pydantic ``ValidationError``) right here."""
    from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock

    out = []
    for m in call.messages:
        blocks: list[Any] = []
        for p in m.parts():
            if isinstance(p, str):
                blocks.append(TextBlock(text=p))
            elif p.url is not None:
                blocks.append(ImageBlock(url=p.url))
            elif p.data is not None:
                blocks.append(ImageBlock(image=p.data, image_mimetype=p.mime))
            else:  # base64 text: LlamaIndex takes it as a data URI
                blocks.append(ImageBlock(url=p.data_uri()))
        out.append(ChatMessage(role=_LI_ROLES.get(m.role, m.role), blocks=blocks))
    return out


def li_tools(call: Call) -> list[Any]:
    """``FunctionTool``s whose metadata yields exactly the given JSON schema."""
    from llama_index.core.tools import FunctionTool, ToolMetadata
    from pydantic import BaseModel

    def params_model(schema: dict[str, Any]) -> type[BaseModel]:
        class Params(BaseModel):
            @classmethod
            def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
                return dict(schema)

        return Params

    tools = []
    for t in call.tools:
        meta = ToolMetadata(
            name=t.name, description=t.description, fn_schema=params_model(dict(t.parameters))
        )
        tools.append(FunctionTool(fn=lambda **kw: "ok", metadata=meta))
    return tools


def make_llama_index(url: str, s: Settings, owned: Owned | None = None) -> Any:
    from llama_index_r1v4 import R1V4

    return R1V4(
        api_key=s.api_key,
        base_url=url,
        timeout=s.timeout,
        max_retries=s.max_retries,
        backoff=s.backoff,
        http_client=_user_sync(s, owned),
        async_http_client=_user_async(s, owned),
        allow_private_urls=s.allow_private_urls,
    )


def li_outcome(response: Any, parts: list[str] | None = None) -> Outcome:
    if response is None:  # a stream that yielded nothing
        return Outcome("", parts or [])
    whole = response.model_dump()
    whole["raw"] = {k: v for k, v in whole["raw"].items() if k != "created"}
    return Outcome(response.message.content or "", parts or [], whole, [response.raw["id"]])


def li_response(response: Any, seen: Seen) -> None:
    seen.ids.append(response.raw["id"])
    if response.delta:
        seen.parts.append(response.delta)


def li_chat(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    owned: Owned = []
    llm = make_llama_index(url, s, owned)
    try:
        messages = li_messages(call)
        if call.tools:
            r = llm.chat_with_tools(li_tools(call), chat_history=messages, **call.options())
        else:
            r = llm.chat(messages, **call.options())
    finally:
        llm.close()
        _close_owned(owned)
    return li_outcome(r)


def _li_stream_gen(llm: Any, call: Call) -> Any:
    messages = li_messages(call)
    if call.tools:
        return llm.stream_chat_with_tools(li_tools(call), chat_history=messages, **call.options())
    return llm.stream_chat(messages, **call.options())


def iter_li(llm: Any, call: Call) -> Iterator[str]:
    for r in _li_stream_gen(llm, call):
        if r.delta:
            yield r.delta


def li_stream_chat(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    owned: Owned = []
    llm = make_llama_index(url, s, owned)
    last = None
    try:
        for last in _li_stream_gen(llm, call):
            li_response(last, seen)
    finally:
        llm.close()
        _close_owned(owned)
    return li_outcome(last, seen.parts)


def li_achat(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    async def go() -> Outcome:
        owned: Owned = []
        llm = make_llama_index(url, s, owned)
        try:
            messages = li_messages(call)
            if call.tools:
                r = await llm.achat_with_tools(
                    li_tools(call), chat_history=messages, **call.options()
                )
            else:
                r = await llm.achat(messages, **call.options())
        finally:
            await llm.aclose()
            await _aclose_owned(owned)
        return li_outcome(r)

    return asyncio.run(go())


async def _li_astream_gen(llm: Any, call: Call) -> Any:
    messages = li_messages(call)
    if call.tools:
        return await llm.astream_chat_with_tools(
            li_tools(call), chat_history=messages, **call.options()
        )
    return await llm.astream_chat(messages, **call.options())


async def aiter_li(llm: Any, call: Call) -> AsyncIterator[str]:
    async for r in await _li_astream_gen(llm, call):
        if r.delta:
            yield r.delta


def li_astream_chat(url: str, s: Settings, call: Call, seen: Seen) -> Outcome:
    async def go() -> Outcome:
        owned: Owned = []
        llm = make_llama_index(url, s, owned)
        last = None
        try:
            async for last in await _li_astream_gen(llm, call):
                li_response(last, seen)
        finally:
            await llm.aclose()
            await _aclose_owned(owned)
        return li_outcome(last, seen.parts)

    return asyncio.run(go())


# ------------------------------------------------------------------------------ the table

Runner = Callable[[str, Settings, Call, Seen], Outcome]


@dataclass(frozen=True)
class Path:
    name: str
    framework: str  # "core" | "langchain" | "llama_index"
    stream: bool
    is_async: bool
    run: Runner
    label: str
    make: Callable[..., Any] | None = None  # (url, settings) -> the client or model
    iterate: Callable[[Any, Call], Any] | None = None  # stream paths only

    def __str__(self) -> str:
        return self.name


PATHS: dict[str, Path] = {
    p.name: p
    for p in (
        Path("core-create", "core", False, False, core_sync_create, "`R1V4Client.create`"),
        Path(
            "core-stream",
            "core",
            True,
            False,
            core_sync_stream,
            "`R1V4Client.stream`",
            make_core_sync,
            iter_core_sync,
        ),
        Path("core-acreate", "core", False, True, core_async_create, "`AsyncR1V4Client.create`"),
        Path(
            "core-astream",
            "core",
            True,
            True,
            core_async_stream,
            "`AsyncR1V4Client.stream`",
            make_core_async,
            aiter_core,
        ),
        Path("lc-invoke", "langchain", False, False, lc_invoke, "`ChatR1V4.invoke`"),
        Path(
            "lc-stream",
            "langchain",
            True,
            False,
            lc_stream,
            "`ChatR1V4.stream`",
            make_langchain,
            iter_lc,
        ),
        Path("lc-ainvoke", "langchain", False, True, lc_ainvoke, "`ChatR1V4.ainvoke`"),
        Path(
            "lc-astream",
            "langchain",
            True,
            True,
            lc_astream,
            "`ChatR1V4.astream`",
            make_langchain,
            aiter_lc,
        ),
        Path("li-chat", "llama_index", False, False, li_chat, "`R1V4.chat`"),
        Path(
            "li-stream_chat",
            "llama_index",
            True,
            False,
            li_stream_chat,
            "`R1V4.stream_chat`",
            make_llama_index,
            iter_li,
        ),
        Path("li-achat", "llama_index", False, True, li_achat, "`R1V4.achat`"),
        Path(
            "li-astream_chat",
            "llama_index",
            True,
            True,
            li_astream_chat,
            "`R1V4.astream_chat`",
            make_llama_index,
            aiter_li,
        ),
    )
}

STREAM_PATHS = [name for name, p in PATHS.items() if p.stream]


def run_path(
    path: Path, url: str, settings: Settings, call: Call | None = None
) -> tuple[Outcome | None, BaseException | None, list[str]]:
    """Run a path; return ``(outcome, None, parts)`` or ``(None, exception, parts)``."""
    outcome, exc, seen = run_path_seen(path, url, settings, call)
    return outcome, exc, seen.parts


def run_path_seen(
    path: Path, url: str, settings: Settings, call: Call | None = None
) -> tuple[Outcome | None, BaseException | None, Seen]:
    """:func:`run_path` with all the caller was handed on the way (:class:`Seen`)."""
    seen = Seen()
    try:
        return path.run(url, settings, call or Call(), seen), None, seen
    except Exception as exc:
        return None, exc, seen
