"""The issue's proof: 50 cases with faults at concurrency 8, a real SIGINT halfway, a resume.

The batch runs as a subprocess of the ``r1v4`` console script against the local server in this
process, so the signal, the exit code and the file on disk are exactly what a user gets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from batch_helpers import KEY, Faults, r1v4_script, read_lines, write_cases

from r1v4.cli.cases import load_cases
from r1v4.testing import LocalR1V4Server, make_image

MARKERS = ["[5xx]"] * 3 + ["[5xx-once]"] * 3 + ["[reset]"] * 3 + ["[reset-once]"] * 3


def make_cases(tmp_path: Path) -> Path:
    (tmp_path / "ok.png").write_bytes(make_image("PNG", (32, 32)))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # a PNG header, no image
    cases: list[dict[str, Any]] = []
    for i in range(50):
        case: dict[str, Any] = {"image": "ok.png", "question": f"case {i}"}
        if i < len(MARKERS):
            case["question"] += f" {MARKERS[i]}"
        elif i < 14:
            case["image"] = "bad.png"
        elif i % 5 == 0:
            case["enable_search"] = True
        elif i % 7 == 0:
            case["model"] = "skywork/r1v4-vl-planner-lite"
        cases.append(case)
    return write_cases(tmp_path / "cases.jsonl", cases)


def start_batch(
    server: LocalR1V4Server, cases: Path, out: Path, *extra: str
) -> subprocess.Popen[str]:
    env = {**os.environ, "SKYWORK_API_KEY": KEY}
    env.pop("SKYWORK_BASE_URL", None)
    return subprocess.Popen(
        [
            r1v4_script(),
            "batch",
            str(cases),
            "-o",
            str(out),
            "--base-url",
            server.hosted_base_url,
            "--concurrency",
            "8",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_interrupted_and_resumed_batch_runs_every_case_exactly_once(
    server: LocalR1V4Server, tmp_path: Path
) -> None:
    faults = Faults(chunk_delay=0.01).install(server)
    cases = make_cases(tmp_path)
    ids = {case.id: case for case in load_cases(cases)}
    out = tmp_path / "results.jsonl"

    # Run 1: a real SIGINT once about a third of the cases are on disk.
    proc = start_batch(server, cases, out)
    deadline = time.monotonic() + 60
    while lines_in(out) < 18 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and "run the same command again to resume" in err
    first = read_lines(out)  # every line whole
    assert 18 <= len(first) < 50
    assert len({r["id"] for r in first}) == len(first)
    attempts_after_first = dict(faults.attempts)

    # Run 2: resume. Cases on disk are not sent again; the rest run once each.
    proc = start_batch(server, cases, out)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # permanent faults remain
    second = read_lines(out)
    assert second[: len(first)] == first  # earlier lines untouched
    assert sorted(r["id"] for r in second) == sorted(ids)  # every case once, no duplicate line
    for record in first:
        assert faults.attempts[record["question"]] == attempts_after_first.get(
            record["question"], 0
        )

    by_question = {r["question"]: r for r in second}
    errors = {q: (r["error"] or {}).get("type") for q, r in by_question.items()}
    for i, marker in enumerate(MARKERS):
        record = by_question[f"case {i} {marker}"]
        if marker == "[5xx]":
            assert (errors[record["question"]], record["error"]["status_code"]) == (
                "ServerError",
                500,
            )
        elif marker == "[reset]":
            assert errors[record["question"]] == "APIConnectionError", record["error"]
        else:  # one fault, then the client's own retry succeeded
            assert record["status"] == "ok", record["error"]
    assert [errors[f"case {i}"] for i in (12, 13)] == ["ImageError"] * 2
    failed = {q for q, e in errors.items() if e is not None}
    assert len(failed) == 8
    # The planner's reply is a plan without an answer; every other one has an answer.
    assert all(
        r["status"] == "ok" and (r["answer"] or r["plan"])
        for q, r in by_question.items()
        if q not in failed
    )
    assert {t for r in second for t in r["stats"]["tools_used"]} >= {
        "code",
        "text_search",
        "web_content",
    }
    assert any(r["plan"] for r in second)

    # Run 3: --retry-failed once the server is healthy: only the failures run again.
    faults.healed = True
    before = sum(faults.attempts.values())
    proc = start_batch(server, cases, out, "--retry-failed")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # the bad images stay bad
    third = read_lines(out)
    assert sorted(r["id"] for r in third) == sorted(ids)
    assert sum(faults.attempts.values()) - before == 6  # 3 x [5xx] + 3 x [reset]; images never sent
    assert sorted(r["question"] for r in third if r["status"] == "failed") == ["case 12", "case 13"]


def test_sigterm_as_sent_by_slurm_or_kubernetes_stops_cleanly_too(
    server: LocalR1V4Server, tmp_path: Path
) -> None:
    Faults(chunk_delay=0.02).install(server)
    cases = write_cases(tmp_path / "cases.jsonl", [{"question": f"slow {i}"} for i in range(40)])
    out = tmp_path / "results.jsonl"
    proc = start_batch(server, cases, out)
    deadline = time.monotonic() + 60
    while lines_in(out) < 8 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the batch ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    done = read_lines(out)
    assert 8 <= len(done) < 40 and all(r["status"] == "ok" for r in done)
