"""``ChatR1V4``: Skywork R1V4 as a LangChain chat model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, secret_from_env
from pydantic import AliasChoices, ConfigDict, Field, SecretStr

from langchain_r1v4 import _blocks, _tools
from langchain_r1v4._identity import MODEL_PROFILE, identifying_params, ls_params, public_json
from langchain_r1v4._messages import History
from langchain_r1v4._outputs import StreamConverter, completion_to_result
from langchain_r1v4._request import chat_request
from r1v4 import DEFAULT_BASE_URL, DEFAULT_MODEL
from r1v4._integrations import ClientsHolder

__all__ = ["ChatR1V4"]

_blocks.register()


class ChatR1V4(ClientsHolder, BaseChatModel):
    """Skywork R1V4, the multimodal agent model, as a LangChain chat model.

    A thin translator over the `r1v4` core client: LangChain messages in, R1V4's reply out
    with the answer, the reasoning, the server's own tool trace and client tool calls each in
    its LangChain place.

    ???+ info "Setup"

        Install `r1v4[langchain]` and set environment variable `SKYWORK_API_KEY`.

        ```bash
        pip install -U "r1v4[langchain]"
        export SKYWORK_API_KEY="your-api-key"
        ```

    ??? info "Key init args — completion params"

        | Param | Type | Description |
        | --- | --- | --- |
        | `model` | `str` | `"skywork/r1v4-lite"` (default), a planner or a self-hosted name. |
        | `enable_search` | `bool | None` | Deep-research mode of the hosted API. |
        | `temperature` | `float | None` | Sampling temperature. |
        | `top_p` | `float | None` | Total probability mass of tokens to consider. |
        | `max_tokens` | `int | None` | Max number of tokens to generate, reasoning included. |
        | `tool_mode` | `str` | How tools reach the server: `"auto"`, `"native"`, `"prompted"`. |
        | `history` | `str` | What earlier replies send back: `"answer"` or `"transcript"`. |

        See full list of supported init args and their descriptions below.

    ??? info "Key init args — client params"

        | Param | Type | Description |
        | --- | --- | --- |
        | `api_key` | `SecretStr | None` | Skywork API key; else env var `SKYWORK_API_KEY`. |
        | `base_url` | `str | None` | Base URL; env var `SKYWORK_BASE_URL`, else the hosted API. |
        | `timeout` | `float | None` | Read timeout, s (default 600); alias `request_timeout`. |
        | `max_retries` | `int` | Max number of retries (default 2). |
        | `backoff` | `float` | Seconds before the first retry (default 0.5), then doubled. |
        | `max_image_bytes` | `int` | Largest image sent, in bytes (default 10 MiB). |
        | `max_image_pixels` | `int | None` | Larger images are downscaled to this many pixels. |
        | `default_headers` | `dict | None` | HTTP headers sent with every request. |

        Every setting of the core client (`r1v4.ClientSettings`) is a parameter. For a
        self-hosted `Skywork/R1V4` (vLLM, SGLang) `base_url` is its `/v1` URL.
        See full list of supported init args and their descriptions below.

    ??? info "Other keywords"

        A keyword that is not a parameter goes into `model_kwargs`, sent in every request
        body, with a warning (as `ChatOpenAI` does): `ChatR1V4(top_k=20)`. A near miss of a
        parameter is refused, naming it: `ChatR1V4(temprature=0.2)` raises
        `did you mean 'temperature'?`, so a typo never silently sends a request elsewhere or
        without its setting.

    ??? info "Instantiate"

        ```python
        from langchain_r1v4 import ChatR1V4

        model = ChatR1V4(
            model="skywork/r1v4-lite",
            temperature=0.2,
            max_tokens=None,
            timeout=600,
            max_retries=2,
            # api_key="...",
            # base_url="...",
        )
        ```

    ??? info "Invoke"

        ```python
        messages = [("system", "Answer briefly."), ("human", "What is 17 * 23?")]
        msg = model.invoke(messages)
        msg.content  # "391" -- the answer only, never <think> or tool tags
        ```

    ??? info "Stream"

        ```python
        for chunk in model.stream("Why is the sky blue?"):
            print(chunk.additional_kwargs.get("reasoning_content", ""), end="")  # first
            print(chunk.content, end="")  # then the answer
        ```

    ??? info "Async"

        ```python
        await model.ainvoke("Hello")
        async for chunk in model.astream("Hello"):
            ...
        await model.abatch(["Hello", "Hi"], config={"max_concurrency": 8})
        ```

    ??? info "Tool calling"

        ```python
        from langchain_core.tools import tool


        @tool
        def get_weather(city: str) -> str:
            \"\"\"Current weather in a city.\"\"\"
            return "sunny"


        msg = model.bind_tools([get_weather], tool_choice="auto").invoke("Weather in Paris?")
        msg.tool_calls  # [{"name": "get_weather", "args": {"city": "Paris"}, "id": ...}]
        ```

        Tools R1V4 ran on the server (code, search) are trace, never `tool_calls`: see
        Response metadata.

    ??? info "Structured output"

        ```python
        from pydantic import BaseModel


        class Answer(BaseModel):
            value: int
            unit: str


        model.with_structured_output(Answer).invoke("How tall is Everest in meters?")
        # Answer(value=8849, unit="m")
        ```

        `method="function_calling"` (default, works in every `tool_mode`), `"json_mode"` and
        `"json_schema"` (`response_format`; self-hosted vLLM/SGLang).

    ??? info "Image input"

        ```python
        from langchain_core.messages import HumanMessage

        msg = HumanMessage(
            content=[
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image", "url": "https://example.com/cat.png"},
                {"type": "image", "base64": b64_png, "mime_type": "image/png"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,..."}},
            ]
        )
        model.invoke([msg])
        ```

        URLs are downloaded and inlined by the client (the hosted API takes data URIs only);
        every image is checked before the request. Audio, video, PDF and file blocks raise
        `r1v4.InvalidRequestError` before anything is sent.

    ??? info "Reasoning"

        ```python
        msg = model.invoke("Is 2^61 - 1 prime?")
        msg.additional_kwargs["reasoning_content"]  # the <think> text

        model_v1 = ChatR1V4(output_version="v1")
        [b["type"] for b in model_v1.invoke("...").content]
        # ["reasoning", "server_tool_call", "server_tool_result", "text"]
        ```

    ??? info "Token usage"

        ```python
        msg.usage_metadata
        # {"input_tokens": 28, "output_tokens": 412, "total_tokens": 440,
        #  "output_token_details": {"reasoning": 380}}  # details when the server reports them
        ```

        Streams carry it on their last chunk (`stream_usage=True`, the default).

    ??? info "Response metadata"

        ```python
        msg.response_metadata
        # {"model_provider": "skywork", "model_name": "skywork/r1v4-lite",
        #  "finish_reason": "stop", "id": "...",
        #  "sources": [...],            # deep research: {"kind","title","url","snippet"}
        #  "plan": [...],               # planner: {"description","tool_name","parameters"}
        #  "raw_content": "<think>…"}  # the content as sent, when it held transcript tags
        msg.additional_kwargs["server_tool_calls"]  # the agent's own tool calls
        msg.additional_kwargs["server_tool_results"]  # their observations

        from langchain_r1v4 import get_plan, get_sources

        get_plan(msg)  # [PlanStep(description=..., tool_name=..., parameters={...})]
        get_sources(msg)  # [Source(title=..., url=..., ...)]
        ```
    """

    model: str = Field(default=DEFAULT_MODEL, validation_alias=AliasChoices("model", "model_name"))
    """Model name: `skywork/r1v4-lite`, `skywork/r1v4-vl-planner-lite` or a self-hosted one."""

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("SKYWORK_API_KEY", default=None)
    )
    """Skywork API key.

    If not passed in will be read from env var `SKYWORK_API_KEY`. Never in a repr, log,
    exception or serialized model.
    """

    base_url: str | None = Field(
        default_factory=from_env("SKYWORK_BASE_URL", default=DEFAULT_BASE_URL)
    )
    """Base URL for API requests, without `/chat/completions`.

    If not passed in will be read from env var `SKYWORK_BASE_URL`, else the hosted API. A
    self-hosted vLLM or SGLang server is `http://host:8000/v1`.
    """

    enable_search: bool | None = None
    """Deep-research mode (hosted API): the agent searches the web and images."""

    temperature: float | None = None
    """What sampling temperature to use; the server's default when `None`."""

    top_p: float | None = None
    """Total probability mass of tokens to consider at each step (nucleus sampling)."""

    max_tokens: int | None = Field(
        default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens")
    )
    """Maximum number of tokens to generate, reasoning included; the server's default when
    `None`. Also accepted as `max_completion_tokens`."""

    stop: list[str] | str | None = None
    """Default stop sequences."""

    streaming: bool = False
    """Whether to use the streaming endpoint for `invoke` too."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further request body fields sent with every call (`top_k`, `seed`, ...).

    A keyword `ChatR1V4` does not take lands here, with a warning; a misspelt parameter
    (`temprature`) is refused instead, and so is a parameter put in here (`temperature` takes
    effect only as `ChatR1V4(temperature=...)`).
    """

    extra_body: dict[str, Any] | None = None
    """Additional JSON properties to include in every request body."""

    http_client: Any = Field(default=None, exclude=True)
    """Optional `httpx.Client`, used as given and never closed by `ChatR1V4`."""

    http_async_client: Any = Field(default=None, exclude=True)
    """Optional `httpx.AsyncClient` (tied to the event loop it was made in)."""

    history: History = "answer"
    """What earlier R1V4 replies send back in later turns: `"answer"` or `"transcript"`."""

    send_reasoning: bool = False
    """Whether earlier replies' reasoning is sent back, as `<think>…</think>`."""

    model_config = ConfigDict(populate_by_name=True)

    # A keyword that is none of the fields goes into model_kwargs, as ChatOpenAI's do, unless
    # it is a misspelt field, which is refused (r1v4._model_options.take_keywords).
    extra_kwargs_field: ClassVar[str] = "model_kwargs"

    def _given_http_clients(self) -> tuple[Any, Any]:
        return self.http_client, self.http_async_client

    # ----------------------------------------------------------------- LangChain identity

    @property
    def model_name(self) -> str:
        """Alias of :attr:`model`, the name LangChain tooling often looks for."""
        return self.model

    @property
    def _llm_type(self) -> str:
        return "skywork-r1v4-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return identifying_params(self)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return ls_params(self, stop, kwargs)

    def _resolve_model_profile(self) -> ModelProfile | None:
        return MODEL_PROFILE.copy()

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_r1v4", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "SKYWORK_API_KEY"}

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        return public_json(super().to_json())

    # ----------------------------------------------------------------------------- calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, stop, False, kwargs)
        reply = self.client.create(request, builtin_tools=tools)
        return completion_to_result(reply, request.model)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, stop, False, kwargs)
        reply = await self.async_client.create(request, builtin_tools=tools)
        return completion_to_result(reply, request.model)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, stop, True, kwargs)
        converter = StreamConverter(request.model, v1=self.output_version == "v1")
        for chunk in self.client.stream(request, builtin_tools=tools):
            for generation in converter.feed(chunk):
                # LangChain reports tokens itself unless it hands us a run manager.
                if run_manager is not None:
                    run_manager.on_llm_new_token(generation.text, chunk=generation)
                yield generation
        last = converter.end()
        if run_manager is not None:
            run_manager.on_llm_new_token("", chunk=last)
        yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        tools = self.call_builtin_tools(kwargs)
        request = chat_request(self, messages, stop, True, kwargs)
        converter = StreamConverter(request.model, v1=self.output_version == "v1")
        async for chunk in self.async_client.stream(request, builtin_tools=tools):
            for generation in converter.feed(chunk):
                if run_manager is not None:
                    await run_manager.on_llm_new_token(generation.text, chunk=generation)
                yield generation
        last = converter.end()
        if run_manager is not None:
            await run_manager.on_llm_new_token("", chunk=last)
        yield last

    # ------------------------------------------------------------ tools, structured output

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, pydantic models, TypedDicts or dicts).

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (must call
        one), a tool name (must call that one), an OpenAI ``tool_choice`` dict, or
        ``None``/``False`` (the server's default). In prompted mode the choice becomes an
        instruction in the tool prompt.
        """
        return _tools.bind_tools(
            self,
            tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            strict=strict,
            kwargs=kwargs,
        )

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Return output matching ``schema`` (pydantic class, TypedDict or JSON schema).

        ``method``: ``"function_calling"`` (default; a forced tool call, which works in every
        ``tool_mode``), ``"json_mode"`` (``response_format={"type": "json_object"}``; describe
        the shape in the prompt) or ``"json_schema"`` (``response_format`` with the schema, for
        servers with guided decoding such as vLLM and SGLang). With ``include_raw=True`` the
        result is ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``.
        """
        return _tools.structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict, kwargs=kwargs
        )
