"""LangChain's standard integration suite for ``ChatR1V4`` against the real llama.cpp server.

The flags below are this server's truth, not R1V4's: no images (no vision projector: a 500),
``model`` ignored (llama.cpp serves the one model it loaded and names it by its file path),
``tool_choice`` ignored (``"required"`` or a named function still gets prose), and
``response_format={"type": "json_object"}`` ignored (prose again; only a ``json_schema`` is
enforced, by a grammar); tools native through Qwen2.5's template. What a 135M model cannot judge is deselected by name in
``REAL_DESELECT`` with its reason (shown in the run's summary); everything else must pass.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from real_asks import say
from real_server import LlamaServer

from langchain_r1v4 import ChatR1V4

_NO_SHOTS = (
    "a 135M model calls a tool only after a two-shot history, and the standard prompts give "
    "none (test_real_paths.py proves native tool calls, with one, on every path)"
)
_NO_SCHEMA = (
    "needs the model to call the schema's tool unforced (llama.cpp ignores tool_choice) or to "
    "close a JSON object within max_tokens; a 135M model loops inside a string until cut off "
    "(test_real_frameworks.py proves json_schema on a prompt it can fill)"
)
REAL_DESELECT: dict[str, str] = {
    "test_tool_calling": _NO_SHOTS,
    "test_tool_calling_async": _NO_SHOTS,
    "test_tool_calling_with_no_arguments": _NO_SHOTS,
    "test_bind_runnables_as_tools": _NO_SHOTS,
    "test_agent_loop": _NO_SHOTS,
    "test_unicode_tool_call_integration": _NO_SHOTS,
    "test_structured_output": _NO_SCHEMA,
    "test_structured_output_async": _NO_SCHEMA,
    "test_structured_output_pydantic_2_v1": _NO_SCHEMA,
    "test_structured_output_optional_param": _NO_SCHEMA,
    "test_structured_few_shot_examples": _NO_SCHEMA,
}
"""Deselected by tests/real/conftest.py, each with the reason a 135M model fails it."""

SKIPPED_BY_FLAGS = frozenset(
    {
        "test_invoke_with_model_override",
        "test_ainvoke_with_model_override",
        "test_stream_with_model_override",
        "test_astream_with_model_override",
        "test_tool_choice",
        "test_json_mode",
        "test_image_inputs",
        "test_pdf_inputs",
        "test_audio_inputs",
        "test_image_tool_message",
        "test_pdf_tool_message",
        "test_anthropic_inputs",
        "test_stream_time",  # needs recorded VCR cassettes (enable_vcr_tests)
    }
)
"""Skipped by the suite itself, because this server lacks what the flags below say it lacks."""


REPLY = "Hello! I am a small model on llama.cpp."


class TestChatR1V4OnLlamaCpp(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatR1V4

    @pytest.fixture(autouse=True)
    def _backend(self, llama: LlamaServer, real_key: str) -> None:
        self._backend_params = {"api_key": real_key, "base_url": llama.base_url}

    @property
    def chat_model_params(self) -> dict[str, Any]:
        """Every reply is forced to :data:`REPLY` (a grammar; ``tool_choice="none"`` lets it go
        with the tools some tests bind), so no test depends on what SmolLM2 would write:
        the tests that run check the client's messages, chunks and usage, which any non-empty
        reply exercises."""
        return {
            "model": "smollm2",
            "temperature": 0,
            "max_tokens": 64,
            "max_retries": 0,
            "extra_body": {**say(REPLY), "tool_choice": "none"},
            **self._backend_params,
        }

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False


def test_every_standard_test_is_accounted_for() -> None:
    """A test added to langchain-tests runs here, unless placed in one of the lists above."""
    standard = {m for m in dir(ChatModelIntegrationTests) if m.startswith("test_")}
    placed = SKIPPED_BY_FLAGS | set(REAL_DESELECT)
    assert placed <= standard, {"unknown": placed - standard}
    assert not SKIPPED_BY_FLAGS & set(REAL_DESELECT)
