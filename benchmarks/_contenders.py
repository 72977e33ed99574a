"""Every way of reaching R1V4 that the benchmark compares, behind one small driver interface.

Each driver sends the same request (model, one user message) to the same server and returns the
answer text, which the harness checks against what the server was told to say: a contender that
drops or mangles chunks gets no number.

Async drivers run their coroutines on a loop the harness owns, one loop for the whole run, so
pools persist across calls exactly as they do in an application with one event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from benchmarks._server import API_KEY, MODEL


def expected_answer(prompt: str) -> str:
    """What the local server's default (echo) scenario answers to a text-only prompt.

    Mirrors ``r1v4.testing._app.echo_text`` for zero images; the harness checks every
    contender's output against it.
    """
    return f"I saw 0 image(s). You said: {prompt}"


class Driver:
    """One contender's client, built once and reused for every call (a pooled connection)."""

    def stream(self, prompt: str) -> str:
        """Stream a reply to the end; return the joined answer text."""
        raise NotImplementedError

    def first_token(self, prompt: str) -> tuple[float, str]:
        """Seconds from the call to the first non-empty answer text, and the whole answer.

        The stream is read to its end (not abandoned), so the connection goes back to the pool
        and the next call does not pay for a new one.
        """
        raise NotImplementedError

    def call(self, prompt: str) -> str:
        """One non-stream round trip; return the answer text."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class AsyncDriver(Driver):
    """A driver whose client is async; each call runs to completion on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def stream(self, prompt: str) -> str:
        return self.loop.run_until_complete(self.astream(prompt))

    def first_token(self, prompt: str) -> tuple[float, str]:
        # Timed inside the coroutine, so driving the loop is not counted.
        return self.loop.run_until_complete(self.afirst_token(prompt))

    def call(self, prompt: str) -> str:
        return self.loop.run_until_complete(self.acall(prompt))

    def close(self) -> None:
        self.loop.run_until_complete(self.aclose())

    async def astream(self, prompt: str) -> str:
        raise NotImplementedError

    async def afirst_token(self, prompt: str) -> tuple[float, str]:
        raise NotImplementedError

    async def acall(self, prompt: str) -> str:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


# ----------------------------------------------------------------------------------- floor


def _body(prompt: str, stream: bool) -> bytes:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        # What the core sends by default, so the server's reply is the same event for event.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    else:
        body["stream"] = False
    return json.dumps(body, separators=(",", ":")).encode()


_JSON_HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
_SSE_HEADERS = {**_JSON_HEADERS, "Accept": "text/event-stream"}


def _split_events(buf: bytes, data: bytes, parts: list[str]) -> bytes:
    """The thinnest SSE handling there is: split lines, ``json.loads`` each ``data:`` line."""
    lines = (buf + data).split(b"\n")
    rest = lines.pop()
    for line in lines:
        if line[:6] == b"data: " and line != b"data: [DONE]":
            for choice in json.loads(line[6:])["choices"]:
                text = choice["delta"].get("content")
                if text:
                    parts.append(text)
    return rest


