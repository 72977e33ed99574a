""":class:`R1V4Tools`: R1V4's own tools, configured once, run by the client on a call of them.

One call goes through three steps shared by :meth:`R1V4Tools.run` and :meth:`R1V4Tools.arun`:
:meth:`R1V4Tools._plan` reads the call (no I/O: a call it cannot run is answered right there),
the executor or backend runs (the only step that differs between sync and async), and the
plan's ``finish`` turns what came back into a :class:`ToolResult`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from r1v4._errors import InvalidRequestError
from r1v4._transcript._events import TOOL_NAMES
from r1v4.tools._backends import Backend, acall_backend, call_backend
from r1v4.tools._executor import AsyncCodeExecutor, CodeExecutor, CodeJob, CodeOutcome
from r1v4.tools._follow_up import observation_message as default_observation_message
from r1v4.tools._inputs import (
    DEFAULT_IMAGE_NAME,
    ConversationImage,
    check_image_name,
    code_files,
    decode,
    find,
)
from r1v4.tools._limits import CodeLimits
from r1v4.tools._observations import code_observation, failure
from r1v4.tools._results import ToolResult, ToolStatus, dumps
from r1v4.tools._shapes import image_results, page, text_results

__all__ = ["TOOL_NAMES", "R1V4Tools"]


_ARGUMENT = {
    "code": ("code", "source", "python"),
    "text_search": ("query", "q", "text", "search_query"),
    "image_search": ("query", "image", "image_path", "image_url", "url", "q"),
    "web_content": ("url", "link", "href", "urls"),
}
_DETAIL_CHARS = 500


class _Sandbox:
    """The default executor: a :class:`~r1v4.tools.BubblewrapSandbox` built with the tools."""

    def __repr__(self) -> str:
        return "BubblewrapSandbox()"


_DEFAULT_SANDBOX: Any = _Sandbox()


@dataclass(frozen=True, slots=True)
class _CodeStep:
    job: CodeJob
    finish: Callable[[CodeOutcome], ToolResult]
    fail: Callable[[BaseException], ToolResult]


@dataclass(frozen=True, slots=True)
class _BackendStep:
    backend: Backend
    query: str
    finish: Callable[[Any], ToolResult]
    fail: Callable[[BaseException], ToolResult]


class R1V4Tools:
    """R1V4's own tools, run by the client: ``code`` (in a sandbox), ``text_search``,
    ``image_search``, ``web_content``.

    The model calls them as in its transcripts, ``{"name": "code", "arguments": {"code":
    "…"}}``; :meth:`run` (or :meth:`arun`) runs one call against the conversation's images and
    returns the observation R1V4 reads next, with the images the code made. A tool without an
    executor or backend answers, in its observation, that it is unavailable; nothing here
    raises for what the model wrote or what its code did.

    Args:
        max_tool_rounds: how many tool calls one reply may make before it is ended (used by
            the clients that continue a reply; at least 1).
        executor: what runs ``code``. By default a :class:`~r1v4.tools.BubblewrapSandbox`,
            built (and checked) here: where bubblewrap cannot run, building the tools raises
            :class:`~r1v4.SandboxUnavailableError` saying what to install or change. ``None``
            goes without code; :class:`~r1v4.tools.UnsandboxedExecutor` runs it with no
            sandbox (trusted single-user machines only); anything with ``run(job)`` (and
            optionally ``async arun(job)``) is an executor too (a container, a hosted sandbox).
        text_search: ``query -> results`` (sync or async); results in any common shape (a
            list of ``{"title", "url", "snippet"}``-like dicts, a dict holding one, JSON text,
            plain text).
        image_search: ``query -> results`` for reverse or text image search. When the call
            names a conversation image (``image_0``, ``image_0.png``), the backend gets that
            image as a data URI; otherwise the call's text or URL.
        web_content: ``url -> page`` (its text, or a dict with ``content``/``text`` and
            ``title``).
        limits: the limits of each run of ``code``.
        image_name: how the code's working directory names the conversation's images (see
            :data:`~r1v4.tools.DEFAULT_IMAGE_NAME`).
        preload_images: open the images before the code runs, as ``img`` (the first) and
            ``images`` (all); ``image_paths`` lists their names either way.
        max_search_results: results kept per search.
        max_page_chars: characters of a page kept by ``web_content``.
        allow_private_urls: let ``web_content`` ask its backend for ``localhost``, private and
            link-local address literals (refused by default, since the model chooses the URL).
        observation_message: ``result -> message``: the message a client that continues a
            reply sends after the model's call, to give it the observation (an OpenAI-format
            message dict or an ``r1v4.Message``). By default
            :func:`~r1v4.tools.observation_message`: a user message holding
            ``<observation>…</observation>`` and the images the tool made.

    Raises:
        SandboxUnavailableError: the default sandbox cannot run here.
        InvalidRequestError: a setting is out of range.
    """

    __slots__ = (
        "allow_private_urls",
        "executor",
        "image_name",
        "image_search",
        "limits",
        "max_page_chars",
        "max_search_results",
        "max_tool_rounds",
        "observation_message",
        "preload_images",
        "text_search",
        "web_content",
    )

    def __init__(
        self,
        max_tool_rounds: int = 16,
        *,
        executor: CodeExecutor | None = _DEFAULT_SANDBOX,
        text_search: Backend | None = None,
        image_search: Backend | None = None,
        web_content: Backend | None = None,
        limits: CodeLimits | None = None,
        image_name: str = DEFAULT_IMAGE_NAME,
        preload_images: bool = True,
        max_search_results: int = 10,
        max_page_chars: int = 20_000,
        allow_private_urls: bool = False,
        observation_message: Callable[[ToolResult], Any] = default_observation_message,
    ) -> None:
        if isinstance(max_tool_rounds, bool) or not isinstance(max_tool_rounds, int):
            raise InvalidRequestError(f"max_tool_rounds must be an int, got {max_tool_rounds!r}")
        if max_tool_rounds < 1:
            raise InvalidRequestError(f"max_tool_rounds must be at least 1, got {max_tool_rounds}")
        for name, value in (
            ("max_search_results", max_search_results),
            ("max_page_chars", max_page_chars),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRequestError(f"{name} must be a positive int, got {value!r}")
        if executor is _DEFAULT_SANDBOX:
            from r1v4.tools._bwrap import BubblewrapSandbox

            executor = BubblewrapSandbox()
        if executor is not None and not isinstance(executor, CodeExecutor):
            raise InvalidRequestError(
                f"executor must have a run(job) method (r1v4.tools.CodeExecutor), got {executor!r}"
            )
        for name, backend in (
            ("text_search", text_search),
            ("image_search", image_search),
            ("web_content", web_content),
        ):
            if backend is not None and not callable(backend):
                raise InvalidRequestError(
                    f"{name} must be a callable (query -> results), got {backend!r}"
                )
        self.max_tool_rounds = max_tool_rounds
        self.executor = executor
        self.text_search = text_search
        self.image_search = image_search
        self.web_content = web_content
        self.limits = limits if limits is not None else CodeLimits()
        self.image_name = check_image_name(image_name)
        self.preload_images = preload_images
        self.max_search_results = max_search_results
        self.max_page_chars = max_page_chars
        self.allow_private_urls = allow_private_urls
        if not callable(observation_message):
            raise InvalidRequestError(
                f"observation_message must be a callable (result -> message), "
                f"got {observation_message!r}"
            )
        self.observation_message = observation_message

    def __repr__(self) -> str:
        # Backends by type only: a search client's repr may carry its key.
        parts = [f"max_tool_rounds={self.max_tool_rounds}", f"executor={self.executor!r}"]
        parts += [
            f"{name}={type(getattr(self, name)).__name__}"
            for name in sorted(self.available - {"code"})
        ]
        return f"R1V4Tools({', '.join(parts)})"

    @property
    def available(self) -> frozenset[str]:
        """The tools that have an executor or backend (the others answer "unavailable")."""
        backends = {"code": self.executor, "text_search": self.text_search}
        backends |= {"image_search": self.image_search, "web_content": self.web_content}
        return frozenset(name for name, value in backends.items() if value is not None)

    @staticmethod
    def handles(name: str) -> bool:
        """Whether ``name`` is one of R1V4's own tools (configured here or not)."""
        return name in TOOL_NAMES

    # -- running ---------------------------------------------------------------------------------

    def run(self, call: Any, images: Sequence[ConversationImage] = ()) -> ToolResult:
        """Run one R1V4 tool call.

        Args:
            call: ``{"name": …, "arguments": {…}}`` (``arguments`` may be JSON text, as a
                native tool call carries it), or an object with ``name`` and ``arguments``
                (a :class:`~r1v4.ServerToolCall`).
            images: the conversation's images in order (bytes, data URIs, or objects with
                ``data``), the images earlier tool calls made included; the code finds them
                in its working directory under ``image_name``.

        Returns:
            The observation and the images the code made; a call that could not run (no
            backend, bad arguments, a backend that raised, a limit reached) is answered by an
            observation saying so.

        Raises:
            ImageError: an item of ``images`` is not an image.
        """
        step = self._plan(call, images)
        if isinstance(step, ToolResult):
            return step
        try:
            if isinstance(step, _CodeStep):
                assert self.executor is not None
                return step.finish(self.executor.run(step.job))
            return step.finish(call_backend(step.backend, step.query))
        except Exception as exc:
            return step.fail(exc)

    async def arun(self, call: Any, images: Sequence[ConversationImage] = ()) -> ToolResult:
        """:meth:`run` without blocking the event loop. Cancelling it stops the code: the
        sandbox's processes are killed before the cancellation goes on."""
        import asyncio

        # Images are decoded (megabytes of base64, perhaps) in a worker thread.
        step = (
            await asyncio.to_thread(self._plan, call, images)
            if images
            else self._plan(call, images)
        )
        if isinstance(step, ToolResult):
            return step
        try:
            if isinstance(step, _CodeStep):
                executor = self.executor
                if isinstance(executor, AsyncCodeExecutor):
                    outcome = await executor.arun(step.job)
                else:
                    assert executor is not None
                    outcome = await asyncio.to_thread(executor.run, step.job)
                return step.finish(outcome)
            return step.finish(await acall_backend(step.backend, step.query))
        except Exception as exc:
            return step.fail(exc)

    # -- reading a call ----------------------------------------------------------------------------

    def _plan(
        self, call: Any, images: Sequence[ConversationImage]
    ) -> ToolResult | _CodeStep | _BackendStep:
        name, arguments, problem = _read_call(call)
        if problem is not None:
            return _answer(name, arguments, failure(name, problem), "error")
        if name not in TOOL_NAMES:
            known = ", ".join(sorted(TOOL_NAMES))
            return _answer(
                name,
                arguments,
                failure(name, f"There is no tool named {name!r}; the tools are {known}."),
                "error",
            )
        if name not in self.available:
            what = "executor" if name == "code" else "backend"
            message = f"The {name} tool is unavailable: no {what} is configured for it."
            return _answer(name, arguments, failure(name, message), "unavailable")
        value = _argument(name, arguments)
        if value is None:
            keys = " or ".join(repr(k) for k in _ARGUMENT[name][:2])
            return _answer(
                name, arguments, failure(name, f"The {name} call has no {keys} argument."), "error"
            )

        def fail(exc: BaseException) -> ToolResult:
            detail = f"{type(exc).__name__}: {exc}"[:_DETAIL_CHARS]
            return _answer(
                name, arguments, failure(name, f"The {name} tool failed: {detail}"), "error"
            )

        if name == "code":
            job = CodeJob(
                value, code_files(images, self.image_name), self.limits, self.preload_images
            )

            def finish_code(outcome: CodeOutcome) -> ToolResult:
                observation = code_observation(outcome, self.limits)
                return ToolResult(
                    name, arguments, dumps(observation), outcome.images, outcome.status
                )

            return _CodeStep(job, finish_code, fail)
        if name == "web_content":
            refusal = self._url_refusal(value)
            if refusal is not None:
                return _answer(name, arguments, failure(name, refusal), "error")
        query = value
        if name == "image_search":
            index = find(value, images, self.image_name)
            if index is not None:
                data, mime = decode(images[index], index)
                query = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        backend = {"text_search": self.text_search, "image_search": self.image_search}.get(
            name, self.web_content
        )
        assert backend is not None

        def finish_search(raw: Any) -> ToolResult:
            if name == "text_search":
                shaped: Any = text_results(raw, self.max_search_results)
            elif name == "image_search":
                shaped = image_results(raw, self.max_search_results)
            else:
                shaped = page(raw, value, self.max_page_chars)
            return ToolResult(name, arguments, dumps(shaped))

        return _BackendStep(backend, query, finish_search, fail)

    def _url_refusal(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"web_content reads http(s) pages only, not {url[:200]!r}."
        if self.allow_private_urls:
            return None
        host = parts.hostname
        import ipaddress

        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            private = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
        else:
            private = not address.is_global
        if private:
            return f"web_content does not read private addresses ({host})."
        return None


def _read_call(call: Any) -> tuple[str, Any, str | None]:
    """``(name, arguments, problem)`` of a call in any of the forms :meth:`R1V4Tools.run` takes."""
    if isinstance(call, Mapping):
        name, arguments = call.get("name"), call.get("arguments", {})
        if "function" in call and isinstance(call["function"], Mapping):  # an OpenAI tool call
            name, arguments = call["function"].get("name"), call["function"].get("arguments", {})
    else:
        name, arguments = getattr(call, "name", None), getattr(call, "arguments", {})
    if not isinstance(name, str) or not name:
        return "unknown", arguments, f"The tool call names no tool: {str(call)[:_DETAIL_CHARS]}"
    if isinstance(arguments, str):
        text = arguments.strip() or "{}"
        try:
            arguments = json.loads(text)
        except ValueError as exc:
            return name, arguments, f"The {name} call's arguments are not valid JSON: {exc}"
    if not isinstance(arguments, Mapping):
        return (
            name,
            arguments,
            f"The {name} call's arguments must be a JSON object, not {arguments!r}"[:_DETAIL_CHARS],
        )
    return name, dict(arguments), None


def _argument(name: str, arguments: Mapping[str, Any]) -> str | None:
    for key in _ARGUMENT[name]:
        value = arguments.get(key)
        if isinstance(value, list) and value and isinstance(value[0], str):
            value = value[0]  # "urls": ["…"]: the first (one page per call)
        if isinstance(value, str) and value.strip():
            return value if name == "code" else value.strip()
    if len(arguments) == 1:
        (value,) = arguments.values()
        if isinstance(value, str) and value.strip():
            return value
    return None


def _answer(
    name: str, arguments: Any, observation: dict[str, Any], status: ToolStatus
) -> ToolResult:
    return ToolResult(name, arguments, dumps(observation), (), status)
