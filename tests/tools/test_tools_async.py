"""``R1V4Tools.arun``: the sandbox runs without blocking the event loop, and cancelling the call
kills the sandbox's processes (and removes its working directory) before the cancellation goes
on."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from pictures import gradient, png

from r1v4.tools import (
    BubblewrapSandbox,
    CodeFile,
    CodeJob,
    CodeLimits,
    R1V4Tools,
    UnsandboxedExecutor,
)


async def test_the_event_loop_keeps_running_while_code_runs(tools: R1V4Tools) -> None:
    ticks = 0
    running = True

    async def ticker() -> None:
        nonlocal ticks
        while running:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    code = "import time\ntime.sleep(1.5)\nimg.crop((0, 0, 2, 2))"
    result = await tools.arun({"name": "code", "arguments": {"code": code}}, [gradient((10, 10))])
    running = False
    await task
    assert result.status == "ok" and len(result.images) == 1
    # 1.5 s of sleep in the sandbox: a blocked loop would have ticked once or not at all.
    assert ticks >= 20


async def test_concurrent_runs_each_get_their_own_sandbox(tools: R1V4Tools) -> None:
    calls = [
        {"name": "code", "arguments": {"code": f"import os\nprint(os.listdir('.'), {n})"}}
        for n in range(3)
    ]
    results = await asyncio.gather(*(tools.arun(call, [gradient((4, 4))]) for call in calls))
    assert [json.loads(r.observation)["result"] for r in results] == [
        f"['image_0.png'] {n}" for n in range(3)
    ]


async def test_cancelling_a_run_kills_the_sandbox(tmp_path: Path) -> None:
    tools = R1V4Tools(executor=BubblewrapSandbox(host_tmp=str(tmp_path)))
    me = psutil.Process()
    # Earlier tests of the session may leave children running (a real llama.cpp server, a Jupyter
    # kernel): only the processes this run starts are the sandbox's.
    before = {p.pid for p in me.children(recursive=True)}
    task = asyncio.ensure_future(
        tools.arun({"name": "code", "arguments": {"code": "import time\ntime.sleep(60)"}})
    )
    started: list[psutil.Process] = []
    for _ in range(500):  # wait until the sandboxed Python runs (bwrap and its children)
        await asyncio.sleep(0.02)
        started = [p for p in me.children(recursive=True) if p.pid not in before]
        if any("python" in p.name() for p in started):
            break
    assert any("bwrap" in p.name() for p in started), [p.name() for p in started]
    assert any("python" in p.name() for p in started), [p.name() for p in started]
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the run was not cancelled")
    _, alive = psutil.wait_procs(started, timeout=5)
    assert alive == []
    assert list(tmp_path.iterdir()) == []  # the working directory is gone too


class FirstJobHeld(ThreadPoolExecutor):
    """Worker threads that start the first job they are given only once ``release`` is set
    (a worker thread cannot be stopped, and may finish its job at any time)."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.release = threading.Event()
        self.held = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self.held:
            return super().submit(fn, *args, **kwargs)
        self.held = True

        def held() -> Any:
            self.release.wait()
            return fn(*args, **kwargs)

        return super().submit(held)


@pytest.mark.parametrize("kind", ["bubblewrap", "unsandboxed"])
async def test_cancelling_a_run_while_its_directory_is_made_leaves_nothing_behind(
    kind: str, tmp_path: Path
) -> None:
    executor = (
        BubblewrapSandbox(host_tmp=str(tmp_path))
        if kind == "bubblewrap"
        else UnsandboxedExecutor(host_tmp=str(tmp_path))
    )
    workers = FirstJobHeld()
    asyncio.get_running_loop().set_default_executor(workers)
    fds = sorted(os.listdir("/proc/self/fd"))
    job = CodeJob("print(1)", files=(CodeFile("image_0.png", png()),))
    task = asyncio.ensure_future(executor.arun(job))
    await asyncio.sleep(0)  # the run has handed its first step (the directory) to a worker
    task.cancel()
    # Time for the cancellation to go through; the step still waits, to finish after it.
    await asyncio.wait([task], timeout=0.5)
    workers.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    workers.shutdown(wait=True)  # whatever a worker was still doing is done
    assert list(tmp_path.iterdir()) == []  # no working directory (with the image) left
    assert sorted(os.listdir("/proc/self/fd")) == fds  # nor the seccomp filter's pipe


async def test_a_timeout_in_async_is_an_observation(tools: R1V4Tools) -> None:
    slow = R1V4Tools(executor=tools.executor, limits=CodeLimits(wall_seconds=1))
    result = await slow.arun({"name": "code", "arguments": {"code": "while True:\n    pass"}})
    assert result.status == "timeout"
    assert json.loads(result.observation)["result"].startswith("TimeoutError: the code ran longer")


@pytest.mark.parametrize("kind", ["bubblewrap", "unsandboxed"])
async def test_code_that_closes_its_output_still_stops_at_the_wall_time(
    kind: str, sandbox: BubblewrapSandbox, no_strays: None
) -> None:
    executor = sandbox if kind == "bubblewrap" else UnsandboxedExecutor()
    tools = R1V4Tools(executor=executor, limits=CodeLimits(wall_seconds=1))
    # Its output ends (no one holds the pipe) long before it does: the run is still timed.
    code = "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(20)"
    result = await tools.arun({"name": "code", "arguments": {"code": code}})
    assert result.status == "timeout"
    assert tools.run({"name": "code", "arguments": {"code": code}}).status == "timeout"


async def test_an_executor_with_run_only_runs_in_a_thread(tmp_path: Path) -> None:
    class RunOnly:
        def __init__(self) -> None:
            self.inner = UnsandboxedExecutor(host_tmp=str(tmp_path))

        def run(self, job):  # type: ignore[no-untyped-def]
            return self.inner.run(job)

    tools = R1V4Tools(executor=RunOnly())
    result = await tools.arun(
        {"name": "code", "arguments": {"code": "print(img.size)"}}, [gradient((5, 3))]
    )
    assert json.loads(result.observation) == {"result": "(5, 3)", "type": "code"}
