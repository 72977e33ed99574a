"""LangChain's standard integration suite for ``ChatR1V4``.

With ``SKYWORK_API_KEY`` set it runs, whole, against the hosted API. Without it, it runs against
the local R1V4 server in its "agent" scenario, so every reply is a real R1V4 transcript (think,
server tool call, observation, answer): the protocol tests below must pass on that, and the
tests that measure the model's judgement (choosing a tool, filling a schema, describing a
picture) are deselected by name, each with its reason, shown in the run's summary.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from r1v4_capabilities import R1V4Capabilities

from langchain_r1v4 import ChatR1V4
from r1v4.testing import LocalR1V4Server

_NEEDS_JUDGEMENT = "needs a model that decides to call a tool; the local server only replays"
_NEEDS_SCHEMA = "needs a model that fills a schema from the prompt; the local server only replays"

LOCAL_DESELECT: dict[str, str] = {
    "test_tool_calling": _NEEDS_JUDGEMENT,
    "test_tool_calling_async": _NEEDS_JUDGEMENT,
    "test_tool_calling_with_no_arguments": _NEEDS_JUDGEMENT,
    "test_tool_choice": _NEEDS_JUDGEMENT,
    "test_bind_runnables_as_tools": _NEEDS_JUDGEMENT,
    "test_agent_loop": _NEEDS_JUDGEMENT,
    "test_unicode_tool_call_integration": _NEEDS_JUDGEMENT,
    "test_structured_output": _NEEDS_SCHEMA,
    "test_structured_output_async": _NEEDS_SCHEMA,
    "test_structured_output_pydantic_2_v1": _NEEDS_SCHEMA,
    "test_structured_output_optional_param": _NEEDS_SCHEMA,
    "test_structured_few_shot_examples": _NEEDS_SCHEMA,
    "test_json_mode": "needs a model that writes JSON when asked; the local server only replays",
    "test_image_inputs": "downloads an image from GitHub and needs a model to describe it "
    "(tests/langchain/test_images.py proves every image form over loopback instead)",
}
"""Deselected only against the local server (see tests/langchain/conftest.py)."""

PROTOCOL_TESTS = frozenset(
    {
        "test_invoke",
        "test_ainvoke",
        "test_stream",
        "test_astream",
        "test_stream_events_v3",
        "test_astream_events_v3",
        "test_batch",
        "test_abatch",
        "test_conversation",
        "test_double_messages_conversation",
        "test_message_with_name",
        "test_stop_sequence",
        "test_usage_metadata",
        "test_usage_metadata_streaming",
        "test_invoke_with_model_override",
        "test_ainvoke_with_model_override",
        "test_stream_with_model_override",
        "test_astream_with_model_override",
        "test_tool_message_histories_string_content",
        "test_tool_message_histories_list_content",
        "test_tool_message_error_status",
        "test_no_overrides_DO_NOT_OVERRIDE",
    }
)
"""Run everywhere: they check the protocol, which the local server speaks exactly."""

SKIPPED_BY_FLAGS = frozenset(
    {
        "test_pdf_inputs",
        "test_audio_inputs",
        "test_image_tool_message",
        "test_pdf_tool_message",
        "test_anthropic_inputs",
        "test_stream_time",  # needs recorded VCR cassettes (enable_vcr_tests)
    }
)
"""Skipped by the suite itself, because the capability flags below say R1V4 lacks them."""


class TestChatR1V4Integration(R1V4Capabilities, ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatR1V4

    @pytest.fixture(autouse=True)
    def _backend(self, request: pytest.FixtureRequest) -> None:
        """Point every model the suite builds (its fixture and the ones it makes itself) at
        the hosted API when a key is set, else at the local server."""
        self._backend_params: dict[str, Any] = {}
        if not os.environ.get("SKYWORK_API_KEY"):
            server: LocalR1V4Server = request.getfixturevalue("agent_server")
            server.reset()
            self._backend_params = {"api_key": server.api_key, "base_url": server.base_url}

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "skywork/r1v4-lite", "temperature": 0, **self._backend_params}


def test_every_standard_test_is_accounted_for() -> None:
    """A test added to langchain-tests must be placed in one of the lists above on purpose."""
    standard = {m for m in dir(ChatModelIntegrationTests) if m.startswith("test_")}
    placed = PROTOCOL_TESTS | SKIPPED_BY_FLAGS | set(LOCAL_DESELECT)
    assert standard == placed, {"unplaced": standard - placed, "unknown": placed - standard}
    assert not PROTOCOL_TESTS & set(LOCAL_DESELECT)
