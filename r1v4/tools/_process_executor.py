""":class:`ProcessExecutor`: the base of the executors that run the launcher as a process of
this machine (:class:`~r1v4.tools.BubblewrapSandbox`, :class:`~r1v4.tools.UnsandboxedExecutor`).

It owns the steps of one run, written once for :meth:`~ProcessExecutor.run` and
:meth:`~ProcessExecutor.arun`:

1. a fresh working directory holding the job's files (:class:`~r1v4.tools._workspace.Workspace`),
   and the command that runs the launcher in it, with whatever the command holds open while it
   runs (the subclass's :meth:`~ProcessExecutor._command`);
2. the command run within the job's wall time and output cap, its process group killed when it
   must stop (:mod:`r1v4.tools._process`);
3. the images the code saved read back, and the outcome (:func:`~r1v4.tools._outcome.outcome`);
4. what the command held released and the directory removed, however the run ended.

The async path takes the file-system steps (1, 3 and 4) in a worker thread, each to its end
(cancelled, the run waits for the step, then cleans up), and runs the process on the event loop.
A subclass says only how the launcher starts and how its process reports a signal; its settings
and the checks it makes when built are its own.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any, ClassVar, TypeVar

from r1v4.tools._executor import CodeJob, CodeOutcome
from r1v4.tools._outcome import outcome
from r1v4.tools._process import Command, Ended, arun_command, run_command
from r1v4.tools._workspace import Workspace

__all__ = ["ProcessExecutor"]

_T = TypeVar("_T")


class ProcessExecutor(ABC):
    """Runs each job as a child process (see :meth:`_command`) in a fresh working directory
    made under ``host_tmp``, which it removes afterwards."""

    __slots__ = ()

    host_tmp: str | None
    """Where on the host the working directories are made (``None``: the system's temporary
    directory); set by the subclass."""

    _shell_signals: ClassVar[bool] = False
    """Whether the process reports a signal as ``128 + signal`` (as a shell, and bubblewrap,
    do) rather than as a negative status."""

    def run(self, job: CodeJob) -> CodeOutcome:
        """Run ``job``; the outcome says how it ended (never raises for what the code did)."""
        with ExitStack() as held:
            workspace, command = self._start(job, held)
            ended = run_command(command, job.limits.wall_seconds, job.limits.output_bytes)
            return self._finish(ended, workspace, job)

    async def arun(self, job: CodeJob) -> CodeOutcome:
        """:meth:`run` without blocking the event loop; cancelling it kills the process group
        (under bubblewrap, the whole sandbox) and removes the working directory before the
        cancellation goes on."""
        held = ExitStack()
        try:
            workspace, command = await _in_thread(self._start, job, held)
            ended = await arun_command(command, job.limits.wall_seconds, job.limits.output_bytes)
            return await _in_thread(self._finish, ended, workspace, job)
        finally:
            await _in_thread(held.close)

    @abstractmethod
    def _command(self, host_dir: str, job: CodeJob) -> AbstractContextManager[Command]:
        """The command that runs the launcher for ``job`` in ``host_dir`` (the working
        directory on the host), and what it holds open until the run ends (descriptors it
        passes to the process)."""

    def _start(self, job: CodeJob, held: ExitStack) -> tuple[Workspace, Command]:
        """Make the working directory and the command; ``held`` releases both."""
        workspace = Workspace(job.files, self.host_tmp)
        held.callback(workspace.close)
        return workspace, held.enter_context(self._command(workspace.path, job))

    def _finish(self, ended: Ended, workspace: Workspace, job: CodeJob) -> CodeOutcome:
        images, notes = workspace.collect(job.limits)
        return outcome(ended, images, notes, shell_signals=self._shell_signals)


async def _in_thread(func: Callable[..., _T], *args: Any) -> _T:
    """``func(*args)`` in a worker thread, to its end even when the caller is cancelled.

    A thread cannot be stopped: a cancelled caller that went on would clean up while the step
    still runs (and a directory made after the clean-up would stay), so the cancellation waits
    for the step, then goes on.
    """
    import asyncio

    step = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        while not step.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([step])
        if not step.cancelled():
            step.exception()  # seen: what the caller gets is its cancellation
        raise
