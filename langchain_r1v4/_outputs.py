"""Core completions and chunks -> LangChain messages.

Where each part of an R1V4 reply lands (v0 layout; the ``skywork`` block translator derives the
v1 content blocks from it):

* answer -> ``content``; reasoning -> ``additional_kwargs["reasoning_content"]``;
* server trace -> ``additional_kwargs["server_tool_calls"]`` / ``["server_tool_results"]``;
  ``response_metadata["sources"]``, ``["plan"]``, ``["transcript_issues"]``;
* images the server's tools generated -> ``additional_kwargs["generated_images"]`` (standard
  ``image`` block fields: ``type``, ``id``, ``base64``, ``mime_type``, plus ``tool_call_id``,
  ``size``, ``width``, ``height``, ``index``); each observation's output refers to them as
  ``{"type": "image", "id": ...}``;
* the content exactly as sent, when it differs from the answer (generated images as
  ``[generated image omitted]``) -> ``response_metadata["raw_content"]``;
* client tool calls -> ``tool_calls`` / ``tool_call_chunks`` / ``invalid_tool_calls``.

The stream converter is on the per-chunk hot path: it builds one ``AIMessageChunk`` per kind of
payload and nothing else, and keeps end-of-stream metadata for a single final chunk.
"""

from __future__ import annotations

