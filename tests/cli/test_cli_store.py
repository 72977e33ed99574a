"""The results store: a torn last line is cut off, rewrites are atomic, one writer per file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_helpers import read_lines

from r1v4.cli.results import ResultStore, StoreError


def record(case_id: str, status: str = "ok") -> dict[str, object]:
    return {"id": case_id, "status": status}


def test_append_writes_whole_lines_and_a_reopen_sees_them(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultStore(path) as store:
        store.append(record("a"))
        store.append(record("b", "failed"))
    with ResultStore(path) as store:
        assert store.done("a", retry_failed=True)
        assert store.done("b", retry_failed=False)
        assert not store.done("b", retry_failed=True)
        assert not store.done("c", retry_failed=False)
    assert read_lines(path) == [record("a"), record("b", "failed")]


def test_a_torn_last_line_is_dropped_and_earlier_lines_survive(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    whole = json.dumps(record("a")) + "\n"
    path.write_text(whole + '{"id": "b", "status": "o')  # a crash in the middle of a write
    with ResultStore(path) as store:
        assert set(store.records) == {"a"}
        store.append(record("b"))
    assert read_lines(path) == [record("a"), record("b")]


def test_drop_failed_rewrites_without_the_failed_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultStore(path) as store:
        for r in (record("a"), record("b", "failed"), record("c", "failed")):
            store.append(r)
        assert store.drop_failed({"b"}) == 1
        store.append(record("b"))
    assert read_lines(path) == [record("a"), record("c", "failed"), record("b")]
    assert [p.name for p in tmp_path.iterdir()] == ["r.jsonl"]  # no temporary file left


def test_a_case_done_once_stays_done_whatever_a_later_line_says(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record("a")) + "\n" + json.dumps(record("a", "failed")) + "\n")
    with ResultStore(path) as store:
        assert store.records["a"]["status"] == "ok"


def test_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultStore(path), pytest.raises(StoreError, match="another r1v4 batch run"):
        ResultStore(path)
