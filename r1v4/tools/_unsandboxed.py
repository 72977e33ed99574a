""":class:`UnsandboxedExecutor`: the model's code as a plain subprocess. Trusted machines only."""

from __future__ import annotations

import os
import sys

from r1v4.tools._executor import CodeJob, CodeOutcome
from r1v4.tools._launcher import PYTHON_FLAGS, launcher_input, launcher_source
from r1v4.tools._outcome import outcome
from r1v4.tools._process import Command, Ended, arun_command, run_command
from r1v4.tools._workspace import Workspace

__all__ = ["UnsandboxedExecutor"]


class UnsandboxedExecutor:
    """Runs the model's code as a plain subprocess of this Python, **with no sandbox**.

    For a trusted single-user machine only (a laptop where you read what the model runs),
    and for platforms bubblewrap does not run on (macOS; it needs POSIX pipes and process
    groups, so not Windows, where a container executor is the way). The code runs as you: it
    can read and write your files, reach the network, and start processes. What it still
    gets: a fresh working directory holding the conversation's images (the current directory,
    not ``HOME``), an empty environment (no API keys), and the limits of
    :class:`~r1v4.tools.CodeLimits` on wall time, output, CPU time, memory, file size and open
    files (those four where the platform has ``setrlimit``); not the process limit, which
    outside a user namespace would count all your processes.

    Args:
        python: the interpreter to run (default: this one); Pillow and numpy come from its
            own environment.
        host_tmp: where the working directories are made (default: the system's temporary
            directory).
    """

    __slots__ = ("host_tmp", "python")

    def __init__(self, *, python: str | None = None, host_tmp: str | None = None) -> None:
        self.python = python or sys.executable
        self.host_tmp = host_tmp

    def __repr__(self) -> str:
        return f"UnsandboxedExecutor(python={self.python!r})"

    def run(self, job: CodeJob) -> CodeOutcome:
        """Run ``job`` as a subprocess; the outcome says how it ended."""
        workspace = Workspace(job.files, self.host_tmp)
        try:
            ended = run_command(
                self._command(workspace, job), job.limits.wall_seconds, job.limits.output_bytes
            )
            return self._outcome(ended, workspace, job)
        finally:
            workspace.close()

    async def arun(self, job: CodeJob) -> CodeOutcome:
        """:meth:`run` without blocking the event loop; cancelling it kills the process group."""
        import asyncio

        workspace = await asyncio.to_thread(Workspace, job.files, self.host_tmp)
        try:
            ended = await arun_command(
                self._command(workspace, job), job.limits.wall_seconds, job.limits.output_bytes
            )
            return await asyncio.to_thread(self._outcome, ended, workspace, job)
        finally:
            await asyncio.shield(asyncio.to_thread(workspace.close))

    def _command(self, workspace: Workspace, job: CodeJob) -> Command:
        env = {"HOME": workspace.path, "TMPDIR": workspace.path, "LANG": "C.UTF-8"}
        if "SYSTEMROOT" in os.environ:  # Windows cannot start Python without it
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        # -I leaves site-packages out of sys.path only with -S; here site stays on, so the
        # interpreter's own packages (Pillow, numpy) are importable.
        flags = tuple(f for f in PYTHON_FLAGS if f != "-S")
        return Command(
            (self.python, *flags, "-c", launcher_source()),
            launcher_input(job, process_limit=False),
            cwd=workspace.path,
            env=env,
        )

    @staticmethod
    def _outcome(ended: Ended, workspace: Workspace, job: CodeJob) -> CodeOutcome:
        images, notes = workspace.collect(job.limits)
        return outcome(ended, images, notes)
