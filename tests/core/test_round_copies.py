"""What each attempt of a round of a continued reply copies (issue 22's "no copy of the
transcript per round").

Every attempt of a round starts from a copy of the reply's state, so that an attempt that fails
and is retried leaves nothing behind. That copy must not grow with the transcript piece by
piece: the pieces of text fed so far are immutable and are shared by the copy (a new list of the
same pieces), while everything a later attempt may change is copied. Figure 14b of the
benchmarks measures the cost; these tests pin the behaviour without timing anything.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from r1v4 import AsyncR1V4Client, R1V4Client, TranscriptParser, accumulate
from r1v4._streaming import Continuation, ResponseParser
from r1v4.testing import LocalR1V4Server, Reply, tool_call
from r1v4.tools import CodeOutcome, R1V4Tools

MODEL = "skywork/r1v4-lite"
CALL = tool_call("code", {"code": "print(1)"}).rstrip("\n")
ANSWER = "<think>The crop is plain.</think><answer>A plain corner.</answer>"


class Piece(str):
    """A piece of streamed text that counts how often it is deep-copied."""

    copies = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> Piece:
        Piece.copies += 1
        return self


class Fixed:
    """An executor that answers every run with the same output (the code is not the point)."""

    def run(self, job: Any) -> CodeOutcome:
        return CodeOutcome(output="1\n")


@pytest.fixture(autouse=True)
def _count_from_zero() -> None:
    Piece.copies = 0


def test_a_copy_of_the_transcript_parser_goes_on_independently() -> None:
    parser = TranscriptParser()
    parser.feed("<think>I look at the ")
    twin = copy.deepcopy(parser)
    rest = ["corner.</think>", CALL, '<observation>{"result": "1"}</observation>', "<answer>A"]
    ours = [parser.feed(piece) for piece in rest]
    theirs = [twin.feed(piece) for piece in rest]
    assert ours == theirs
    assert twin.raw == parser.raw
    twin.feed(" plain corner.</answer>")
    assert parser.raw.endswith("<answer>A")  # the copy's text never reaches the original
    assert parser.close() != twin.close()


def test_copying_a_transcript_parser_shares_its_pieces_of_text() -> None:
    parser = TranscriptParser()
    for _ in range(100):
        parser.feed(Piece("a word "))
    twin = copy.deepcopy(parser)
    assert Piece.copies == 0
    assert twin.raw == parser.raw == "a word " * 100


def _carried() -> Continuation:
    """The state after a round that ended in a ``code`` call, as the next round starts."""
    parser = ResponseParser(frozenset(), Continuation(16))
    for delta, finish in (({"content": "<think>I crop.</think>" + CALL}, None), ({}, "stop")):
        body = {"id": "r-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        parser.parse_event(json.dumps(body))
    assert [step.name for step in parser.steps] == ["code"]
    return parser.carry()


def test_an_attempt_copies_the_state_not_the_pieces_of_text() -> None:
    carried = _carried()
    assert carried.state is not None
    for _ in range(50):
        carried.state.transcript.feed(Piece("more "))
        carried.state.answer.append(Piece("more "))
    raw, answer = carried.state.transcript.raw, list(carried.state.answer)

    attempt = carried.for_attempt()
    assert Piece.copies == 0
    assert attempt.state is not None and attempt.state is not carried.state
    # What the attempt does stays with the attempt: the next one starts where this one did.
    attempt.state.transcript.feed("<thi")
    attempt.state.answer.append("lost")
    assert carried.state.transcript.raw == raw
    assert carried.state.answer == answer
    assert carried.for_attempt().state.transcript.raw == raw  # type: ignore[union-attr]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_round_retried_after_a_held_tag_leaves_no_trace(
    is_async: bool, r1v4_server: LocalR1V4Server, fast_backoff: None
) -> None:
    # The follow-up's first attempt sends "<thi" (held by the transcript: nothing delivered)
    # and is cut off; the second attempt must start from the state before it.
    r1v4_server.enqueue(
        Reply(content="<think>I crop.</think>" + CALL),
        Reply(content=ANSWER, chunk_size=4, drop_after=2),
        Reply(content=ANSWER),
    )
    fields: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "What is in the corner?"}],
        "builtin_tools": R1V4Tools(executor=Fixed()),
    }
    if is_async:

        async def go() -> list[Any]:
            async with AsyncR1V4Client(base_url=r1v4_server.base_url, api_key="test-key") as c:
                return [chunk async for chunk in c.stream(**fields)]

        chunks = asyncio.run(go())
    else:
        with R1V4Client(base_url=r1v4_server.base_url, api_key="test-key") as client:
            chunks = list(client.stream(**fields))
    message = accumulate(chunks).message

    assert len(r1v4_server.requests) == 3
    assert not r1v4_server.requests[1].completed
    assert message.content == "A plain corner."
    assert message.reasoning == "I crop.\n\nThe crop is plain."
    # The transcript the reply's one parser kept (on the closing chunk) has no "<thi" of the
    # attempt that was cut off.
    (kept,) = [c.delta.transcript for ch in chunks for c in ch.choices if c.delta.transcript]
    observation = '<observation>{"result": "1", "type": "code"}</observation>'
    assert kept == "<think>I crop.</think>" + CALL + observation + ANSWER
    assert message.transcript == kept
