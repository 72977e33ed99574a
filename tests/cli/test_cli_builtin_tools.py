"""``r1v4 batch --builtin-tools``: a batch against a self-hosted server (the local server's
self-hosted mode, which stops at each of R1V4's tool calls and refuses a follow-up without the
observation) runs R1V4's code in the sandbox and records the whole trajectory, as from the
hosted API. Without the flag the record says the call went unanswered."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from cli.support import read_lines, write_cases
from r1v4.cli import main
from r1v4.testing import CROP_CODE, LocalR1V4Server, make_image


@pytest.fixture
def photo_case(tmp_path: Path) -> Path:
    (tmp_path / "photo.png").write_bytes(make_image("PNG", (80, 60), (10, 120, 230)))
    return write_cases(
        tmp_path / "cases.jsonl",
        [{"id": "crop", "image": "photo.png", "question": "What is in the middle?"}],
    )


@pytest.fixture
def self_hosted_env(monkeypatch: pytest.MonkeyPatch, r1v4_api_key: str) -> None:
    monkeypatch.setenv("SKYWORK_API_KEY", r1v4_api_key)
    monkeypatch.delenv("SKYWORK_BASE_URL", raising=False)


def batch(server: LocalR1V4Server, cases: Path, out: Path, *flags: str) -> int:
    return main(["batch", str(cases), "-o", str(out), "--base-url", server.base_url, *flags])


def test_the_sandbox_runs_the_crop_and_the_record_is_the_whole_trajectory(
    self_hosted_server: LocalR1V4Server,
    self_hosted_env: None,
    photo_case: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "results" / "r.jsonl"
    assert batch(self_hosted_server, photo_case, out, "--builtin-tools") == 0

    # The server got the follow-up it requires: the round, the observation and the crop.
    followups = [r.followup for r in self_hosted_server.requests if r.followup is not None]
    assert followups and all(f.ok for f in followups), [f.error for f in followups]
    (record,) = read_lines(out)
    assert record["status"] == "ok" and record["answer"] and record["builtin_tools"] is True
    assert record["transcript_issues"] == [] and record["finish_reason"] == "stop"
    # One request per round, their usage summed; a round per call, as the vendor counts them.
    assert len(self_hosted_server.requests) == len(followups) + 1
    assert record["usage"]["prompt_tokens"] > 0
    assert record["stats"]["rounds"] == len(followups)
    step = record["tool_trace"][0]
    assert step["name"] == "code" and step["args"] == {"code": CROP_CODE}
    # The crop the sandbox made from the case's photo is a file beside the results.
    entry = record["generated_images"][0]
    with Image.open(io.BytesIO((out.parent / entry["path"]).read_bytes())) as crop:
        assert crop.size == (40, 30)  # CROP_CODE keeps the middle half of 80x60
    assert (entry["width"], entry["height"]) == (40, 30)
    assert len(record["tool_trace"]) == len(followups)
    # The report says where the calls ran.
    html = tmp_path / "report.html"
    assert main(["report", str(out), "-o", str(html)]) == 0
    assert "Tool calls run by the client (1)" in html.read_text("utf-8")


def test_without_the_flag_the_call_is_recorded_as_unanswered(
    self_hosted_server: LocalR1V4Server,
    self_hosted_env: None,
    photo_case: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "r.jsonl"
    assert batch(self_hosted_server, photo_case, out) == 0
    (record,) = read_lines(out)
    assert record["builtin_tools"] is False
    assert [issue["kind"] for issue in record["transcript_issues"]] == ["unanswered_tool_call"]
    assert record["tool_trace"] == [] and record["generated_images"] == []
    assert len(self_hosted_server.requests) == 1  # no follow-up was sent


def test_without_a_sandbox_the_run_stops_before_any_case(
    self_hosted_server: LocalR1V4Server,
    self_hosted_env: None,
    photo_case: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-bwrap-here"))
    out = tmp_path / "r.jsonl"
    assert batch(self_hosted_server, photo_case, out, "--builtin-tools") == 2
    err = capsys.readouterr().err
    assert "bubblewrap" in err.lower() and "or run without --builtin-tools" in err
    assert self_hosted_server.requests == [] and not out.exists()


@pytest.mark.parametrize("base_url", [[], ["--base-url", "https://api.skyworkmodel.ai/api/v1"]])
def test_the_hosted_api_runs_its_own_tools(
    key_env: str,
    photo_case: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    base_url: list[str],
) -> None:
    """Against the hosted API (the default, or named) the flag is refused before any request
    or file: a call the hosted harness left unanswered is its fault to report, not code to run
    here and a second paid request to send."""
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(photo_case), "-o", str(out), *base_url, "--builtin-tools"]) == 2
    err = capsys.readouterr().err
    assert "the hosted API (api.skyworkmodel.ai) runs R1V4's tools itself" in err
    assert not out.exists()
