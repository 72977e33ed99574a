"""What an earlier R1V4 reply sends back when it is part of a later request.

Both adapters keep the answer, the reasoning and the raw transcript of a reply on their own
message objects; the rule for turning them back into assistant text is one rule, kept here.
"""

from __future__ import annotations

import re
from typing import Literal

from r1v4._transcript._image_uris import IMAGE_PLACEHOLDER, without_images

__all__ = ["IMAGE_PLACEHOLDER", "History", "history_text"]


History = Literal["answer", "transcript"]
"""What an earlier R1V4 reply sends back: its answer, or its whole transcript."""

_THINK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)


def history_text(
    answer: str,
    *,
    raw_content: str | None = None,
    reasoning: str | None = None,
    history: History = "answer",
    send_reasoning: bool = False,
    has_tool_calls: bool = False,
) -> str:
    """The assistant content to send for an earlier reply.

    ``"answer"`` (default) sends the answer alone: what the hosted API expects back. With
    ``"transcript"`` the full content the server sent goes back (its tool calls, observations
    and answer tags), except when the message carries tool calls, which travel as calls and
    must not appear twice. Images the server generated in its tool trace are never sent back:
    each ``data:image/...;base64,...`` URI becomes :data:`IMAGE_PLACEHOLDER` (plain text, safe
    inside the observation's JSON strings), so the hosted API gets the steps, not megabytes.
    Reasoning is never sent back unless ``send_reasoning`` is set; then it goes once, in R1V4's
    own ``<think>`` form.
    """
    text = answer
    transcript = history == "transcript" and bool(raw_content) and not has_tool_calls
    if transcript:
        assert raw_content is not None
        text = raw_content if send_reasoning else _THINK.sub("", raw_content).strip()
        text = without_images(text)
    if send_reasoning and reasoning and not (transcript and "<think>" in text):
        text = f"<think>\n{reasoning}\n</think>\n\n{text}"
    return text
