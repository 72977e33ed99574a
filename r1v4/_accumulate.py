"""Stream chunks -> the :class:`ChatCompletion` the non-stream call returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from r1v4._call_ids import native_call_id
from r1v4._transcript import TranscriptEvent
from r1v4._types import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    InvalidToolCall,
    ToolCall,
    ToolCallDelta,
    ToolCallFunction,
    Usage,
)

__all__ = ["ChunkAccumulator", "ToolCallMerger", "accumulate"]


class ToolCallMerger:
    """Streamed tool-call pieces (:class:`ToolCallDelta`) joined into whole calls.

    Pieces with the same ``index`` are one call: the first names it (its ``id`` and ``name``),
    the others carry more of its arguments. :meth:`calls` gives the calls so far, so a consumer
    that shows the whole message at every chunk (LlamaIndex) asks for them after each piece.
    """

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument pieces]]

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, deltas: Iterable[ToolCallDelta]) -> None:
        calls = self._calls
        for tc in deltas:
            slot = calls.get(tc.index)
            if slot is None:
                calls[tc.index] = [tc.id, tc.name, [tc.arguments]]
            else:
                slot[0] = slot[0] or tc.id
                slot[1] = slot[1] or tc.name
                slot[2].append(tc.arguments)

    def calls(self, response_id: str) -> list[ToolCall]:
        """The calls in index order; arguments never sent are ``"{}"``, and a call the server
        sent no id for gets the stable one of :func:`~r1v4._call_ids.native_call_id`."""
        return [
            ToolCall(
                id=cid or native_call_id(response_id, i),
                function=ToolCallFunction(name=name or "", arguments="".join(args) or "{}"),
            )
            for i, (cid, name, args) in sorted(self._calls.items())
        ]


class _Acc:
    __slots__ = ("calls", "content", "events", "finish", "invalid", "raw", "reasoning", "role")

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.raw: list[str] = []
        self.calls = ToolCallMerger()
        self.events: list[TranscriptEvent] = []
        self.invalid: list[InvalidToolCall] = []
        self.finish: str | None = None
        self.role = "assistant"


class ChunkAccumulator:
    """Merges chunks into the :class:`ChatCompletion` a non-stream call would have returned."""

    __slots__ = ("_choices", "created", "id", "model", "usage")

    def __init__(self) -> None:
        self._choices: dict[int, _Acc] = {}
        self.id = ""
        self.model = ""
        self.created = 0
        self.usage: Usage | None = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Take in the next chunk of the stream."""
        if not self.id:
            self.id, self.model, self.created = chunk.id, chunk.model, chunk.created
        if chunk.usage is not None:
            self.usage = chunk.usage
        for c in chunk.choices:
            acc = self._choices.get(c.index)
            if acc is None:
                acc = self._choices[c.index] = _Acc()
            d = c.delta
            if d.role:
                acc.role = d.role
            if d.content:
                acc.content.append(d.content)
            if d.reasoning:
                acc.reasoning.append(d.reasoning)
            if d.raw_content:
                acc.raw.append(d.raw_content)
            if d.events:
                acc.events.extend(d.events)
            if d.invalid_tool_calls:
                acc.invalid.extend(d.invalid_tool_calls)
            if d.tool_calls:
                acc.calls.add(d.tool_calls)
            if c.finish_reason:
                acc.finish = c.finish_reason

    def completion(self) -> ChatCompletion:
        """The reply the chunks so far make: what ``create()`` returns for the same call."""
        choices = []
        for index in sorted(self._choices):
            acc = self._choices[index]
            calls = acc.calls.calls(self.id)
            finish = acc.finish
            if calls and finish in (None, "stop"):
                finish = "tool_calls"
            message = AssistantMessage(
                content="".join(acc.content),
                reasoning="".join(acc.reasoning) or None,
                tool_calls=calls,
                invalid_tool_calls=acc.invalid,
                events=acc.events,
                raw_content="".join(acc.raw),
                role=acc.role,
            )
            choices.append(Choice(index, message, finish))
        return ChatCompletion(self.id, self.model, self.created, choices, self.usage)


def accumulate(chunks: Iterable[ChatCompletionChunk]) -> ChatCompletion:
    """Merge a stream into the :class:`ChatCompletion` the non-stream call returns."""
    acc = ChunkAccumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.completion()
