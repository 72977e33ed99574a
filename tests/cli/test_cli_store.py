"""The results store: a torn last line is cut off, rewrites are atomic, one writer per file."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from cli.support import read_lines
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
        assert (len(store), store.status("a"), store.status("b")) == (1, "ok", None)
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
    # No temporary file left; the lock file stays (removing it would let two runs in).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl", "r.jsonl.lock"]


def test_drop_failed_keeps_every_line_it_does_not_drop_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    kept = [
        b'{"id":"a",   "status":"ok"}\n',  # our record, spaced as no json.dumps would
        b"not json at all\n",
        b'{"no_id": true}\n',
        b'{"id": 5, "status": "failed"}\n',  # not a string id
        b"[1, 2]\n",
        b"\xff\xfe not utf-8\n",
        b"\n",
        b'{"format": "r1v4.batch/9", "id": "z", "status": "ok", "new": {"x": 1}}\n',
        b'{"id": "c", "status": "failed", "error": {"type": "ServerError"}}\n',
        b"\r\n",
    ]
    failed_b = b'{"id": "b", "status": "failed"}\n'
    path.write_bytes(b"".join([*kept[:4], failed_b, *kept[4:], failed_b]))
    with ResultStore(path) as store:
        assert store.drop_failed({"b"}) == 1
        assert len(store) == 3
        assert [store.status(i) for i in "azcb"] == ["ok", "ok", "failed", None]
    assert path.read_bytes() == b"".join(kept)


def test_a_rewrite_that_fails_leaves_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.jsonl"
    with ResultStore(path) as store:
        store.append(record("a"))
        store.append(record("b", "failed"))
        before = path.read_bytes()

        def no_rename(src: object, dst: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", no_rename)
        with pytest.raises(StoreError, match=r"cannot rewrite .*No space left"):
            store.drop_failed({"b"})
        monkeypatch.undo()
        assert path.read_bytes() == before
        assert store.status("b") == "failed"  # still known as failed
        assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl", "r.jsonl.lock"]
        with pytest.raises(StoreError, match="another r1v4 batch run"):
            ResultStore(path)  # still locked
        store.append(record("c"))
    assert read_lines(path) == [record("a"), record("b", "failed"), record("c")]


def test_a_run_arriving_during_a_rewrite_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.jsonl"
    real_replace = os.replace
    arrivals: list[str] = []

    def replace_then_another_run(src: str, dst: str) -> None:
        real_replace(src, dst)
        # Another run opens the file in the instant after the rename.
        try:
            intruder = ResultStore(path)
        except StoreError as exc:
            arrivals.append(str(exc))
        else:
            intruder.close()
            arrivals.append("let in")

    with ResultStore(path) as store:
        store.append(record("a", "failed"))
        monkeypatch.setattr(os, "replace", replace_then_another_run)
        assert store.drop_failed({"a"}) == 1
        monkeypatch.undo()
        assert arrivals == [f"{path} is being written by another r1v4 batch run"]
        with pytest.raises(StoreError, match="another r1v4 batch run"):
            ResultStore(path)  # and after the rewrite, still locked
        store.append(record("a"))
    assert read_lines(path) == [record("a")]


def test_temporary_files_left_by_a_crash_are_removed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record("a")) + "\n")
    stale = [tmp_path / ".r.jsonl.4242.tmp", tmp_path / ".r.jsonl.7.tmp"]
    others = [tmp_path / ".r.jsonl.x.4242.tmp", tmp_path / ".other.jsonl.4242.tmp"]
    for p in stale + others:
        p.write_text("half a rewrite")
    with ResultStore(path) as store:
        assert (len(store), store.status("a")) == (1, "ok")
    assert [p.exists() for p in stale + others] == [False, False, True, True]


def test_a_case_done_once_stays_done_whatever_a_later_line_says(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record("a")) + "\n" + json.dumps(record("a", "failed")) + "\n")
    with ResultStore(path) as store:
        assert store.status("a") == "ok"


def test_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultStore(path), pytest.raises(StoreError, match="another r1v4 batch run"):
        ResultStore(path)


def test_the_lock_holds_across_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    hold = (
        "import sys, time\n"
        "from r1v4.cli.results import ResultStore\n"
        "store = ResultStore(sys.argv[1])\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(StoreError, match="another r1v4 batch run"):
            ResultStore(path)
    finally:
        child.kill()  # SIGKILL: no chance to release anything itself
        child.wait()
    with ResultStore(path) as store:  # no stale lock left behind
        assert len(store) == 0


def test_ids_that_clean_to_the_same_name_get_their_own_image_folders(tmp_path: Path) -> None:
    long = "x" * 70
    ids = ["a/b", "a b", "a_b", "a:b", long + "1", long + "2", "", "..", "/"]
    with ResultStore(tmp_path / "r.jsonl") as store:
        paths = {i: store.write_image(i, 0, f"image of {i!r}".encode(), "image/png") for i in ids}
    assert len(set(paths.values())) == len(ids)
    for case_id, path in paths.items():
        assert (tmp_path / path).read_bytes() == f"image of {case_id!r}".encode()
        folder = (tmp_path / path).parent
        assert folder.parent == tmp_path / "r.jsonl.images"  # never outside the images folder
        assert len(folder.name) <= 80


def big_record(case_id: str, status: str = "ok") -> dict[str, object]:
    """A record shaped like a real one: many small objects, about 2.5 KB as a line."""
    step = {"id": "c1", "name": "text_search", "tag": "text_search", "args": {"query": "q"}}
    return {
        "format": "r1v4.batch/1",
        "id": case_id,
        "status": status,
        "case": {"image": "", "question": f"question {case_id}", "answer": "42"},
        "answer": "x" * 400,
        "tool_trace": [{**step, "output": {"result": "y" * 40}, "sources": []}] * 8,
        "sources": [{"url": f"https://example.com/{n}", "title": "t"} for n in range(10)],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


def peak_while(fn: object) -> int:
    """Peak bytes allocated (tracemalloc) above what was allocated before ``fn`` ran."""
    assert callable(fn)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_opening_and_appending_keep_no_record_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.jsonl"
    n = 1000
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(big_record(f"case-{i}", "failed" if i % 10 == 0 else "ok")) + "\n")
    size = path.stat().st_size
    assert size > 2_400_000
    ResultStore(tmp_path / "warm-up.jsonl").close()  # imports (filelock) are no part of it
    stores: list[ResultStore] = []
    # Held as records (dicts), these lines take over 30 MB; the store keeps a hash per case.
    # The bound is generous: a kilobyte a case, and still far below one record each.
    peak = peak_while(lambda: stores.append(ResultStore(path)))
    with stores[0] as store:
        assert peak < 1_000_000, f"opening a {size}-byte results file peaked at {peak} bytes"
        assert len(store) == n
        assert store.status("case-10") == "failed" and store.status("case-11") == "ok"
        monkeypatch.setattr(os, "fsync", lambda fd: None)  # the write path, not the disk

        def append_many() -> None:
            for i in range(n, 2 * n):
                store.append(big_record(f"case-{i}"))

        peak = peak_while(append_many)
        assert peak < 1_000_000, f"appending {n} records peaked at {peak} bytes"
        assert len(store) == 2 * n
        dropped: list[int] = []
        peak = peak_while(lambda: dropped.append(store.drop_failed(f"case-{i}" for i in range(n))))
        assert dropped == [n // 10]
        assert peak < 1_000_000, f"rewriting the results file peaked at {peak} bytes"
    assert len(read_lines(path)) == 2 * n - n // 10