import json
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.content import InvalidToolCall
from langchain_core.messages.tool import (
    ToolCall,
    ToolCallChunk,
    invalid_tool_call,
    tool_call,
    tool_call_chunk,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from r1v4 import AssistantMessage, ChatCompletion, ChatCompletionChunk, TranscriptEvent, Usage
from r1v4._integrations import Trace

__all__ = ["PROVIDER", "StreamConverter", "completion_to_result", "usage_metadata"]

PROVIDER = "skywork"
"""``response_metadata["model_provider"]``: selects the v1 block translator in ``_blocks``."""


_USAGE_KEYS: dict[str, str | tuple[str, str]] = {
    "prompt_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "reasoning_tokens": ("output_token_details", "reasoning"),
    "cached_tokens": ("input_token_details", "cache_read"),
}


def usage_metadata(usage: Usage) -> UsageMetadata:
    """The usage under LangChain's ``UsageMetadata`` keys."""
    return cast("UsageMetadata", usage.to_dict(_USAGE_KEYS))


def _trace_parts(events: list[TranscriptEvent]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Trace events -> (additional_kwargs, response_metadata) entries."""
    data = Trace.of(events).to_dict()
    kwargs: dict[str, Any] = {}
    for key in ("server_tool_calls", "server_tool_results", "generated_images"):
        if key in data:
            kwargs[key] = data.pop(key)
    return kwargs, data


def _final_metadata(
    response_id: str, model: str, finish_reason: str | None, transcript: str | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"model_provider": PROVIDER, "model_name": model}
    if response_id:
        meta["id"] = response_id
    if finish_reason is not None:
        meta["finish_reason"] = finish_reason
    if transcript is not None:
        meta["raw_content"] = transcript
    return meta


# -------------------------------------------------------------------------- non-stream


def _parse_call(call_id: str, name: str, arguments: str) -> ToolCall | InvalidToolCall:
    try:
        # strict=False: the same leniency LangChain applies when it joins streamed arguments.
        args = json.loads(arguments, strict=False) if arguments else {}
    except ValueError as exc:
        return invalid_tool_call(name=name, args=arguments, id=call_id, error=str(exc))
    if not isinstance(args, dict):
        return invalid_tool_call(
            name=name, args=arguments, id=call_id, error="arguments are not a JSON object"
        )
    return tool_call(name=name, args=args, id=call_id)


def completion_to_result(completion: ChatCompletion, default_model: str) -> ChatResult:
    message = completion.message if completion.choices else AssistantMessage()
    finish = completion.choices[0].finish_reason if completion.choices else None
    additional_kwargs: dict[str, Any] = {}
    if message.reasoning:
        additional_kwargs["reasoning_content"] = message.reasoning
    meta = _final_metadata(
        completion.id,
        completion.model or default_model,
        finish,
        message.transcript,
    )
    if message.events:
        trace_kwargs, trace_meta = _trace_parts(message.events)
        additional_kwargs.update(trace_kwargs)
        meta.update(trace_meta)
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for tc in message.tool_calls:
        parsed = _parse_call(tc.id, tc.function.name, tc.function.arguments)
        if parsed.get("type") == "tool_call":
            calls.append(parsed)  # type: ignore[arg-type]
        else:
            invalid.append(parsed)  # type: ignore[arg-type]
    invalid.extend(
        invalid_tool_call(name=bad.name, args=bad.arguments, id=bad.id, error=bad.error)
        for bad in message.invalid_tool_calls
    )
    ai = AIMessage(
        content=message.content,
        additional_kwargs=additional_kwargs,
        response_metadata=meta,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        usage_metadata=usage_metadata(completion.usage) if completion.usage else None,
        id=completion.id or None,
    )
    return ChatResult(generations=[ChatGeneration(message=ai)])


# ------------------------------------------------------------------------------ stream


# A piece of answer text is most of a stream. Validating AIMessageChunk and ChatGenerationChunk
# for each one costs about 3.5 µs (half of LangChain's per-chunk work, and more than r1v4's
# own), and for plain text the validators have nothing to do: they ran once on these templates.
# Each copy gets mutable fields of its own, so no two chunks share a dict or a list.
_ANSWER_MESSAGE = AIMessageChunk(
    content="",
    id=None,
    additional_kwargs={},
    response_metadata={"model_provider": PROVIDER},
    tool_calls=[],
    invalid_tool_calls=[],
    tool_call_chunks=[],
)
_ANSWER_CHUNK = ChatGenerationChunk(message=_ANSWER_MESSAGE)


def answer_chunk(text: str, msg_id: str | None) -> ChatGenerationChunk:
    """A streamed piece of answer: what ``ChatGenerationChunk(message=AIMessageChunk(content=
    text, id=msg_id, response_metadata={"model_provider": "skywork"}))`` builds, copied from the
    templates with pydantic's public ``model_copy(update=...)`` instead of validated anew
    (``model_construct`` measured slower: it fills and sorts every field)."""
    message = _ANSWER_MESSAGE.model_copy(
        update={
            "content": text,
            "id": msg_id,
            "additional_kwargs": {},
            "response_metadata": {"model_provider": PROVIDER},
            "tool_calls": [],
            "invalid_tool_calls": [],
            "tool_call_chunks": [],
        }
    )
    return _ANSWER_CHUNK.model_copy(update={"message": message, "text": text})


class StreamConverter:
    """Turns one stream's core chunks into ``ChatGenerationChunk`` objects.

    Reasoning, trace and answer each get their own message chunk (reasoning first), so a
    consumer printing ``chunk.content`` never sees reasoning. ``finish_reason``, the model name,
    usage and the raw transcript go on one final chunk (``chunk_position="last"``) from
    :meth:`end`, so string metadata is never concatenated by LangChain's chunk merging.

    Each generated image and each search's sources come on the chunk where they are parsed.
    For ``output_version="v1"`` (``v1=True``) content is whole blocks instead: each image
    comes with the observation of its call, inside whose ``server_tool_result`` block it is
    shown, and the sources come on the last chunk, where the translator cites them on the
    answer (each ``server_tool_result`` block already shows its own as it streams).
    """

    __slots__ = (
        "_finish",
        "_id",
        "_images",
        "_model",
        "_sources",
        "_transcript",
        "_usage",
        "_v1",
    )

    def __init__(self, default_model: str, *, v1: bool = False) -> None:
        self._v1 = v1
        self._images: list[dict[str, Any]] = []  # v1: images waiting for their observation
        self._transcript: str | None = None  # the core's, from the last delta
        self._finish: str | None = None
        self._id = ""
        self._model = default_model
        self._usage: Usage | None = None
        self._sources: list[dict[str, Any]] = []

    def feed(self, chunk: ChatCompletionChunk) -> list[ChatGenerationChunk]:
        if chunk.usage is not None:
            self._usage = chunk.usage
        if not self._id and chunk.id:
            self._id = chunk.id
        if chunk.model:
            self._model = chunk.model
        if not chunk.choices:
            return []
        # R1V4 answers with one choice (``n`` is never sent).
        choice = chunk.choices[0]
        if choice.finish_reason is not None:
            self._finish = choice.finish_reason
        delta = choice.delta
        if delta.transcript is not None:
            self._transcript = delta.transcript
        msg_id = chunk.id or None
        content = delta.content
        if (
            content
            and delta.reasoning is None
            and delta.tool_calls is None
            and delta.events is None
            and delta.invalid_tool_calls is None
        ):  # the common case: a piece of answer
            return [answer_chunk(content, msg_id)]
        out: list[ChatGenerationChunk] = []
        if delta.reasoning:
            out.append(
                ChatGenerationChunk(
                    message=AIMessageChunk(
                        content="",
                        additional_kwargs={"reasoning_content": delta.reasoning},
                        id=msg_id,
                        response_metadata={"model_provider": PROVIDER},
                    )
                )
            )
        call_chunks: list[ToolCallChunk] = []
        if delta.events:
            out.extend(self._trace_chunk(delta.events, msg_id))
        if delta.tool_calls:
            call_chunks.extend(
                tool_call_chunk(name=tc.name, args=tc.arguments, id=tc.id, index=tc.index)
                for tc in delta.tool_calls
            )
        if delta.invalid_tool_calls:
            # LangChain re-parses joined argument text leniently and would "repair" the payload
            # into a wrong call; as a JSON string it stays an invalid call.
            call_chunks.extend(
                tool_call_chunk(
                    name=bad.name,
                    args=json.dumps(bad.arguments, ensure_ascii=False),
                    id=bad.id,
                    index=None,
                )
                for bad in delta.invalid_tool_calls
            )
        if content or call_chunks:
            out.append(
                ChatGenerationChunk(
                    message=AIMessageChunk(
                        content=content or "",
                        tool_call_chunks=call_chunks,
                        id=msg_id,
                        response_metadata={"model_provider": PROVIDER},
                    )
                )
            )
        return out

    def _trace_chunk(
        self, events: list[TranscriptEvent], msg_id: str | None
    ) -> list[ChatGenerationChunk]:
        kwargs, meta = _trace_parts(events)
        if self._v1:
            sources = meta.pop("sources", None)
            if sources:
                self._sources.extend(sources)
            images = kwargs.pop("generated_images", None)
            if images:
                self._images.extend(images)
            if self._images and "server_tool_results" in kwargs:
                kwargs["generated_images"], self._images = self._images, []
        if not kwargs and not meta:
            return []
        meta["model_provider"] = PROVIDER
        return [
            ChatGenerationChunk(
                message=AIMessageChunk(
                    content="", additional_kwargs=kwargs, response_metadata=meta, id=msg_id
                )
            )
        ]

    def end(self) -> ChatGenerationChunk:
        """The last chunk: finish reason, model name, id, usage, sources, raw transcript."""
        finish = self._finish
        meta = _final_metadata(self._id, self._model, finish, self._transcript)
        if self._sources:
            meta["sources"] = self._sources
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                # v1: images of an observation the stream never closed.
                additional_kwargs={"generated_images": self._images} if self._images else {},
                response_metadata=meta,
                usage_metadata=usage_metadata(self._usage) if self._usage else None,
                id=self._id or None,
                chunk_position="last",
            )
        )
