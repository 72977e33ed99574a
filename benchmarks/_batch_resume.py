"""Figure 12, each run a process of its own: the peak RSS of a whole ``r1v4 batch`` process
resuming over a results file whose every case is done, against the size of that file.

The same 100,000 cases (the vendor's benchmark shape: image, question, answer) resume over two
results files with one record per case: short records (a one-word reply) and full ones (a deep-research reply: trace, sources, reasoning, usage), several times the size. A resume
that kept what it read would grow with the file; one that keeps a status per case grows with
the cases only, so both files cost the same. Beside them: the interpreter with the command's
imports (a resume over one case), and every record of the full file held in memory
(``r1v4.report.records.read_records``), what the store did before.

``python -m benchmarks._batch_resume --results 100000`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import run_child
from benchmarks._report import Row, verdict
from benchmarks._sizes import Sizes

# Nothing listens there, and nothing is sent: every case is done already.
_NO_SERVER = "http://127.0.0.1:9/v1"
# The resume over the full file may exceed the one over short records by this much at most.
_GROWTH_LIMIT = 16e6


def _full_fields() -> dict[str, Any]:
    """The reply fields of a deep-research record, as ``r1v4 batch`` writes them."""
    from r1v4 import AnswerDelta, AssistantMessage, ChatCompletion, Choice, parse_transcript
    from r1v4.report.records import reply_fields
    from r1v4.testing import deep_research_transcript

    question = "Who won the 2018 FIFA World Cup?"
    text = deep_research_transcript(question, "France beat Croatia 4-2.", image=None, results=2)
    events = parse_transcript(text)
    message = AssistantMessage(
        content="".join(e.text for e in events if isinstance(e, AnswerDelta)),
        reasoning="To answer I searched the web and read the best page.",
        events=events,
        raw_content=text,
    )
    reply = ChatCompletion(
        "chatcmpl-0123456789", "skywork/r1v4-lite", 0, [Choice(0, message, "stop")]
    )
    fields = reply_fields(reply)
    fields["usage"] = {"prompt_tokens": 812, "completion_tokens": 1544, "total_tokens": 2356}
    return fields


def _short_fields() -> dict[str, Any]:
    """A record of a one-word reply: no reasoning, no tool call."""
    return {"answer": "France.", "usage": {"total_tokens": 9}}


def write_files(folder: Path, n: int, full: bool) -> tuple[Path, Path]:
    """A cases file of ``n`` cases and a results file with one record per case."""
    from r1v4.cli.cases import load_cases

    cases_path = folder / "cases.jsonl"
    if not cases_path.exists():
        with open(cases_path, "w", encoding="utf-8") as f:
            for i in range(n):
                case = {"image": "", "question": f"Question {i}: who won?", "answer": f"A{i}"}
                f.write(json.dumps(case, ensure_ascii=False) + "\n")
    results_path = folder / ("full.jsonl" if full else "short.jsonl")
    fields = _full_fields() if full else _short_fields()
    with open(results_path, "w", encoding="utf-8") as f:
        for case in load_cases(cases_path):
            record = {
                "format": "r1v4.batch/1",
                "id": case.id,
                "line": case.line,
                "status": "ok",
                "case": case.data,
                "question": case.question,
                "images": [],
                "model": "skywork/r1v4-lite",
                "enable_search": True,
                **fields,
                "timings": {"started_at": "2026-01-01T00:00:00.000+00:00", "seconds": 41.2},
                "generated_images": [],
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return cases_path, results_path


def peak_rss(argv: list[str]) -> tuple[int, float, str]:
    """Run ``argv`` to its end: its peak RSS in bytes (Linux reports KiB), the seconds it took
    and its standard error; raises when it fails."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}:\n{stderr[-2000:]}")
    return usage.ru_maxrss * 1024, time.monotonic() - t0, stderr


def resume(cases: Path, results: Path, n: int) -> dict[str, Any]:
    script = str(Path(sys.executable).with_name("r1v4"))
    argv = [script, "batch", str(cases), "-o", str(results), "--base-url", _NO_SERVER]
    rss, seconds, stderr = peak_rss(argv)
    # Every case done: nothing ran, nothing was sent.
    expected = f"0 ok, 0 failed in this run, {n} already done"
    if expected not in stderr:
        raise RuntimeError(f"the resume did not skip every case:\n{stderr[-2000:]}")
    return {"rss_bytes": rss, "seconds": seconds, "results_bytes": results.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._batch_resume")
    parser.add_argument("--results", type=int, default=100_000)
    args = parser.parse_args(argv)
    n = args.results
    out: dict[str, Any] = {"cases": n}
    with tempfile.TemporaryDirectory(prefix="r1v4-bench-") as tmp:
        one = Path(tmp) / "one"
        one.mkdir()
        out["one"] = resume(*write_files(one, 1, full=True), 1)
        many = Path(tmp) / "many"
        many.mkdir()
        cases, short = write_files(many, n, full=False)
        out["cases_bytes"] = cases.stat().st_size
        out["short"] = resume(cases, short, n)
        short.unlink()
        _, full = write_files(many, n, full=True)
        out["full"] = resume(cases, full, n)
        held = "from r1v4.report.records import read_records; import sys; read_records(sys.argv[1])"
        rss, seconds, _ = peak_rss([sys.executable, "-c", held, str(full)])
        out["records_held"] = {"rss_bytes": rss, "seconds": seconds}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


def rows(s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = run_child(["benchmarks._batch_resume", "--results", str(s.resume_results)], timeout=900)
    n = raw["cases"]
    figure = f"12 batch resume over {n:,} results: peak RSS"
    one, short, full = raw["one"], raw["short"], raw["full"]
    # What the resume adds over the interpreter grows with the cases, the same for both files.
    growth = full["rss_bytes"] - short["rss_bytes"]

    def row(name: str, run: dict[str, Any], **extra: Any) -> Row:
        rss, size = run["rss_bytes"], run.get("results_bytes")
        text = f"{rss / 1e6:.0f} MB"
        if size:
            text += f" ({rss / size:.2f}× the file)"
        return Row(figure, name, rss / 1e6, "MB", text, **extra)

    size_short, size_full = short["results_bytes"] / 1e6, full["results_bytes"] / 1e6
    return [
        row("r1v4 batch, 1 case (interpreter and imports)", {"rss_bytes": one["rss_bytes"]}),
        row(f"r1v4 batch, short records ({size_short:.0f} MB file)", short),
        row(
            f"r1v4 batch, full records ({size_full:.0f} MB file)",
            full,
            target=f"≤ short + {_GROWTH_LIMIT / 1e6:.0f} MB",
            status=verdict(growth <= _GROWTH_LIMIT),
            note=(
                f"{growth / 1e6:+.1f} MB over the short records' resume; both "
                f"{(short['rss_bytes'] - one['rss_bytes']) / n:.0f} bytes a case over the "
                "interpreter (the cases as read, their ids and statuses)"
            ),
        ),
        row(
            "every full record held (read_records, the store before)",
            {**raw["records_held"], "results_bytes": full["results_bytes"]},
        ),
    ], raw


if __name__ == "__main__":
    sys.exit(main())
