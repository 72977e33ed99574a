"""``r1v4 batch`` on the datasets people have: the vendor's benchmark lines as they are, fields
it does not read carried through, any character inside a line, and a results file that cannot
be the cases file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import r1v4.cli.batch as batch_module
from cli.support import Faults, read_lines, write_cases
from r1v4.cli import main
from r1v4.testing import LocalR1V4Server, make_image


def batch(server: LocalR1V4Server, cases: Path | str, out: Path | str, *extra: str) -> int:
    return main(["batch", str(cases), "-o", str(out), "--base-url", server.hosted_base_url, *extra])


def test_the_vendors_benchmark_file_runs_as_is(
    server: LocalR1V4Server,
    key_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SkyworkAI/Skywork-R1V r1v4/benchmark/infer.py reads {"image", "question", "answer"}
    # lines (relative paths beside the file) and writes them back with the model's output.
    Faults().install(server)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "cats.png").write_bytes(make_image("PNG", (40, 30)))
    (tmp_path / "images" / "chart.jpg").write_bytes(make_image("JPEG", (64, 48)))
    lines = [
        {"image": "images/cats.png", "question": "图中有几只猫？", "answer": "2"},
        {"image": "images/chart.jpg", "question": "Which bar is tallest?", "answer": "B"},
        {"image": "", "question": "Who won the 2018 World Cup?", "answer": "France"},
    ]
    cases = write_cases(tmp_path / "benchmark.jsonl", lines)
    built: list[list[dict[str, Any]]] = []
    real_build = vars(batch_module)["build_request"]  # the CLI's reference, an implicit re-export

    def recording_build(**fields: Any) -> Any:
        built.append(fields["messages"])
        return real_build(**fields)

    monkeypatch.setattr(batch_module, "build_request", recording_build)
    out = tmp_path / "results.jsonl"
    assert batch(server, cases, out) == 0

    records = sorted(read_lines(out), key=lambda r: r["line"])
    assert [r["status"] for r in records] == ["ok"] * 3
    assert [r["case"] for r in records] == lines  # the answers carried untouched
    assert sorted(r["question"] for r in records) == sorted(line["question"] for line in lines)
    by_question = {r.last_user_text: r for r in server.requests}
    assert [i.describe() for i in by_question["图中有几只猫？"].images] == ["PNG 40x30"]
    assert [i.describe() for i in by_question["Which bar is tallest?"].images] == ["JPEG 64x48"]
    assert by_question["Who won the 2018 World Cup?"].images == []
    # The batch read the files itself: what it handed the client held no path.
    urls = [
        part["image_url"]["url"]
        for messages in built
        for message in messages
        for part in message["content"]
        if part["type"] == "image_url"
    ]
    assert len(urls) == 2 and all(u.startswith("data:image/") for u in urls)
    cats = next(r for r in records if r["case"]["answer"] == "2")
    assert cats["images"] == [str(tmp_path / "images" / "cats.png")]  # named, not inlined

    assert batch(server, cases, out) == 0  # a resume: nothing runs again
    assert server.request_count == 3


def test_any_character_inside_a_line_survives_the_run_and_the_resume(
    server: LocalR1V4Server, key_env: str, tmp_path: Path
) -> None:
    Faults().install(server)
    questions = ["line\u2028separator", "para\u2029graph", "next\x85line", "tab\there"]
    cases = write_cases(tmp_path / "c.jsonl", [{"question": q, "note": q} for q in questions])
    raw = cases.read_bytes()
    assert raw.count(b"\n") == 4 and "\u2028".encode() in raw  # written raw, as users write them
    out = tmp_path / "r.jsonl"
    assert batch(server, cases, out) == 0
    assert "\u2028".encode() in out.read_bytes()  # the results keep them raw too
    records = read_lines(out)
    assert sorted(r["question"] for r in records) == sorted(questions)
    assert all(r["case"] == {"question": r["question"], "note": r["question"]} for r in records)
    assert sorted(r.last_user_text for r in server.requests) == sorted(questions)
    assert batch(server, cases, out) == 0  # the resume reads those lines back whole
    assert server.request_count == 4 and len(read_lines(out)) == 4


def _aliases(cases: Path, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "sub").mkdir()
    os.symlink(cases, tmp_path / "link.jsonl")
    os.link(cases, tmp_path / "hard.jsonl")
    return {
        "same path": str(cases),
        "another spelling": str(tmp_path / "sub" / ".." / "c.jsonl"),
        "relative": "c.jsonl",
        "symbolic link": str(tmp_path / "link.jsonl"),
        "hard link": str(tmp_path / "hard.jsonl"),
    }


def test_results_naming_the_cases_file_are_refused_and_the_cases_stay_untouched(
    server: LocalR1V4Server,
    key_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Faults().install(server)
    cases = tmp_path / "c.jsonl"
    # No newline at the end: a results store opened on it would cut this line as torn.
    content = (json.dumps({"id": "a", "question": "q"}) + "\n" + '{"question": "r"}').encode()
    cases.write_bytes(content)
    monkeypatch.chdir(tmp_path)
    for how, out in _aliases(cases, tmp_path).items():
        for given in (cases, "c.jsonl"):
            assert batch(server, given, out) == 2, how
            err = capsys.readouterr().err
            assert f"r1v4 batch: error: -o {out} is the cases file {given}" in err, how
            assert "Traceback" not in err
    assert cases.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.jsonl",
        "hard.jsonl",
        "link.jsonl",
        "sub",
    ]
    assert server.request_count == 0

    # A file beside it is fine (and the cases file is still only read).
    assert batch(server, cases, tmp_path / "c.results.jsonl") == 0
    assert cases.read_bytes() == content and len(read_lines(tmp_path / "c.results.jsonl")) == 2