class FloorSync(Driver):
    """Plain ``httpx.Client`` streaming, bytes split into lines, ``json.loads`` per event."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/chat/completions"
        self.http = httpx.Client(timeout=60)

    def stream(self, prompt: str) -> str:
        parts: list[str] = []
        with self.http.stream(
            "POST", self.url, content=_body(prompt, True), headers=_SSE_HEADERS
        ) as response:
            response.raise_for_status()
            buf = b""
            for data in response.iter_bytes():
                buf = _split_events(buf, data, parts)
        return "".join(parts)

    def first_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts: list[str] = []
        with self.http.stream(
            "POST", self.url, content=_body(prompt, True), headers=_SSE_HEADERS
        ) as response:
            response.raise_for_status()
            buf = b""
            for data in response.iter_bytes():
                buf = _split_events(buf, data, parts)
                if parts and not first:
                    first = time.perf_counter() - start
        return first, "".join(parts)

    def call(self, prompt: str) -> str:
        response = self.http.post(self.url, content=_body(prompt, False), headers=_JSON_HEADERS)
        response.raise_for_status()
        text: str = json.loads(response.content)["choices"][0]["message"]["content"]
        return text

    def close(self) -> None:
        self.http.close()


class FloorAsync(AsyncDriver):
    """The floor on ``httpx.AsyncClient``."""

    def __init__(self, base_url: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.url = f"{base_url}/chat/completions"
        self.http = httpx.AsyncClient(timeout=60)

    async def astream(self, prompt: str) -> str:
        parts: list[str] = []
        async with self.http.stream(
            "POST", self.url, content=_body(prompt, True), headers=_SSE_HEADERS
        ) as response:
            response.raise_for_status()
            buf = b""
            async for data in response.aiter_bytes():
                buf = _split_events(buf, data, parts)
        return "".join(parts)

    async def afirst_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts: list[str] = []
        async with self.http.stream(
            "POST", self.url, content=_body(prompt, True), headers=_SSE_HEADERS
        ) as response:
            response.raise_for_status()
            buf = b""
            async for data in response.aiter_bytes():
                buf = _split_events(buf, data, parts)
                if parts and not first:
                    first = time.perf_counter() - start
        return first, "".join(parts)

    async def acall(self, prompt: str) -> str:
        response = await self.http.post(
            self.url, content=_body(prompt, False), headers=_JSON_HEADERS
        )
        response.raise_for_status()
        text: str = json.loads(response.content)["choices"][0]["message"]["content"]
        return text

    async def aclose(self) -> None:
        await self.http.aclose()


# ------------------------------------------------------------------------------------ core


def _messages(prompt: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": prompt}]


class CoreSync(Driver):
    """``r1v4.R1V4Client`` with its own pool, as a user gets it."""

    def __init__(self, base_url: str) -> None:
        import r1v4

        self.client = r1v4.R1V4Client(api_key=API_KEY, base_url=base_url)

    def stream(self, prompt: str) -> str:
        parts = []
        for chunk in self.client.stream(model=MODEL, messages=_messages(prompt)):
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
        return "".join(parts)

    def first_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts = []
        for chunk in self.client.stream(model=MODEL, messages=_messages(prompt)):
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
                    if not first:
                        first = time.perf_counter() - start
        return first, "".join(parts)

    def call(self, prompt: str) -> str:
        return self.client.create(model=MODEL, messages=_messages(prompt)).message.content

    def close(self) -> None:
        self.client.close()


class CoreAsync(AsyncDriver):
    """``r1v4.AsyncR1V4Client`` with its own per-loop pool."""

    def __init__(self, base_url: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        import r1v4

        self.client = r1v4.AsyncR1V4Client(api_key=API_KEY, base_url=base_url)

    async def astream(self, prompt: str) -> str:
        parts = []
        async for chunk in self.client.stream(model=MODEL, messages=_messages(prompt)):
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
        return "".join(parts)

    async def afirst_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts = []
        async for chunk in self.client.stream(model=MODEL, messages=_messages(prompt)):
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
                    if not first:
                        first = time.perf_counter() - start
        return first, "".join(parts)

    async def acall(self, prompt: str) -> str:
        completion = await self.client.create(model=MODEL, messages=_messages(prompt))
        return completion.message.content

    async def aclose(self) -> None:
        await self.client.aclose()


# ------------------------------------------------------------------------------- LangChain


def _text(content: Any) -> str:
    """A LangChain message's text, whether ``content`` is a string or a list of blocks."""
    if isinstance(content, str):
        return content
    return "".join(
        block.get("text", "") if isinstance(block, dict) else str(block)
        for block in content
        if not isinstance(block, dict) or block.get("type") == "text"
    )


