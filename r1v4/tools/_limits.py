"""What one run of the model's code may use: time, memory, processes, files, output, images."""

from __future__ import annotations

from dataclasses import dataclass, fields

from r1v4._config import DEFAULT_MAX_IMAGE_BYTES
from r1v4._errors import InvalidRequestError

__all__ = ["CodeLimits"]


@dataclass(frozen=True, slots=True)
class CodeLimits:
    """The limits of one run of the ``code`` tool; reaching one ends the run with an
    observation that says which (the model reads it and can go on).

    Attributes:
        wall_seconds: real time from start to the end of the run; then the whole process group
            is killed.
        cpu_seconds: CPU time (``RLIMIT_CPU``); the kernel stops the code with ``SIGXCPU``.
        memory_bytes: address space (``RLIMIT_AS``): an allocation beyond it fails
            (``MemoryError``). Counts virtual memory, so leave room for the interpreter and
            numpy (about 150 MB with both loaded).
        processes: tasks of the sandbox's user (``RLIMIT_NPROC``), threads included. The
            bubblewrap sandbox also forbids new processes outright (see
            :class:`~r1v4.tools.BubblewrapSandbox`).
        file_bytes: the largest file the code may write (``RLIMIT_FSIZE``): a bigger write
            fails with ``OSError: File too large``.
        open_files: open file descriptors (``RLIMIT_NOFILE``).
        output_bytes: stdout and stderr together; the code is stopped when it writes more, and
            the observation keeps the first ``output_bytes``.
        images: the most images one run returns (the first saved, in order).
        image_bytes: the largest image a run returns; bigger ones are named in the observation
            and not returned.
    """

    wall_seconds: float = 30.0
    cpu_seconds: int = 20
    memory_bytes: int = 1024 * 1024 * 1024
    processes: int = 64
    file_bytes: int = 64 * 1024 * 1024
    open_files: int = 256
    output_bytes: int = 32 * 1024
    images: int = 8
    image_bytes: int = DEFAULT_MAX_IMAGE_BYTES

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidRequestError(
                    f"CodeLimits.{f.name} must be a positive number, got {value!r}"
                )
        if self.open_files < 16:
            # The interpreter itself needs a few descriptors before the code runs.
            raise InvalidRequestError(
                f"CodeLimits.open_files must be at least 16, got {self.open_files}"
            )
