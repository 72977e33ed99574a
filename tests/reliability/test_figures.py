"""The published figures cannot go stale: the reliability guide's summary block must carry the
counts computed from the parametrisation, and the parametrisation must cover every row of the
tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reliability import test_bad_input, test_client_side, test_faults, test_secrets
from reliability.support import figures
from reliability.support.matrix import BAD_INPUTS, CLIENT_CHECKS, FAULTS, SECURITY_CHECKS, SINKS
from reliability.support.paths import PATHS

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "reliability-and-security.md"


def test_guide_block_carries_the_counts_of_the_parametrisation() -> None:
    block = figures.summary_section(GUIDE.read_text(encoding="utf-8"))
    expected = figures.summary_block(figures.declared_counts())
    assert block is not None, f"{GUIDE.name} has no <!-- reliability:start/end --> block"
    assert block, f"the guide's reliability block is empty; it should read:\n\n{expected}\n"
    found = figures.figures_in(block)
    want = figures.declared_counts()
    missing = set(want) - set(found)
    assert not missing, (
        f"the guide's block lacks the figures {sorted(missing)}; expected block:\n\n{expected}\n"
    )
    assert found == want, (
        f"stale figures in the guide {found} != {want}; expected block:\n\n{expected}\n"
    )


def _values(cases: list[Any], position: int) -> set[str]:
    return {case.values[position] for case in cases}


def test_every_fault_runs_on_every_path_it_applies_to() -> None:
    assert _values(test_faults.CASES, 0) == {f.name for f in FAULTS}
    assert _values(test_faults.CASES, 1) == set(PATHS)
    stream_only = [f for f in FAULTS if f.create is None]
    for f in FAULTS:
        paths = {c.values[1] for c in test_faults.CASES if c.values[0] == f.name}
        want = {p.name for p in PATHS.values() if p.stream or f.create is not None}
        assert paths == want, f.name
        if f in stream_only:
            assert f.create_note, f"{f.name}: say why it does not apply to non-stream paths"


def test_every_bad_input_runs_on_every_path() -> None:
    assert len(test_bad_input.CASES) == len(BAD_INPUTS) * len(PATHS)


def test_every_sink_and_check_has_a_test() -> None:
    source = Path(test_secrets.__file__).read_text()
    for sink in SINKS:
        assert f'sink == "{sink}"' in source, sink
    for check in SECURITY_CHECKS:
        assert f'"{check}"' in source, check
    client_source = Path(test_client_side.__file__).read_text()
    for check in CLIENT_CHECKS:
        assert f'"{check}"' in client_source, check


@pytest.mark.parametrize(
    ("params", "outcome", "counted"),
    [
        ({"fault": "a", "path": "p"}, "passed", {"fault": 1, "path": 1}),
        ({"fault": "a", "path": "p"}, "failed", {"fault": 0, "path": 0}),
    ],
)
def test_the_tally_counts_only_what_passed(
    params: dict[str, str], outcome: str, counted: dict[str, int]
) -> None:
    tally = figures.Tally()
    tally.add({"fault": "a", "path": "q"}, "passed")
    tally.add(params, outcome)
    counts = tally.counts()
    assert counts["fault"] == counted["fault"]
    assert counts["path"] == 1 + counted["path"]  # q passed either way
    assert tally.all_passed() is (outcome == "passed")
