"""Executors other than the sandbox: the explicit ``UnsandboxedExecutor`` (same launcher, same
observation, no isolation), and the protocol a container or hosted sandbox plugs into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pictures import gradient, png

from r1v4.tools import (
    CodeExecutor,
    CodeJob,
    CodeLimits,
    CodeOutcome,
    R1V4Tools,
    ToolImage,
    UnsandboxedExecutor,
    launcher_input,
    launcher_source,
)


def run(
    tools: R1V4Tools, code: str, images: list[bytes] | None = None
) -> tuple[str, dict[str, object]]:
    result = tools.run({"name": "code", "arguments": {"code": code}}, images or [])
    return result.status, json.loads(result.observation)


def test_unsandboxed_runs_the_same_launcher_in_a_fresh_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_strays: None
) -> None:
    monkeypatch.setenv("R1V4_TEST_SECRET", "sk-should-not-pass")
    monkeypatch.chdir(tmp_path)
    tools = R1V4Tools(executor=UnsandboxedExecutor(host_tmp=str(tmp_path)))
    code = f"import os\nprint(sorted(os.listdir('.')), os.getcwd() != {str(tmp_path)!r})\nprint(sorted(os.environ))\nimg.crop((0, 0, 3, 2))"
    status, obs = run(tools, code, [gradient((8, 8))])
    assert status == "ok"
    lines = str(obs["result"]).splitlines()
    assert lines[0] == "['image_0.png'] True"
    assert "R1V4_TEST_SECRET" not in lines[1]
    assert len(obs["images"]) == 1  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == []  # its working directory is removed


def test_unsandboxed_keeps_the_time_output_and_memory_limits(
    tmp_path: Path, no_strays: None
) -> None:
    limits = CodeLimits(wall_seconds=1, output_bytes=1000, memory_bytes=512 * 1024 * 1024)
    tools = R1V4Tools(executor=UnsandboxedExecutor(host_tmp=str(tmp_path)), limits=limits)
    assert run(tools, "import time\ntime.sleep(30)")[0] == "timeout"
    assert run(tools, "while True:\n    print('x' * 100)")[0] == "output_limit"
    status, obs = run(tools, "x = bytearray(4 * 1024 ** 3)")
    assert status == "error" and str(obs["result"]).endswith(
        "The code reached the memory limit of 512 MiB."
    )
    assert "trusted single-user machine" in (UnsandboxedExecutor.__doc__ or "")


def test_an_executor_of_ones_own_plugs_in() -> None:
    """A stand-in for a container or hosted sandbox: it receives the job and answers with an
    outcome; R1V4Tools makes the observation."""
    jobs: list[CodeJob] = []

    class Remote:
        def run(self, job: CodeJob) -> CodeOutcome:
            jobs.append(job)
            return CodeOutcome("done\n", "ok", (ToolImage.from_bytes("crop.png", png((2, 2))),), 0)

    assert isinstance(Remote(), CodeExecutor)
    tools = R1V4Tools(
        executor=Remote(), limits=CodeLimits(cpu_seconds=3), image_name="pic{number}.{ext}"
    )
    result = tools.run({"name": "code", "arguments": {"code": "img.crop(b)"}}, [png()])
    [job] = jobs
    assert (
        job.code,
        [f.name for f in job.files],
        job.files[0].data,
        job.limits.cpu_seconds,
        job.preload,
    ) == ("img.crop(b)", ["pic1.png"], png(), 3, True)
    assert json.loads(result.observation) == {
        "result": "done",
        "type": "code",
        "images": [result.images[0].data_uri],
    }
    # The launcher it may run is public: its source and its input for this job.
    assert "def main()" in launcher_source() and launcher_input(job)[:1] != b""


def test_an_executor_that_fails_is_an_observation() -> None:
    class Down:
        def run(self, job: CodeJob) -> CodeOutcome:
            raise OSError("the container host is unreachable")

    result = R1V4Tools(executor=Down()).run({"name": "code", "arguments": {"code": "1"}})
    assert result.status == "error"
    assert json.loads(result.observation) == {
        "result": "The code tool failed: OSError: the container host is unreachable",
        "type": "code",
    }


def test_bad_images_are_the_callers_error() -> None:
    from r1v4 import ImageError

    tools = R1V4Tools(executor=None)
    for bad in (b"not an image", "https://example.com/a.png", "data:image/png;base64,!!!", 42):
        with pytest.raises(ImageError):
            R1V4Tools(executor=UnsandboxedExecutor()).run(
                {"name": "code", "arguments": {"code": "1"}},
                [bad],  # type: ignore[list-item]
            )
    assert (
        tools.run({"name": "code", "arguments": {"code": "1"}}, [b"junk"]).status == "unavailable"
    )