class LangChainSync(Driver):
    """A LangChain chat model: ``stream`` / ``invoke`` with a plain string prompt."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def stream(self, prompt: str) -> str:
        return "".join(_text(chunk.content) for chunk in self.model.stream(prompt))

    def first_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts = []
        for chunk in self.model.stream(prompt):
            text = _text(chunk.content)
            if text:
                parts.append(text)
                if not first:
                    first = time.perf_counter() - start
        return first, "".join(parts)

    def call(self, prompt: str) -> str:
        return _text(self.model.invoke(prompt).content)


class LangChainAsync(AsyncDriver):
    """A LangChain chat model: ``astream`` / ``ainvoke``."""

    def __init__(self, model: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.model = model

    async def astream(self, prompt: str) -> str:
        return "".join([_text(chunk.content) async for chunk in self.model.astream(prompt)])

    async def afirst_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts = []
        async for chunk in self.model.astream(prompt):
            text = _text(chunk.content)
            if text:
                parts.append(text)
                if not first:
                    first = time.perf_counter() - start
        return first, "".join(parts)

    async def acall(self, prompt: str) -> str:
        return _text((await self.model.ainvoke(prompt)).content)


def chat_r1v4(base_url: str) -> Any:
    from langchain_r1v4 import ChatR1V4

    return ChatR1V4(model=MODEL, api_key=SecretStr(API_KEY), base_url=base_url)


def chat_openai(base_url: str) -> Any:
    from langchain_openai import ChatOpenAI

    # stream_usage: ask for the usage chunk as r1v4 does, so both read the same events.
    return ChatOpenAI(model=MODEL, api_key=SecretStr(API_KEY), base_url=base_url, stream_usage=True)


# ------------------------------------------------------------------------------ LlamaIndex


def _chat_messages(prompt: str) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role="user", content=prompt)]


class LlamaSync(Driver):
    """A LlamaIndex LLM: ``stream_chat`` / ``chat``."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm

    def stream(self, prompt: str) -> str:
        return "".join(r.delta or "" for r in self.llm.stream_chat(_chat_messages(prompt)))

    def first_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts = []
        for response in self.llm.stream_chat(_chat_messages(prompt)):
            if response.delta:
                parts.append(response.delta)
                if not first:
                    first = time.perf_counter() - start
        return first, "".join(parts)

    def call(self, prompt: str) -> str:
        return str(self.llm.chat(_chat_messages(prompt)).message.content)


