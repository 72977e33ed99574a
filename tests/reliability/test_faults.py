"""Every scripted fault on every path: the typed error or the recovered answer, and exactly how
many requests the server saw (see ``matrix.FAULTS`` for the table).

Exactly one attempt: a call that recovers ends with the whole result of the attempt that
succeeded -- what the same path returns when that attempt is the only one (raw content, usage,
trace; its id) -- and every chunk the caller was handed carries that attempt's id; a call that
fails hands over nothing of an attempt it retried."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

import pytest

from r1v4 import AnswerDelta, R1V4Error, parse_transcript
from r1v4.testing import BlackholeServer, LocalR1V4Server, RecordedRequest, Reply, refused_base_url
from reliability.support.leakcheck import SECRET, assert_no_secret
from reliability.support.matrix import FAULTS, Fault
from reliability.support.paths import PATHS, Outcome, Path, Settings, run_path_seen

_BY_NAME = {f.name: f for f in FAULTS}

CASES = [
    pytest.param(f.name, p.name, id=f"{f.name}@{p.name}")
    for f in FAULTS
    for p in PATHS.values()
    if f.mode(p.stream) is not None
]


@contextlib.contextmanager
def _target(fault: Fault, server: LocalR1V4Server) -> Iterator[str]:
    if fault.target == "refused":
        yield refused_base_url()
    elif fault.target == "blackhole":
        with BlackholeServer() as hole:
            yield hole.base_url
    else:
        yield server.base_url


def _answer(reply: Reply) -> str:
    """The answer a reply's content holds (all of it, when it has no tags)."""
    events = parse_transcript(reply.content)
    return "".join(e.text for e in events if isinstance(e, AnswerDelta))


def _alone(path: Path, answered: RecordedRequest, server: LocalR1V4Server) -> Outcome:
    """What ``path`` returns when the attempt that answered is the only one: its reply again,
    with its id, and without its faults."""
    r = answered.reply
    assert r is not None and answered.response_id is not None
    server.reset()
    server.enqueue(
        Reply(
            content=r.content,
            reasoning=r.reasoning,
            reasoning_field=r.reasoning_field,
            tool_calls=r.tool_calls,
            finish_reason=r.finish_reason,
            usage=r.usage,
            chunk_size=r.chunk_size,
            id=answered.response_id,
        )
    )
    outcome, exc, _ = run_path_seen(path, server.base_url, Settings(api_key=SECRET))
    assert exc is None and outcome is not None, exc
    return outcome


def _same(got: str, want: str) -> None:
    """Equality without pytest's diff (a 5 MB diff helps nobody)."""
    if got == want:
        return
    at = next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )
    pytest.fail(
        f"text differs at character {at} (got {len(got)} chars, want {len(want)}): "
        f"{got[at : at + 40]!r} != {want[at : at + 40]!r}"
    )


@pytest.mark.parametrize(("fault", "path"), CASES)
def test_fault(
    fault: str,
    path: str,
    server: LocalR1V4Server,
    retries: list[tuple[str, float | None]],
) -> None:
    f, p = _BY_NAME[fault], PATHS[path]
    mode = f.mode(p.stream)
    assert mode is not None
    expect = mode.expect
    settings = Settings(api_key=SECRET, max_retries=f.max_retries, timeout=f.timeout)
    server.enqueue(*mode.replies())
    with _target(f, server) as url:
        outcome, exc, seen = run_path_seen(p, url, settings)
    parts = seen.parts

    # The request count the server saw, and the client's own attempts.
    assert len(server.requests) == expect.requests
    if expect.attempts is not None:
        assert len(retries) == expect.attempts
    delays = [d for _, d in retries if d is not None]
    assert len(delays) == max(expect.requests, expect.attempts or 0) - 1
    if expect.retry_after is not None:
        assert delays == [expect.retry_after]
    if expect.backoff:
        # Exponential backoff with jitter from the (shortened) 10 ms base: 75-100 % of 10 ms * 2^n.
        assert delays
        for n, d in enumerate(delays):
            assert 0.0075 * 2**n <= d <= 0.01 * 2**n

    if expect.raises is None:
        assert exc is None, f"expected a recovered answer, got {exc!r}"
        assert outcome is not None and expect.text is not None
        _same(outcome.text, expect.text)
        if p.stream:
            _same("".join(parts), expect.text)
        # Exactly one attempt: the one that answered, whole, and nothing of any other.
        answered = server.requests[-1]
        assert set(outcome.ids) == {answered.response_id}
        if p.stream:
            assert set(seen.ids) == {answered.response_id}
        assert outcome.whole == _alone(p, answered, server).whole
        return

    assert exc is not None, f"expected {expect.raises.__name__}, got {outcome!r}"
    assert type(exc) is expect.raises, f"expected {expect.raises.__name__}, got {exc!r}"
    assert isinstance(exc, R1V4Error)
    assert_no_secret("".join(traceback.format_exception(exc)), "the exception chain")
    shown = "".join(parts)
    if expect.partial:
        # The error keeps exactly what the caller was shown, and that is the true text, all of
        # it from the one attempt there was.
        assert shown, "the caller saw no token before the fault"
        assert exc.partial_content == shown
        answer = _answer(mode.replies()[0])
        assert answer.startswith(exc.partial_content)
        if expect.full_partial:
            assert exc.partial_content == answer
        assert set(seen.ids) == {server.requests[-1].response_id}
    else:
        # Nothing delivered, so nothing handed over: not even a content-free chunk.
        assert exc.partial_content == "" and shown == ""
        assert seen.ids == []
