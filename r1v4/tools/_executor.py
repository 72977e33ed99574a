"""The executor protocol: what runs the model's code, and what a run gives back.

:class:`~r1v4.tools.BubblewrapSandbox` is the executor r1v4 ships for Linux (and
:class:`~r1v4.tools.UnsandboxedExecutor` the one for a trusted single-user machine). Anything
with a ``run(job) -> CodeOutcome`` method is an executor too: a container, a hosted sandbox, a
remote worker. An executor that also has ``async def arun(job) -> CodeOutcome`` is awaited by
async calls (and should stop the code when that coroutine is cancelled); one without is run in a
worker thread.

An executor runs :attr:`CodeJob.code` as Python in a fresh working directory holding
:attr:`CodeJob.files`, within :attr:`CodeJob.limits`, and returns what it printed and the images
it saved. The program r1v4's own executors run (limits, the preloaded images, notebook-style
display of the last expression) is :func:`~r1v4.tools.launcher_source` with
:func:`~r1v4.tools.launcher_input` on its standard input; another executor may run it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from r1v4.tools._limits import CodeLimits
from r1v4.tools._results import ToolImage

__all__ = ["AsyncCodeExecutor", "CodeExecutor", "CodeFile", "CodeJob", "CodeOutcome", "RunStatus"]

RunStatus: TypeAlias = Literal["ok", "error", "timeout", "cpu_limit", "output_limit", "killed"]
"""How a run of code ended (see :data:`~r1v4.tools.ToolStatus`)."""


@dataclass(frozen=True, slots=True)
class CodeFile:
    """A file put in the code's working directory before it runs."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class CodeJob:
    """One run of the model's code.

    Attributes:
        code: the Python source the model wrote.
        files: the conversation's images, under the names of ``R1V4Tools(image_name=...)``.
        limits: what the run may use.
        preload: whether the images are opened with Pillow before the code runs (as ``img``,
            the first, and ``images``, all of them); their names are ``image_paths`` either way.
    """

    code: str
    files: tuple[CodeFile, ...] = ()
    limits: CodeLimits = field(default_factory=CodeLimits)
    preload: bool = True


@dataclass(frozen=True, slots=True)
class CodeOutcome:
    """What a run of code gave back.

    Attributes:
        output: stdout and stderr as the code wrote them (one stream, in order), at most
            ``limits.output_bytes`` of it.
        status: how the run ended.
        images: the images the code saved in its working directory, in the order it saved
            them (at most ``limits.images``).
        exit_code: the process's exit status, or ``-signal`` when a signal ended it; ``None``
            when the executor does not know (or the process was stopped by the executor).
        notes: what else the model should be told, one line each (images not returned, and
            why).
    """

    output: str
    status: RunStatus = "ok"
    images: tuple[ToolImage, ...] = ()
    exit_code: int | None = None
    notes: tuple[str, ...] = ()


@runtime_checkable
class CodeExecutor(Protocol):
    """Runs one :class:`CodeJob`; never raises for what the code did (an exception in the
    code, a limit reached), only when the executor itself cannot work."""

    def run(self, job: CodeJob) -> CodeOutcome:
        """Run ``job`` and return its outcome."""
        ...


@runtime_checkable
class AsyncCodeExecutor(Protocol):
    """An executor that also runs jobs without blocking the event loop."""

    async def arun(self, job: CodeJob) -> CodeOutcome:
        """Run ``job`` and return its outcome; cancelling this stops the code."""
        ...