class LlamaAsync(AsyncDriver):
    """A LlamaIndex LLM: ``astream_chat`` / ``achat``."""

    def __init__(self, llm: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.llm = llm

    async def astream(self, prompt: str) -> str:
        gen = await self.llm.astream_chat(_chat_messages(prompt))
        return "".join([r.delta or "" async for r in gen])

    async def afirst_token(self, prompt: str) -> tuple[float, str]:
        start = time.perf_counter()
        first = 0.0
        parts = []
        async for response in await self.llm.astream_chat(_chat_messages(prompt)):
            if response.delta:
                parts.append(response.delta)
                if not first:
                    first = time.perf_counter() - start
        return first, "".join(parts)

    async def acall(self, prompt: str) -> str:
        return str((await self.llm.achat(_chat_messages(prompt))).message.content)


def r1v4_llama(base_url: str) -> Any:
    from llama_index_r1v4 import R1V4

    return R1V4(model=MODEL, api_key=API_KEY, base_url=base_url)


def openai_like(base_url: str) -> Any:
    from llama_index.llms.openai_like import OpenAILike  # type: ignore[import-untyped]

    return OpenAILike(
        model=MODEL,
        api_base=base_url,
        api_key=API_KEY,
        is_chat_model=True,
        is_function_calling_model=False,
        context_window=262_144,
    )


# ------------------------------------------------------------------------- minimal models


def minimal_chat_model(base_url: str) -> Any:
    from benchmarks._minimal import MinimalChatModel

    return MinimalChatModel(base_url=base_url, model=MODEL)


def minimal_llm(base_url: str) -> Any:
    from benchmarks._minimal import MinimalLLM

    return MinimalLLM(base_url=base_url, model=MODEL)


# ------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Contender:
    """A named way to call the server, and whom its figures are compared with."""

    name: str
    family: str  # "floor", "core", "langchain", "llama_index"
    is_async: bool
    peer: str | None  # the contender it must beat (ChatR1V4 -> ChatOpenAI), if any
    ours: bool  # an r1v4 contender (targets apply) rather than a floor or a peer
    make: Callable[[str, asyncio.AbstractEventLoop], Driver]
    needs: str  # the import that must succeed for it to run
    # A yardstick for the adapters (``_minimal``): measured only by the figures that compare
    # an adapter with the least its framework requires.
    minimal: bool = False

    @property
    def floor(self) -> str:
        return "floor async" if self.is_async else "floor"


def _lc(factory: Callable[[str], Any], is_async: bool) -> Callable[..., Driver]:
    def make(base_url: str, loop: asyncio.AbstractEventLoop) -> Driver:
        model = factory(base_url)
        return LangChainAsync(model, loop) if is_async else LangChainSync(model)

    return make


def _li(factory: Callable[[str], Any], is_async: bool) -> Callable[..., Driver]:
    def make(base_url: str, loop: asyncio.AbstractEventLoop) -> Driver:
        llm = factory(base_url)
        return LlamaAsync(llm, loop) if is_async else LlamaSync(llm)

    return make


CONTENDERS: tuple[Contender, ...] = (
    Contender("floor", "floor", False, None, False, lambda u, _: FloorSync(u), "httpx"),
    Contender("floor async", "floor", True, None, False, FloorAsync, "httpx"),
    Contender("r1v4 core", "core", False, None, True, lambda u, _: CoreSync(u), "r1v4"),
    Contender("r1v4 core async", "core", True, None, True, CoreAsync, "r1v4"),
    Contender(
        "ChatR1V4", "langchain", False, "ChatOpenAI", True, _lc(chat_r1v4, False), "langchain_r1v4"
    ),
    Contender(
        "ChatR1V4 async",
        "langchain",
        True,
        "ChatOpenAI async",
        True,
        _lc(chat_r1v4, True),
        "langchain_r1v4",
    ),
    Contender(
        "ChatOpenAI", "langchain", False, None, False, _lc(chat_openai, False), "langchain_openai"
    ),
    Contender(
        "ChatOpenAI async",
        "langchain",
        True,
        None,
        False,
        _lc(chat_openai, True),
        "langchain_openai",
    ),
    Contender(
        "R1V4 (LlamaIndex)",
        "llama_index",
        False,
        "OpenAILike",
        True,
        _li(r1v4_llama, False),
        "llama_index_r1v4",
    ),
    Contender(
        "R1V4 (LlamaIndex) async",
        "llama_index",
        True,
        "OpenAILike async",
        True,
        _li(r1v4_llama, True),
        "llama_index_r1v4",
    ),
    Contender(
        "OpenAILike",
        "llama_index",
        False,
        None,
        False,
        _li(openai_like, False),
        "llama_index.llms.openai_like",
    ),
    Contender(
        "OpenAILike async",
        "llama_index",
        True,
        None,
        False,
        _li(openai_like, True),
        "llama_index.llms.openai_like",
    ),
    Contender(
        "minimal LangChain",
        "langchain",
        False,
        None,
        False,
        _lc(minimal_chat_model, False),
        "langchain_core",
        minimal=True,
    ),
    Contender(
        "minimal LlamaIndex",
        "llama_index",
        False,
        None,
        False,
        _li(minimal_llm, False),
        "llama_index.core",
        minimal=True,
    ),
)

BY_NAME = {c.name: c for c in CONTENDERS}

# What proves an adapter is written, not just its package directory present.
_PROBES = {
    "langchain_r1v4": ("langchain_r1v4", "ChatR1V4"),
    "llama_index_r1v4": ("llama_index_r1v4", "R1V4"),
}


def unavailable_reason(contender: Contender) -> str | None:
    """Why this contender cannot run here (its package does not import), or ``None``."""
    module, attr = _PROBES.get(contender.needs, (contender.needs, None))
    try:
        mod = importlib.import_module(module)
        if attr is not None:
            getattr(mod, attr)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
