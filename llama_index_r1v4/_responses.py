"""The core's completions and chunks -> LlamaIndex ``ChatResponse`` objects.

Streaming is the hot path: each chunk costs one ``ChatResponse`` and one ``ChatMessage``, and
blocks that did not change since the last chunk are reused. Measured with pydantic 2.13, the
validating constructors of these small models (checked in pydantic-core) are twice as fast as
``model_construct`` (a Python loop over the fields), so they are used everywhere except for
``ChatMessage``, whose content-to-blocks validator makes it the one model where skipping
validation is cheaper: a streamed message is a ``model_copy`` of one template (cheaper still
than ``model_construct``), the non-stream one ``model_construct``.
"""

from __future__ import annotations

import logging
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CitationBlock,
    CompletionResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from llama_index_r1v4._images import GeneratedImageBlock, image_block
from r1v4 import (
    ChatCompletion,
    ChatCompletionChunk,
    InvalidToolCall,
    ToolCallDelta,
    TranscriptEvent,
    Usage,
)
from r1v4._integrations import ToolCallMerger, Trace

__all__ = ["StreamAssembler", "chat_to_completion", "completion_to_chat_response"]

logger = logging.getLogger("llama_index_r1v4")

_ASSISTANT = MessageRole.ASSISTANT
# Each streamed message is a copy of this one: model_copy is the cheapest way pydantic offers
# to build a model it need not validate (model_construct loops over the fields in Python).
_MESSAGE = ChatMessage.model_construct(role=_ASSISTANT, blocks=[], additional_kwargs={})


# OpenAI's usage keys, which ``TokenCountingHandler`` reads from ``raw["usage"]``.
_USAGE_KEYS: dict[str, str | tuple[str, str]] = {
    "reasoning_tokens": ("completion_tokens_details", "reasoning_tokens"),
    "cached_tokens": ("prompt_tokens_details", "cached_tokens"),
}


def usage_dict(usage: Usage) -> dict[str, Any]:
    """The usage under OpenAI's keys (``raw["usage"]``)."""
    return usage.to_dict(_USAGE_KEYS)


def _token_counts(usage: dict[str, Any] | None) -> dict[str, Any]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
    }


def _raw(
    rid: str, model: str, created: int, finish: str | None, usage: dict[str, Any] | None
) -> dict[str, Any]:
    # JSON-safe on purpose: agents copy ``raw`` into their events and may serialise it.
    return {"id": rid, "model": model, "created": created, "finish_reason": finish, "usage": usage}


def _text(text: str) -> TextBlock:
    return TextBlock(text=text)


def _thinking(text: str) -> ThinkingBlock:
    return ThinkingBlock(content=text)


def _call_block(call_id: str | None, name: str, arguments: str) -> ToolCallBlock:
    return ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=arguments)


def _citations(sources: list[dict[str, Any]]) -> list[CitationBlock]:
    """Search results as ``CitationBlock``s: only those with somewhere to point at."""
    out: list[CitationBlock] = []
    for source in sources:
        where = source.get("url") or source.get("image_url")
        if not where:
            continue
        title = source.get("title") or ""
        out.append(
            CitationBlock(
                cited_content=TextBlock(text=source.get("snippet") or title or where),
                source=where,
                title=title,
                additional_location_info={},
            )
        )
    return out


def _invalid_call(call: InvalidToolCall) -> dict[str, Any]:
    # Same contract as a bound tool that produced bad JSON: skipped with a warning, never raised.
    logger.warning(
        "R1V4 wrote a call of tool %r that could not be read (%s); skipped", call.name, call.error
    )
    return {"id": call.id, "name": call.name, "arguments": call.arguments, "error": call.error}


def _message(
    content: str,
    reasoning: str | None,
    calls: list[ToolCallBlock],
    citations: list[CitationBlock],
    kwargs: dict[str, Any],
) -> ChatMessage:
    blocks: list[Any] = [_thinking(reasoning)] if reasoning else []
    blocks.append(_text(content))
    blocks.extend(calls)
    blocks.extend(citations)
    return ChatMessage.model_construct(role=_ASSISTANT, blocks=blocks, additional_kwargs=kwargs)


def _kwargs(
    trace: Trace,
    invalid: list[dict[str, Any]],
    transcript: str | None,
    images: list[GeneratedImageBlock],
) -> dict[str, Any]:
    out = trace.to_dict()
    if images:
        out["generated_images"] = images
    if invalid:
        out["invalid_tool_calls"] = invalid
    if transcript is not None:
        out["raw_content"] = transcript  # for history="transcript"
    return out


def completion_to_chat_response(completion: ChatCompletion) -> ChatResponse:
    """A non-stream completion as one ``ChatResponse``."""
    choice = completion.choices[0] if completion.choices else None
    usage = usage_dict(completion.usage) if completion.usage is not None else None
    raw = _raw(
        completion.id,
        completion.model,
        completion.created,
        choice.finish_reason if choice else None,
        usage,
    )
    if choice is None:
        message = _message("", None, [], [], {})
    else:
        m = choice.message
        trace = Trace.of(m.events)
        invalid = [_invalid_call(c) for c in m.invalid_tool_calls]
        calls = [_call_block(c.id, c.function.name, c.function.arguments) for c in m.tool_calls]
        message = _message(
            m.content,
            m.reasoning,
            calls,
            _citations(trace.sources),
            _kwargs(trace, invalid, m.transcript, [image_block(d) for d in trace.images]),
        )
    return ChatResponse(
        message=message, raw=raw, delta=None, additional_kwargs=_token_counts(usage)
    )


