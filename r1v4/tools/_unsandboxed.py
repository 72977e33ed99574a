""":class:`UnsandboxedExecutor`: the model's code as a plain subprocess. Trusted machines only."""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, nullcontext

from r1v4.tools._executor import CodeJob
from r1v4.tools._launcher import PYTHON_FLAGS, launcher_input, launcher_source
from r1v4.tools._process import Command
from r1v4.tools._process_executor import ProcessExecutor

__all__ = ["UnsandboxedExecutor"]


class UnsandboxedExecutor(ProcessExecutor):
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

    def _command(self, host_dir: str, job: CodeJob) -> AbstractContextManager[Command]:
        env = {"HOME": host_dir, "TMPDIR": host_dir, "LANG": "C.UTF-8"}
        if "SYSTEMROOT" in os.environ:  # Windows cannot start Python without it
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        # -I leaves site-packages out of sys.path only with -S; here site stays on, so the
        # interpreter's own packages (Pillow, numpy) are importable.
        flags = tuple(f for f in PYTHON_FLAGS if f != "-S")
        return nullcontext(
            Command(
                (self.python, *flags, "-c", launcher_source()),
                launcher_input(job, process_limit=False),
                cwd=host_dir,
                env=env,
            )
        )
