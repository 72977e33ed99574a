"""How ``ChatR1V4`` presents itself to LangChain: the params that identify it, its LangSmith
params, its model profile and its serialized form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.language_models import LangSmithParams, ModelProfile
from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented

from r1v4._integrations import public_headers

if TYPE_CHECKING:
    from langchain_r1v4.chat_models import ChatR1V4

__all__ = ["MODEL_PROFILE", "identifying_params", "ls_params", "public_json"]

# What every R1V4 server takes and returns. ``structured_output`` is False on purpose: the
# hosted API documents no ``response_format``, so ``create_agent`` should use its tool
# strategy, which works in every tool mode.
MODEL_PROFILE = ModelProfile(
    text_inputs=True,
    image_inputs=True,
    image_url_inputs=True,
    pdf_inputs=False,
    audio_inputs=False,
    video_inputs=False,
    image_tool_message=False,
    pdf_tool_message=False,
    text_outputs=True,
    image_outputs=False,
    audio_outputs=False,
    video_outputs=False,
    reasoning_output=True,
    tool_calling=True,
    tool_choice=True,
    tool_call_streaming=True,
    structured_output=False,
)


def ls_params(model: ChatR1V4, stop: list[str] | None, kwargs: dict[str, Any]) -> LangSmithParams:
    """The LangSmith params of one call: the call's own values over the model's."""
    params = LangSmithParams(
        ls_provider="skywork",
        ls_model_name=kwargs.get("model") or model.model,
        ls_model_type="chat",
    )
    temperature = kwargs.get("temperature", model.temperature)
    if temperature is not None:
        params["ls_temperature"] = temperature
    max_tokens = kwargs.get("max_tokens", model.max_tokens)
    if max_tokens:
        params["ls_max_tokens"] = max_tokens
    ls_stop = stop or kwargs.get("stop") or model.stop
    if ls_stop:
        params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else list(ls_stop)
    return params


def identifying_params(model: ChatR1V4) -> dict[str, Any]:
    """What tells one configured model from another (LangChain caches and traces key on it)."""
    return {
        "model": model.model,
        "base_url": model.base_url,
        "enable_search": model.enable_search,
        "temperature": model.temperature,
        "top_p": model.top_p,
        "max_tokens": model.max_tokens,
        "stop": model.stop,
        "tool_mode": model.tool_mode,
        "history": model.history,
        "send_reasoning": model.send_reasoning,
        "model_kwargs": model.model_kwargs,
        "extra_body": model.extra_body,
    }


def public_json(
    data: SerializedConstructor | SerializedNotImplemented,
) -> SerializedConstructor | SerializedNotImplemented:
    """``data`` without credentials passed as headers: they are as secret as ``api_key``."""
    if data.get("type") == "constructor":
        kwargs = data["kwargs"]  # type: ignore[typeddict-item]
        if kwargs.get("default_headers"):
            kwargs["default_headers"] = public_headers(kwargs["default_headers"])
    return data
