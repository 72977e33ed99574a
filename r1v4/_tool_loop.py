"""A reply the client continues by running R1V4's own tools between rounds (no I/O here).

On a bare inference server R1V4 stops after each call of its tools. Given ``builtin_tools``,
the clients send round after round: each round is a :class:`~r1v4._call.Call` whose parser
continues the reply's one transcript (:class:`~r1v4._streaming.Continuation`); when it ends in
calls of R1V4's tools, the client runs them (``R1V4Tools.run`` or ``arun``: the only step that
differs between sync and async) and this loop feeds each observation to the transcript, as a
hosted trajectory has it, and builds the next round's request: the round as the model wrote it,
then the observation message. The caller sees one reply: the first round's id, every round's
events in order, one finish (the last round's) and the usage summed over rounds at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from r1v4._call import Call
from r1v4._errors import InvalidRequestError
from r1v4._streaming import Continuation, ResponseParser, ToolStep
from r1v4._types import ChatCompletionChunk, ChatRequest, ImagePart, Message, Usage

if TYPE_CHECKING:
    from r1v4._config import ClientSettings
    from r1v4.tools import R1V4Tools, ToolResult

__all__ = ["ToolLoop"]


class ToolLoop:
    """The rounds of one reply: which request to send next, what the caller sees."""

    __slots__ = (
        "_call",
        "_carry",
        "_follow",
        "_images",
        "_request",
        "_settings",
        "_usage",
        "tools",
    )

    def __init__(self, settings: ClientSettings, request: ChatRequest, tools: R1V4Tools) -> None:
        from r1v4.tools import R1V4Tools

        if not isinstance(tools, R1V4Tools):
            raise InvalidRequestError(
                f"builtin_tools must be an r1v4.tools.R1V4Tools, got {type(tools).__name__}"
            )
        n = (request.extra_body or {}).get("n", 1)
        if n not in (None, 1):
            raise InvalidRequestError(
                f"builtin_tools continues one reply; a request for n={n!r} choices cannot use it"
            )
        self._settings = settings
        self._request = request
        self.tools = tools
        self._carry = Continuation(tools.max_tool_rounds)
        self._call: Call | None = None
        self._usage: Usage | None = None
        # The conversation's images in order (the tools name them image_0, image_1, ...): the
        # request's, then each the tools made, as the next rounds' requests carry them.
        self._images: list[str] = [
            part.image_url.url
            for m in request.messages
            if isinstance(m.content, list)
            for part in m.content
            if isinstance(part, ImagePart) and isinstance(part.image_url.url, str)
        ]
        self._follow: list[Message] = []

    def call(self) -> Call:
        """The next round's call."""
        self._call = Call(self._settings, self._request, self._carry)
        return self._call

    def take(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk | None:
        """A round's chunk as the caller gets it: its usage kept back to sum (``None`` when
        that was all it held)."""
        if chunk.usage is None:
            return chunk
        self._usage = _add(self._usage, chunk.usage)
        if not chunk.choices:
            return None
        return dataclasses.replace(chunk, usage=None)

    def steps(self) -> list[ToolStep]:
        """After a round: the calls to run before the next one (none when the reply is done)."""
        assert self._call is not None and self._call.parser is not None
        parser = self._call.parser
        if not parser.steps:
            return []
        self._follow = [Message(role="assistant", content=parser.round_text)]
        self._carry = parser.carry()
        return parser.steps

    def run_args(self, step: ToolStep) -> tuple[dict[str, Any], list[str]]:
        """What ``R1V4Tools.run``/``arun`` takes for ``step``: the call and the images."""
        return {"name": step.name, "arguments": step.arguments}, list(self._images)

    def answered(self, step: ToolStep, result: ToolResult) -> ChatCompletionChunk:
        """``step`` ran: the chunk of its events (the call, the images it made, the result),
        parsed from the observation as the reply's transcript has it."""
        text = step.text + result.observation_tag if step.native else result.observation_tag
        chunk = ResponseParser(self._call_tools(), self._carry).local(text)
        message = self.tools.observation_message(result)
        self._follow.append(
            message if isinstance(message, Message) else Message.model_validate(message)
        )
        self._images += [im.data_uri for im in result.images]
        return chunk

    def next_round(self) -> None:
        """After :meth:`answered` for every step: the request continues the conversation."""
        messages = [*self._request.messages, *self._follow]
        self._request = self._request.model_copy(update={"messages": messages})
        self._follow = []

    def end(self) -> Iterator[ChatCompletionChunk]:
        """The reply's last chunk: the usage of every round, summed (if the server sent any)."""
        if self._usage is not None:
            assert self._call is not None and self._call.parser is not None
            p = self._call.parser
            yield ChatCompletionChunk(p.id, p.model, p.created, [], self._usage)

    def _call_tools(self) -> frozenset[str]:
        assert self._call is not None
        return self._call.prepared.client_tools


def _add(a: Usage | None, b: Usage) -> Usage:
    if a is None:
        return b

    def opt(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return Usage(
        a.prompt_tokens + b.prompt_tokens,
        a.completion_tokens + b.completion_tokens,
        a.total_tokens + b.total_tokens,
        opt(a.reasoning_tokens, b.reasoning_tokens),
        opt(a.cached_tokens, b.cached_tokens),
    )
