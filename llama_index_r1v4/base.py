"""``R1V4``: Skywork R1V4 as a LlamaIndex ``FunctionCallingLLM``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr, field_validator
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from pydantic import AliasChoices

from llama_index_r1v4._messages import History
from llama_index_r1v4._request import chat_request, prompt_messages
from llama_index_r1v4._responses import (
    StreamAssembler,
    chat_to_completion,
    completion_to_chat_response,
)
from llama_index_r1v4._tools import chat_with_tools_kwargs, keep_first_tool_call, tool_selections
from r1v4 import DEFAULT_MAX_RETRIES, DEFAULT_MODEL, DEFAULT_TIMEOUT, ToolMode
from r1v4._integrations import ClientsHolder, resolve_api_key, resolve_base_url

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["R1V4"]

# R1V4 is a fine-tune of Qwen3-VL-30B-A3B, whose model card states a native 256K context
# ("Native 256K context, expandable to 1M") and whose config.json sets
# text_config.max_position_embeddings = 262144 (huggingface.co/Qwen/Qwen3-VL-30B-A3B-Instruct).
R1V4_CONTEXT_WINDOW = 262_144
# Room kept for the reply when max_tokens is unset: R1V4 thinks before it answers, so the
# LlamaIndex default of 256 would let prompt packing crowd the reasoning out.
_DEFAULT_NUM_OUTPUT = 8_192


class R1V4(ClientsHolder, FunctionCallingLLM):
    """Skywork R1V4, the multimodal agent model, as a LlamaIndex LLM.

    A thin translator over the ``r1v4`` core: LlamaIndex messages in, ``ChatResponse`` out.
    The answer is in ``TextBlock``s, reasoning in a ``ThinkingBlock`` (and, streaming,
    ``additional_kwargs["thinking_delta"]``), calls of your tools in ``ToolCallBlock``s. The
    tools R1V4 runs itself are reported, never executed: ``message.additional_kwargs`` holds
    ``server_tool_calls``, ``server_tool_results``, ``sources`` and ``plan`` (typed by
    :func:`get_sources` and :func:`get_plan`), and search results also become ``CitationBlock``s.

    Args:
        model: ``skywork/r1v4-lite``, ``skywork/r1v4-vl-planner-lite``, or the name a
            self-hosted server gives ``Skywork/R1V4``.
        api_key: defaults to ``SKYWORK_API_KEY``. Never serialised.
        base_url: defaults to ``SKYWORK_BASE_URL``, else the hosted API. A vLLM or SGLang
            server is ``http://host:8000/v1``. Also accepted as ``api_base``.
        enable_search: deep-research mode of the hosted API.
        temperature: sampling temperature; the server's default when ``None``.
        max_tokens: most tokens to generate; the server's default when ``None``. Also
            accepted as ``max_completion_tokens`` or ``max_new_tokens``.
        timeout: seconds to wait for the next byte (R1V4 may think for minutes). Also
            accepted as ``request_timeout``.
        max_retries: retries of failed requests, done once, in the core.
        context_window: tokens the model can attend to.
        additional_kwargs: extra request body fields sent with every call. A keyword R1V4
            does not take goes here, with a warning; a misspelt parameter (``temprature``)
            is refused, naming the parameter.
        default_headers: extra HTTP headers.
        http_client: an ``httpx.Client`` to use (never closed by r1v4).
        async_http_client: an ``httpx.AsyncClient`` to use (bound to the loop it was made in).
        tool_mode: ``"native"`` sends OpenAI ``tools``; ``"prompted"`` writes them into the
            system message as R1V4's chat template does, for servers without tool support;
            ``"auto"`` is prompted on the hosted API and falls back to it elsewhere when the
            server refuses ``tools``.
        history: what an earlier R1V4 reply sends back in a later turn: its answer
            (``"answer"``, the default) or the tagged transcript as the server sent it
            (``"transcript"``; a reply that called your tools still sends its answer, since
            the calls go back as calls).
        send_reasoning: also send earlier replies' reasoning back, as ``<think>…</think>``.
        **kwargs: LlamaIndex's own LLM fields (``system_prompt``, ...) and every other client
            setting of the core (:class:`r1v4.ClientSettings`): ``backoff`` (seconds before the
            first retry), ``max_image_bytes`` (largest image sent), ``max_image_pixels``
            (larger images are downscaled), ``stream_usage``, ``allow_file_paths`` (read a
            string image URL that is neither a data URI nor an http(s) URL as a local file
            path; off, so a user's message cannot send a file off the host, while
            ``ImageBlock(path=...)`` is always read), ``allow_private_urls`` (fetch image URLs
            from non-public addresses too; off: only public ones, redirects included) and
            ``image_download_timeout`` (seconds the image downloads of one call may take in
            all).

    Examples:
        ```python
        from llama_index_r1v4 import R1V4

        llm = R1V4()  # SKYWORK_API_KEY from the environment
        for r in llm.stream_complete("Why is the sky blue?"):
            print(r.delta, end="")
        ```
    """

    model: str = Field(
        default=DEFAULT_MODEL,
        description=(
            "The R1V4 model to use: skywork/r1v4-lite, skywork/r1v4-vl-planner-lite, or the "
            "name a self-hosted server gives Skywork/R1V4."
        ),
    )
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="The API key; SKYWORK_API_KEY when not given. Never serialised.",
    )
    base_url: str = Field(
        default="",
        validate_default=True,
        validation_alias=AliasChoices("base_url", "api_base"),
        description=(
            "The base URL for API requests, without /chat/completions; SKYWORK_BASE_URL, "
            "else the hosted API. Also accepted as api_base."
        ),
    )
    enable_search: bool | None = Field(
        default=None,
        description="Deep-research mode of the hosted API: the agent searches the web and images.",
    )
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=2.0,
        description="The temperature to use during generation; the server's default when None.",
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        validation_alias=AliasChoices("max_tokens", "max_completion_tokens", "max_new_tokens"),
        description=(
            "The maximum number of tokens to generate; the server's default when None. Also "
            "accepted as max_completion_tokens or max_new_tokens."
        ),
    )
    context_window: int = Field(
        default=R1V4_CONTEXT_WINDOW,
        gt=0,
        description="The maximum number of context tokens for the model.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Additional request body fields sent with every call."
    )
    history: History = Field(
        default="answer",
        description=(
            "What earlier R1V4 replies send back in later turns: 'answer' or 'transcript'."
        ),
    )
    send_reasoning: bool = Field(
        default=False,
        description="Whether earlier replies' reasoning is sent back, as <think>...</think>.",
    )

    # A keyword that is none of the fields goes into additional_kwargs (sent in the body) with
    # a warning, unless it is a misspelt field, which is refused
    # (r1v4._model_options.take_keywords). As with LlamaIndex's OpenAI LLM, additional_kwargs
    # may override these request fields.
    extra_kwargs_field: ClassVar[str] = "additional_kwargs"
    body_parameters: ClassVar[frozenset[str]] = frozenset(
        {"model", "temperature", "max_tokens", "enable_search"}
    )

    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        enable_search: bool | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        context_window: int = R1V4_CONTEXT_WINDOW,
        additional_kwargs: dict[str, Any] | None = None,
        default_headers: dict[str, str] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        tool_mode: ToolMode = "auto",
        history: History = "answer",
        send_reasoning: bool = False,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model=model,
            api_key=resolve_api_key(api_key),
            base_url=base_url,
            enable_search=enable_search,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            max_retries=max_retries,
            context_window=context_window,
            additional_kwargs=additional_kwargs or {},
            default_headers=default_headers,
            tool_mode=tool_mode,
            history=history,
            send_reasoning=send_reasoning,
            callback_manager=callback_manager,
            **kwargs,
        )
        self._http_client = http_client
        self._async_http_client = async_http_client

    @classmethod
    def class_name(cls) -> str:
        return "r1v4_llm"

    def _given_http_clients(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        return self._http_client, self._async_http_client

    def close(self) -> None:
        """Close the pooled sync connections (they reopen on the next call)."""
        if self._clients is not None:
            self.client.close()

    async def aclose(self) -> None:
        """Close the running event loop's pooled connections."""
        if self._clients is not None:
            await self.async_client.aclose()

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or _DEFAULT_NUM_OUTPUT,
            is_chat_model=True,
            is_function_calling_model=True,
            model_name=self.model,
        )

    @field_validator("base_url", mode="before")
    @classmethod
    def _resolve_base_url(cls, base_url: str | None) -> str:
        return resolve_base_url(base_url)

    # ------------------------------------------------------------------------- chat

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, False, kwargs)
        return completion_to_chat_response(self.client.create(request, builtin_tools=tools))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, False, kwargs)
        reply = await self.async_client.create(request, builtin_tools=tools)
        return completion_to_chat_response(reply)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        # Built now, so a bad message fails at the call, before any request.
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, True, kwargs)
        client = self.client

        def gen() -> ChatResponseGen:
            assembler = StreamAssembler()
            # The core's stream is a generator; closing it closes the connection.
            chunks = client.stream(request, builtin_tools=tools)
            try:
                for chunk in chunks:
                    response = assembler.add(chunk)
                    if response is not None:
                        yield response
            finally:
                chunks.close()  # an abandoned stream frees its connection at once
            last = assembler.close()
            if last is not None:
                yield last

        return gen()

    def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, True, kwargs)
        client = self.async_client

        async def gen() -> ChatResponseAsyncGen:
            assembler = StreamAssembler()
            chunks = client.stream(request, builtin_tools=tools)
            try:
                async for chunk in chunks:
                    # Every chunk with content is yielded, a first one carrying only
                    # reasoning included.
                    response = assembler.add(chunk)
                    if response is not None:
                        yield response
            finally:
                await chunks.aclose()
            last = assembler.close()
            if last is not None:
                yield last

        return gen()

    # ------------------------------------------------------------------------- complete

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion(self._chat(prompt_messages(prompt), **kwargs))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        responses = self._stream_chat(prompt_messages(prompt), **kwargs)

        def gen() -> CompletionResponseGen:
            for response in responses:
                yield chat_to_completion(response)

        return gen()

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return chat_to_completion(await self._achat(prompt_messages(prompt), **kwargs))

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        responses = self._astream_chat(prompt_messages(prompt), **kwargs)

        async def gen() -> CompletionResponseAsyncGen:
            async for response in responses:
                yield chat_to_completion(response)

        return gen()

    # ------------------------------------------------------------------------- tools

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat arguments with ``tools``, ``tool_choice`` and the messages to send."""
        return chat_with_tools_kwargs(
            tools,
            user_msg,
            chat_history,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
            tool_required=tool_required,
            tool_choice=tool_choice,
            kwargs=kwargs,
        )

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls were allowed."""
        return response if allow_parallel_tool_calls else keep_first_tool_call(response)

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The calls of your tools in ``response``; arguments still streaming parse as far as
        they go, so agents may call this on every chunk."""
        return tool_selections(response, error_on_no_tool_call)
