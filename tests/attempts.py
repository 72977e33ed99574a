"""One R1V4 trajectory, and its stream cut where an attempt may still be retried, for the
exactly-one-attempt tests of every package (core, adapters, ``r1v4 batch``, the fault matrix)."""

from __future__ import annotations

from r1v4.testing import Reply

# It opens with what the transcript parser holds back, delivering nothing: whitespace, then a
# tag split in its name, then a tool call's payload (held until its closing tag).
TRAJECTORY = (
    "\n"
    '<tool_call>{"name": "code", "arguments": {"code": "print(2 + 2)"}}</tool_call>'
    '<observation>{"result": "4", "type": "code"}</observation>'
    "<think>The code printed 4.</think><answer>The sum is 4.</answer>"
)
ANSWER = "The sum is 4."
REASONING = "The code printed 4."

# All the content an attempt had sent when it dropped, at each point before it delivered.
HELD = {
    "role-chunk": "",
    "held-whitespace": "\n",
    "inside-a-tag": "\n<tool_ca",
    "inside-a-payload": '\n<tool_call>{"name": "code", "argu',
}
# ... and once it had delivered a tool call, reasoning and answer text.
DELIVERED = TRAJECTORY[: TRAJECTORY.index("The sum") + len("The sum")]

FAILED, ANSWERED = "chatcmpl-failed", "chatcmpl-answered"


def cut(sent: str, *, events: int | None = None, rid: str | None = FAILED) -> Reply:
    """The trajectory, its connection closed once ``sent`` is all the content it carried (an
    empty ``sent``: right after the role chunk, event 0). ``events`` overrides where."""
    assert TRAJECTORY.startswith(sent)
    if events is None:
        events = 2 if sent else 1
    return Reply(content=TRAJECTORY, chunk_size=len(sent) or 8, drop_after=events, id=rid)


def whole(rid: str | None = ANSWERED) -> Reply:
    """The trajectory, sent whole (as the retry's answer)."""
    return Reply(content=TRAJECTORY, id=rid)
