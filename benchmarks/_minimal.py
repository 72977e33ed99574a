"""The least a LangChain chat model and a LlamaIndex LLM must do to stream the server's SSE.

The yardsticks for the adapters' own cost: each reads the same SSE with plain httpx and
``json.loads`` (the floor's line split), and hands each answer delta to its framework exactly
as the framework requires, nothing more: LangChain a ``ChatGenerationChunk`` per delta through
``_stream`` (with the ``on_llm_new_token`` callback), LlamaIndex a ``ChatResponse`` per delta
through a ``@llm_chat_callback`` ``stream_chat``, whose message carries the text so far. No
reasoning, usage, tools or transcript: whatever the adapters cost beyond these is theirs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from llama_index.core.base.llms.generic_utils import (
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import PrivateAttr

from benchmarks._server import API_KEY, MODEL

_HEADERS = {
    "Authorization": f"Bearer {API_KEY}",
    "Content-Type": "application/json",
    "Accept": "text/event-stream",
}


def _answer_deltas(
    http: httpx.Client, url: str, model: str, messages: list[dict[str, str]]
) -> Iterator[str]:
    """The content of each streamed delta: the floor's line split and ``json.loads``."""
    body = {
        "model": model,
        "messages": messages,
        "stream": True,
        # What the core sends by default, so the server's reply is the same event for event.
        "stream_options": {"include_usage": True},
    }
    with http.stream("POST", url, content=json.dumps(body), headers=_HEADERS) as response:
        response.raise_for_status()
        buf = b""
        for data in response.iter_bytes():
            lines = (buf + data).split(b"\n")
            buf = lines.pop()
            for line in lines:
                if line[:6] == b"data: " and line != b"data: [DONE]":
                    for choice in json.loads(line[6:])["choices"]:
                        text = choice["delta"].get("content")
                        if text:
                            yield text


_LC_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


class MinimalChatModel(BaseChatModel):
    """A LangChain chat model over the SSE: ``_stream``, and ``_generate`` from it."""

    base_url: str
    model: str = MODEL
    _http: httpx.Client = PrivateAttr(default_factory=lambda: httpx.Client(timeout=60))

    @property
    def _llm_type(self) -> str:
        return "minimal-sse"

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        wire = [{"role": _LC_ROLES[m.type], "content": m.text} for m in messages]
        for text in _answer_deltas(
            self._http, f"{self.base_url}/chat/completions", self.model, wire
        ):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager is not None:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def close(self) -> None:
        self._http.close()


class MinimalLLM(CustomLLM):
    """A LlamaIndex LLM over the SSE: ``stream_chat``; ``chat`` and completions derived."""

    base_url: str
    model: str = MODEL
    _http: httpx.Client = PrivateAttr(default_factory=lambda: httpx.Client(timeout=60))

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name=self.model)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        wire = [{"role": m.role.value, "content": m.content or ""} for m in messages]
        deltas = _answer_deltas(self._http, f"{self.base_url}/chat/completions", self.model, wire)

        def gen() -> ChatResponseGen:
            content = ""
            for text in deltas:
                content += text
                message = ChatMessage(role=MessageRole.ASSISTANT, content=content)
                yield ChatResponse(message=message, delta=text)

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        last = ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=""))
        for last in self.stream_chat(messages, **kwargs):  # noqa: B007  (the last one is the reply)
            pass
        return last

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self.chat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self.stream_chat)(prompt, **kwargs)

    def close(self) -> None:
        self._http.close()
