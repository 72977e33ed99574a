"""``r1v4 batch`` over loopback: what a record holds, resuming, --retry-failed, and the key."""

from __future__ import annotations

import base64
import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from attempts import ANSWERED, HELD, TRAJECTORY, cut, whole

from cli.support import GENERATED, KEY, Faults, read_lines, write_cases
from r1v4 import DEFAULT_BASE_URL
from r1v4.cli import main
from r1v4.cli.batch import DEFAULT_CONCURRENCY, BatchOptions
from r1v4.cli.progress import make_progress
from r1v4.testing import LocalR1V4Server, Reply, answer, make_image


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
    # A wrong key: the run stops at the server's AuthenticationError, whose text (shown, and
    # in no file) must not hold it either.
    monkeypatch.setenv("SKYWORK_API_KEY", KEY + "-wrong")
    wrong = tmp_path / "wrong.jsonl"
    assert batch(server, dataset, wrong) == 2
    refused = capsys.readouterr().err
    assert "AuthenticationError" in refused
    assert all(r["id"] == "bad-image" for r in read_lines(wrong))  # refusals are no records
    assert main(["report", str(out), str(wrong), "-o", str(tmp_path / "report.html")]) == 0
    captured = capsys.readouterr()
    shown = refused + captured.out + captured.err
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 5  # results, images, report, the cases
    for secret in (KEY, KEY + "-wrong", KEY[-12:]):
        assert secret not in shown
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
    with make_progress(2, 0, plain) as progress:
        progress.record(rec)
        progress.record({**rec, "id": "y", "status": "ok", "error": None})
    assert "[1/2] x FAILED ServerError: boom" in plain.getvalue()
    assert "[2/2] y ok" in plain.getvalue()
    assert (progress.ok, progress.failed, progress.finished, progress.tokens) == (1, 1, 2, 10)
    terminal = Terminal()
    with make_progress(1, 0, terminal) as progress:
        progress.record(rec)
    shown = terminal.getvalue()
    assert "1/1" in shown and "failed=1" in shown and "tokens=5" in shown
    assert "x failed: ServerError: boom" in shown


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Name resolution of any host but loopback fails (and is recorded), so a test of the hosted
    default can never reach it."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("localhost", "::1") and not name.startswith("127."):
            asked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not resolved in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_no_key_for_the_hosted_api_refuses_to_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    loopback_only: list[str],
) -> None:
    monkeypatch.delenv("SKYWORK_API_KEY", raising=False)
    monkeypatch.delenv("SKYWORK_BASE_URL", raising=False)
    cases = write_cases(tmp_path / "c.jsonl", [{"question": f"q{i}"} for i in range(3)])
    out = tmp_path / "r.jsonl"
    for extra in ([], ["--base-url", DEFAULT_BASE_URL]):
        assert main(["batch", str(cases), "-o", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert "r1v4 batch: error:" in err and "SKYWORK_API_KEY is not set" in err
        assert "Traceback" not in err
    assert loopback_only == []  # nothing was sent, not even a name looked up
    assert not out.exists()


def test_a_server_without_keys_needs_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYWORK_API_KEY", raising=False)
    with LocalR1V4Server(api_key=None, scenario="agent") as open_server:  # no auth
        cases = write_cases(tmp_path / "c.jsonl", [{"question": "q"}])
        out = tmp_path / "r.jsonl"
        assert main(["batch", str(cases), "-o", str(out), "--base-url", open_server.base_url]) == 0
    assert [r["status"] for r in read_lines(out)] == ["ok"]


def test_a_wrong_key_stops_the_run_at_the_first_refusal_and_a_rerun_does_every_case(
    server: LocalR1V4Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Faults().install(server)
    cases = write_cases(tmp_path / "c.jsonl", [{"question": f"q{i}"} for i in range(10)])
    out = tmp_path / "r.jsonl"
    monkeypatch.setenv("SKYWORK_API_KEY", KEY + "-wrong")
    assert batch(server, cases, out, "--concurrency", "1") == 2
    err = capsys.readouterr().err
    assert "AuthenticationError" in err and "SKYWORK_API_KEY" in err
    assert "10 case(s) not run" in err and "run the same command again" in err
    assert server.request_count == 1  # stopped at the first refusal
    assert read_lines(out) == []  # a refused key is no per-case failure

    monkeypatch.setenv("SKYWORK_API_KEY", KEY)
    assert batch(server, cases, out, "--concurrency", "1") == 0
    assert sorted(r["question"] for r in read_lines(out)) == sorted(f"q{i}" for i in range(10))
    assert server.request_count == 11


def test_permission_denied_stops_the_run_too_and_keeps_what_was_done(
    server: LocalR1V4Server, key_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = Faults()
    server.enqueue(faults, Reply(status=403, body={"error": {"message": "model not allowed"}}))
    faults.install(server)
    cases = write_cases(tmp_path / "c.jsonl", [{"question": f"q{i}"} for i in range(6)])
    out = tmp_path / "r.jsonl"
    assert batch(server, cases, out, "--concurrency", "1") == 2
    err = capsys.readouterr().err
    assert "PermissionDeniedError" in err and "model not allowed" in err
    assert "5 case(s) not run" in err
    assert [r["status"] for r in read_lines(out)] == ["ok"]
    assert server.request_count == 2
    assert batch(server, cases, out, "--concurrency", "1") == 0
    assert len(read_lines(out)) == 6 and server.request_count == 7  # q1 to q5 ran again


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--timeout", "0", "a number of seconds above 0"),
        ("--timeout", "-5", "a number of seconds above 0"),
        ("--timeout", "nan", "a number of seconds above 0"),
        ("--timeout", "inf", "a number of seconds above 0"),
        ("--timeout", "soon", "a number"),
        ("--max-retries", "-1", "at least 0"),
        ("--concurrency", "0", "at least 1"),
        ("--concurrency", "two", "a whole number"),
    ],
)
def test_out_of_range_options_are_argparse_errors(
    server: LocalR1V4Server,
    key_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    message: str,
) -> None:
    cases = write_cases(tmp_path / "c.jsonl", [{"question": "q"}])
    with pytest.raises(SystemExit) as info:
        batch(server, cases, tmp_path / "r.jsonl", option, value)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"r1v4 batch: error: argument {option}: must be {message}, not {value!r}" in err, err
    assert server.request_count == 0
    if value not in ("soon", "two"):  # the same range check for BatchOptions
        number = float(value) if option == "--timeout" else int(value)
        with pytest.raises(ValueError, match=f"{option} must be {message}, not {number!r}"):
            field: dict[str, Any] = {option[2:].replace("-", "_"): number}
            BatchOptions(cases, tmp_path / "r.jsonl", **field)


HOLD = 0.4  # seconds the server holds back the first output: a lower bound, never an upper one


@pytest.mark.parametrize(
    "replies",
    [
        # The role chunk at once, the output after a stall.
        [Reply(content=answer("late"), reasoning="thinking", stall_after=1, stall_seconds=HOLD)],
        # A first attempt that sends the role chunk and dies; the retry starts late.
        [
            Reply(content=answer("lost"), drop_after=1),
            Reply(content=answer("late"), first_byte_delay=HOLD),
        ],
    ],
    ids=["role-chunk-first", "failed-attempt-first"],
)
def test_first_token_is_the_first_output_not_the_first_chunk(
    server: LocalR1V4Server, key_env: str, tmp_path: Path, replies: list[Reply]
) -> None:
    server.enqueue(*replies)
    cases = write_cases(tmp_path / "c.jsonl", [{"question": "q"}])
    out = tmp_path / "r.jsonl"
    assert batch(server, cases, out) == 0
    (record,) = read_lines(out)
    assert record["answer"] == "late" and server.request_count == len(replies)
    timings = record["timings"]
    assert timings["seconds"] >= timings["first_token_seconds"] >= HOLD


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("point", list(HELD))
def test_a_retried_case_records_the_attempt_that_answered(
    server: LocalR1V4Server, key_env: str, tmp_path: Path, point: str
) -> None:
    """A case whose stream dropped before it delivered anything is retried; its line is the
    attempt that answered, whole, and nothing of the one that failed."""
    server.enqueue(cut(HELD[point]), whole())
    cases = write_cases(tmp_path / "c.jsonl", [{"question": "q"}])
    assert batch(server, cases, tmp_path / "r.jsonl") == 0
    (record,) = read_lines(tmp_path / "r.jsonl")
    assert server.request_count == 2
    assert record["response_id"] == ANSWERED and record["raw_content"] == TRAJECTORY

    server.reset()
    server.enqueue(whole())
    assert batch(server, cases, tmp_path / "alone.jsonl") == 0
    (alone,) = read_lines(tmp_path / "alone.jsonl")
    del record["timings"], alone["timings"]
    assert record == alone  # usage, trace, stats and all


def test_timeout_and_retries_default_to_the_cores_defaults() -> None:
    import r1v4
    from r1v4.cli import _parser

    args = _parser().parse_args(["batch", "c.jsonl", "-o", "r.jsonl"])
    options = BatchOptions(Path(), Path())
    settings = r1v4.ClientSettings()
    assert args.timeout == options.timeout == r1v4.DEFAULT_TIMEOUT == settings.timeout.read == 600
    assert args.max_retries == options.max_retries == r1v4.DEFAULT_MAX_RETRIES
    assert settings.retry.max_retries == r1v4.DEFAULT_MAX_RETRIES == 2