class StreamAssembler:
    """Turns chunks into cumulative ``ChatResponse``s; the last one equals the non-stream reply.

    ``add`` returns ``None`` for chunks that carry nothing (a bare role chunk); ``close`` returns
    the closing response when the stream still owes one (the raw transcript, or a first response
    for a stream that had no content at all).
    """

    __slots__ = (
        "_call_blocks",
        "_calls",
        "_citations",
        "_content",
        "_created",
        "_finish",
        "_id",
        "_images",
        "_invalid",
        "_kwargs",
        "_model",
        "_reasoning",
        "_text_block",
        "_think_block",
        "_trace",
        "_transcript",
        "_usage",
        "_yielded",
    )

    def __init__(self) -> None:
        self._content = ""
        self._reasoning = ""
        self._transcript: str | None = None  # the core's, from the last delta
        self._calls = ToolCallMerger()
        self._call_blocks: list[ToolCallBlock] = []
        self._citations: list[CitationBlock] = []
        self._trace = Trace()
        self._invalid: list[dict[str, Any]] = []
        self._images: list[GeneratedImageBlock] = []
        self._kwargs: dict[str, Any] = {}
        self._text_block = _text("")
        self._think_block: ThinkingBlock | None = None
        self._usage: dict[str, Any] | None = None
        self._finish: str | None = None
        self._id = ""
        self._model = ""
        self._created = 0
        self._yielded = False

    def add(self, chunk: ChatCompletionChunk) -> ChatResponse | None:
        if not self._id:
            self._id, self._model, self._created = chunk.id, chunk.model, chunk.created
        answer = reasoning = None
        news = False
        if chunk.choices:
            choice = chunk.choices[0]  # R1V4 answers with one choice
            d = choice.delta
            answer, reasoning = d.content, d.reasoning
            if answer:
                self._content += answer
                self._text_block = _text(self._content)
                news = True
            if reasoning:
                self._reasoning += reasoning
                self._think_block = _thinking(self._reasoning)
                news = True
            if d.tool_calls:
                self._add_calls(d.tool_calls)
                news = True
            if d.invalid_tool_calls:
                self._invalid.extend(_invalid_call(c) for c in d.invalid_tool_calls)
                self._refresh_kwargs()
                news = True
            if d.events:
                self._add_events(d.events)
                news = True
            if d.transcript is not None:
                self._transcript = d.transcript
            if choice.finish_reason:
                self._finish = choice.finish_reason
                news = True
        if chunk.usage is not None:
            self._usage = usage_dict(chunk.usage)
            news = True
        if not news:
            return None
        usage = self._usage
        extra: dict[str, Any] = {} if usage is None else _token_counts(usage)
        if reasoning:
            extra["thinking_delta"] = reasoning
        think = self._think_block
        blocks: list[Any] = [self._text_block] if think is None else [think, self._text_block]
        if self._call_blocks:
            blocks.extend(self._call_blocks)
        if self._citations:
            blocks.extend(self._citations)
        message = _MESSAGE.model_copy(
            update={"blocks": blocks, "additional_kwargs": dict(self._kwargs)}
        )
        self._yielded = True
        return ChatResponse(
            message=message,
            raw=_raw(self._id, self._model, self._created, self._finish, usage),
            delta=answer or "",
            additional_kwargs=extra,
        )

    def close(self) -> ChatResponse | None:
        if self._yielded and self._transcript is None:
            return None
        message = _message(
            self._content,
            self._reasoning or None,
            self._call_blocks,
            self._citations,
            _kwargs(self._trace, self._invalid, self._transcript, self._images),
        )
        return ChatResponse(
            message=message,
            raw=_raw(self._id, self._model, self._created, self._finish, self._usage),
            delta="",
            additional_kwargs=_token_counts(self._usage),
        )

    def _add_calls(self, deltas: list[ToolCallDelta]) -> None:
        self._calls.add(deltas)
        self._call_blocks = [
            _call_block(c.id, c.function.name, c.function.arguments)
            for c in self._calls.calls(self._id)
        ]

    def _add_events(self, events: list[TranscriptEvent]) -> None:
        n_sources = len(self._trace.sources)
        n_images = len(self._trace.images)
        self._trace.add(events)
        if len(self._trace.sources) != n_sources:
            self._citations = _citations(self._trace.sources)
        self._images.extend(image_block(d) for d in self._trace.images[n_images:])
        self._refresh_kwargs()

    def _refresh_kwargs(self) -> None:
        # A fresh dict of fresh lists: responses already handed out must not change later.
        self._kwargs = {
            k: list(v) if isinstance(v, list) else v
            for k, v in _kwargs(self._trace, self._invalid, None, self._images).items()
        }


def chat_to_completion(response: ChatResponse) -> CompletionResponse:
    """A ``ChatResponse`` as the ``CompletionResponse`` of ``complete``/``stream_complete``."""
    message = response.message
    extra = {**message.additional_kwargs, **response.additional_kwargs}
    if response.delta is None:  # non-stream: the whole reasoning, there being no deltas
        for block in message.blocks:
            if isinstance(block, ThinkingBlock) and block.content:
                extra["thinking"] = block.content
    return CompletionResponse(
        text=message.content or "", additional_kwargs=extra, raw=response.raw, delta=response.delta
    )
