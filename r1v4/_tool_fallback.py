"""Whether a client in ``"auto"`` tool mode has met a server that refuses native tools, and
the table of refusals (as vLLM, SGLang, llama.cpp and others word them) that say so."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from r1v4._errors import APIStatusError, R1V4Error

if TYPE_CHECKING:
    from r1v4._config import ClientSettings
    from r1v4._request import Prepared

__all__ = ["ToolFallback"]

logger = logging.getLogger("r1v4")


class ToolFallback:
    """Whether auto tool mode has met a server that refuses native tools.

    Held by :class:`~r1v4._config.ClientSettings`, so the sync and async client of one model
    object learn it together.
    """

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = False

    def learn(self, err: R1V4Error, prepared: Prepared, settings: ClientSettings) -> bool:
        """Whether ``err`` is a server refusing native tools in auto mode: then the request is
        resent prompted, and this client stays prompted."""
        if not (
            isinstance(err, APIStatusError)
            and prepared.native_tools
            and (prepared.request.tool_mode or settings.tool_mode) == "auto"
            and _refuses_tools(err)
        ):
            return False
        # Every native request refused this way is resent, including ones already in flight
        # when an earlier refusal switched the client; only the switch itself is logged.
        if not self.active:
            self.active = True
            logger.info(
                "r1v4: %s refused a request with tools (%s); switching this client to "
                "tool_mode='prompted'",
                settings.base_url,
                err.message,
            )
        return True


# The refusals that mean "this server cannot take native tools", as the servers word them.
# Only these switch auto mode to prompted tools: any other error that names a tool (a bad tool
# schema, a tool message without its call id) is the caller's to see.
_TOOL_REFUSALS = (
    # vLLM without a tool parser, 400: '"auto" tool choice requires --enable-auto-tool-choice
    # and --tool-call-parser to be set' (and the same flags named for "required" / named tools)
    "--enable-auto-tool-choice",
    "--tool-call-parser",
    # older vLLM, 400: 'tool_choice = "required" is not supported!'
    'tool_choice = "required" is not supported',
    # SGLang without --tool-call-parser (before 2025-09), 500:
    # 'Internal server error: Unsupported tool_call_parser: None'
    "unsupported tool_call_parser: none",
    # llama.cpp started without --jinja, 500: 'tools param requires --jinja flag'
    "tools param requires --jinja",
    # OpenAI-compatible providers and local runners that have no tool calling for a model
    "does not support tools",
    "tools are not supported",
    "tool calling is not supported",
)


def _refuses_tools(err: APIStatusError) -> bool:
    """Whether an error status is a server saying it cannot take native tools (vLLM's 400,
    SGLang's and llama.cpp's 500 and the like), not any error that happens to name a tool."""
    if err.status_code not in (400, 422, 500, 501):
        return False
    text = err.message.lower()
    return any(phrase.lower() in text for phrase in _TOOL_REFUSALS)
