"""``r1v4 batch`` over loopback: what a record holds, resuming, --retry-failed, and the key."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from batch_helpers import GENERATED, KEY, Faults, read_lines, write_cases

from r1v4.cli import main
from r1v4.cli.batch import DEFAULT_CONCURRENCY, BatchOptions
from r1v4.cli.progress import make_progress
from r1v4.testing import LocalR1V4Server, make_image


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "cat.png").write_bytes(make_image("PNG", (40, 30)))
    (tmp_path / "img" / "broken.png").write_bytes(b"this is not an image at all")
    return write_cases(
        tmp_path / "cases.jsonl",
        [
            {"id": "general", "image": "img/cat.png", "question": "What is it?"},
            {"id": "research", "image": "", "question": "Who won?", "enable_search": True},
            {"id": "plan", "question": "Plan it", "model": "skywork/r1v4-vl-planner-lite"},
            {"id": "bad-image", "image": "img/broken.png", "question": "And this?"},
        ],
    )


def batch(server: LocalR1V4Server, cases: Path, out: Path, *extra: str) -> int:
    return main(["batch", str(cases), "-o", str(out), "--base-url", server.hosted_base_url, *extra])


def test_records_hold_answer_trace_stats_usage_and_typed_errors(
    server: LocalR1V4Server, key_env: str, dataset: Path, tmp_path: Path
) -> None:
    Faults().install(server)
    out = tmp_path / "out" / "results.jsonl"
    assert batch(server, dataset, out) == 1  # one case failed
    records = {r["id"]: r for r in read_lines(out)}
    assert sorted(records) == ["bad-image", "general", "plan", "research"]

    general = records["general"]
    assert general["status"] == "ok" and general["error"] is None
    assert general["answer"] == "The answer to: What is it?"
    assert "crop the region" in general["reasoning"]
    assert general["raw_content"].startswith("<think>")
    assert general["stats"] == {"rounds": 1, "tools_used": ["code"], "has_final_answer": True}
    (step,) = general["tool_trace"]
    assert step["name"] == "code" and step["output"]["result"] == "Saved crop.png"
    assert general["usage"]["total_tokens"] > 0
    assert general["timings"]["seconds"] >= general["timings"]["first_token_seconds"] >= 0
    assert general["images"] == [str(tmp_path / "img" / "cat.png")]
    (sent,) = [r for r in server.requests if r.last_user_text == "What is it?"]
    assert [i.describe() for i in sent.images] == ["PNG 40x30"]  # sent, decoded by the server

    # The image in the code observation was written beside the results, referenced by path.
    (image,) = general["generated_images"]
    assert image["mime_type"] == "image/png" and image["tool_call_id"] == step["id"]
    assert (out.parent / image["path"]).read_bytes() == base64.b64decode(GENERATED.split(",")[1])

    research = records["research"]
    assert research["stats"]["tools_used"] == ["text_search", "web_content"]
    assert [s["url"] for s in research["sources"]][:2] == [
        "https://example.com/search/1",
        "https://example.com/search/2",
    ]
    plan = records["plan"]
    assert plan["model"] == "skywork/r1v4-vl-planner-lite"
    assert [s["tool_name"] for s in plan["plan"]] == ["code", "text_search", "answer"]

    bad = records["bad-image"]
    assert bad["status"] == "failed"
    assert bad["error"]["type"] == "ImageError"
    assert "broken.png" in bad["error"]["message"]
    assert len(server.requests) == 3  # a bad image is refused before any request


def test_rerun_skips_done_cases_and_retry_failed_reruns_only_failures(
    server: LocalR1V4Server, key_env: str, tmp_path: Path
) -> None:
    faults = Faults().install(server)
    cases = write_cases(
        tmp_path / "c.jsonl",
        [{"question": f"q{i}"} for i in range(5)] + [{"question": "down [5xx]"}],
    )
    out = tmp_path / "r.jsonl"
    assert batch(server, cases, out, "--max-retries", "0") == 1
    first = read_lines(out)
    failed = [r for r in first if r["status"] == "failed"]
    assert [(r["error"]["type"], r["error"]["status_code"]) for r in failed] == [
        ("ServerError", 500)
    ]
    assert server.request_count == 6

    assert batch(server, cases, out, "--max-retries", "0") == 1  # nothing new runs
    assert server.request_count == 6
    assert read_lines(out) == first

    faults.healed = True
    assert batch(server, cases, out, "--retry-failed") == 0
    assert server.request_count == 7  # only the failed case ran again
    final = read_lines(out)
    assert len(final) == 6 and len({r["id"] for r in final}) == 6  # still one line per case
    assert all(r["status"] == "ok" for r in final)


def test_a_line_torn_by_a_crash_is_ignored_and_its_case_runs_again(
    server: LocalR1V4Server, key_env: str, tmp_path: Path
) -> None:
    Faults().install(server)
    cases = write_cases(tmp_path / "c.jsonl", [{"question": f"q{i}"} for i in range(4)])
    out = tmp_path / "r.jsonl"
    assert batch(server, cases, out) == 0
    data = out.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    out.write_bytes(data[: last_start + (len(data) - last_start) // 2])  # died mid-write
    torn_id = read_lines_whole(data)[-1]["id"]
    assert batch(server, cases, out) == 0
    assert server.request_count == 5  # only the torn case ran again
    lines = read_lines(out)
    assert lines[:3] == read_lines_whole(data)[:3]
    assert [r["id"] for r in lines].count(torn_id) == 1 and len(lines) == 4


def read_lines_whole(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.splitlines()]


def test_the_key_is_written_nowhere(
    server: LocalR1V4Server,
    key_env: str,
    dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Faults().install(server)
    out = tmp_path / "results.jsonl"
    batch(server, dataset, out)
    # A wrong key: every case fails with AuthenticationError, whose text must not hold it either.
    monkeypatch.setenv("SKYWORK_API_KEY", KEY + "-wrong")
    wrong = tmp_path / "wrong.jsonl"
    batch(server, dataset, wrong)
    assert {r["error"]["type"] for r in read_lines(wrong) if r["id"] != "bad-image"} == {
        "AuthenticationError"
    }
    assert main(["report", str(out), str(wrong), "-o", str(tmp_path / "report.html")]) == 0
    captured = capsys.readouterr()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 5  # results, images, report, the cases
    for secret in (KEY, KEY + "-wrong", KEY[-12:]):
        assert secret not in captured.out + captured.err
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def test_shards_run_every_case_once_and_report_reads_them_as_one_run(
    server: LocalR1V4Server, key_env: str, tmp_path: Path
) -> None:
    Faults().install(server)
    cases = write_cases(tmp_path / "c.jsonl", [{"question": f"q{i}"} for i in range(12)])
    outs = [tmp_path / f"shard{i}.jsonl" for i in (1, 2, 3)]
    for i, out in enumerate(outs, 1):
        assert batch(server, cases, out, "--shard", f"{i}/3") == 0
    per_shard = [[r["id"] for r in read_lines(out)] for out in outs]
    ids = [i for shard in per_shard for i in shard]
    assert len(ids) == len(set(ids)) == 12 and all(per_shard)
    assert server.request_count == 12
    report = tmp_path / "report.html"
    assert main(["report", *map(str, outs), "-o", str(report)]) == 0
    html = report.read_text()
    assert html.count('<article class="case') == 12


def test_defaults_and_progress_forms() -> None:
    from r1v4.cli import _parser

    args = _parser().parse_args(["batch", "c.jsonl", "-o", "r.jsonl"])
    assert args.concurrency == DEFAULT_CONCURRENCY == BatchOptions(Path(), Path()).concurrency == 4

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    rec = {
        "id": "x",
        "status": "failed",
        "usage": {"total_tokens": 5},
        "timings": {"seconds": 1.0},
        "error": {"type": "ServerError", "message": "boom"},
    }
    plain = io.StringIO()
    with make_progress(1, 0, plain) as progress:
        progress.record(rec)
    assert "[1/1] x FAILED ServerError: boom" in plain.getvalue()
    terminal = Terminal()
    with make_progress(1, 0, terminal) as progress:
        progress.record(rec)
    shown = terminal.getvalue()
    assert "1/1" in shown and "failed=1" in shown and "tokens=5" in shown
    assert "x failed: ServerError: boom" in shown
