"""Prompted tool calling: tools rendered into the system message, Qwen3 / Hermes style."""

from __future__ import annotations

from r1v4._types import ChatRequest

__all__ = ["to_prompted"]


def to_prompted(request: ChatRequest) -> ChatRequest:
    raise NotImplementedError("prompted tool mode is being built (issue #9)")
