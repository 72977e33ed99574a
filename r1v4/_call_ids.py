"""The ids r1v4 gives tool calls the server sent without one: stable, so a stream and a
non-stream call of the same reply name each call the same, and an agent can answer it."""

from __future__ import annotations

import hashlib

__all__ = ["invalid_call_id", "native_call_id", "text_tool_call_id"]


def text_tool_call_id(response_id: str, n: int) -> str:
    """A stable id for the ``n``-th tool call written as text, so a stream and a non-stream
    call of the same reply name it the same."""
    return _call_id(response_id, "text", n)


def native_call_id(response_id: str, index: int) -> str:
    """The id of a native call whose server sent none (some vLLM parsers): the same on the
    first streamed delta as in the aggregated reply, so an agent can answer it."""
    return _call_id(response_id, "native", index)


def invalid_call_id(response_id: str, index: int) -> str:
    """The id of the ``index``-th bound-tool call written as text that could not be read."""
    return _call_id(response_id, "invalid", index)


def _call_id(response_id: str, kind: str, n: int) -> str:
    # Each kind of call has its own namespace: ids cannot collide however many calls there are.
    digest = hashlib.sha1(f"{response_id}:{kind}:{n}".encode()).hexdigest()[:24]
    return f"call_{digest}"
