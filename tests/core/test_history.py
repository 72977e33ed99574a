"""The one rule for sending an earlier R1V4 reply back."""

from __future__ import annotations

from r1v4._integrations import history_text

RAW = "<think>secret plan</think>\n<tool_call>{}</tool_call><observation>1</observation>\n<answer>It is 1.</answer>"


def test_answer_only_by_default() -> None:
    assert history_text("It is 1.", raw_content=RAW, reasoning="secret plan") == "It is 1."


def test_transcript_mode_sends_the_trace_without_reasoning() -> None:
    out = history_text("It is 1.", raw_content=RAW, reasoning="secret plan", history="transcript")
    assert "<tool_call>" in out and "<answer>It is 1.</answer>" in out
    assert "secret plan" not in out and "<think>" not in out


def test_reasoning_goes_back_once_when_asked() -> None:
    out = history_text("It is 1.", reasoning="why", send_reasoning=True)
    assert out == "<think>\nwhy\n</think>\n\nIt is 1."
    out = history_text(
        "It is 1.",
        raw_content=RAW,
        reasoning="secret plan",
        history="transcript",
        send_reasoning=True,
    )
    assert out == RAW and out.count("<think>") == 1


def test_tool_calls_are_never_sent_twice() -> None:
    raw = 'Checking.<tool_call>{"name": "f", "arguments": {}}</tool_call>'
    assert (
        history_text("Checking.", raw_content=raw, history="transcript", has_tool_calls=True)
        == "Checking."
    )


def test_no_raw_content_falls_back_to_the_answer() -> None:
    assert history_text("Hi", raw_content=None, history="transcript") == "Hi"
