"""The launcher: the program that runs a job's code (see ``_sandbox_main``) and its input."""

from __future__ import annotations

import functools
import marshal
from collections.abc import Sequence
from pathlib import Path

from r1v4.tools._executor import CodeJob

__all__ = ["PYTHON_FLAGS", "launcher_input", "launcher_source"]

PYTHON_FLAGS = ("-I", "-S", "-B", "-u", "-X", "utf8")
"""How the launcher's interpreter starts: isolated (no ``PYTHON*`` variables, no user or
``site`` directories, no current directory on ``sys.path``), no bytecode written, unbuffered
output (so stdout and stderr reach the one pipe in the order written), UTF-8 I/O."""


@functools.cache
def launcher_source() -> str:
    """The launcher's Python source, for ``python <PYTHON_FLAGS> -c <source>``."""
    return Path(__file__).with_name("_sandbox_main.py").read_text(encoding="utf-8")


def launcher_input(
    job: CodeJob, *, sys_path: Sequence[str] = (), process_limit: bool = True
) -> bytes:
    """The launcher's standard input for ``job``.

    Args:
        job: the run.
        sys_path: directories put first on the code's ``sys.path`` (where Pillow and numpy are).
        process_limit: whether to set ``RLIMIT_NPROC``. Outside a user namespace that limit
            counts every process of the user, not the code's alone, so an executor that runs
            the code as the caller's own user leaves it unset.
    """
    limits = job.limits
    # Version 4 of marshal's format: read by every Python 3.4 and later.
    return marshal.dumps(
        {
            "code": job.code,
            "images": [f.name for f in job.files],
            "preload": job.preload,
            "path": list(sys_path),
            "limits": {
                "AS": limits.memory_bytes,
                "CPU": max(1, round(limits.cpu_seconds)),
                "NPROC": limits.processes if process_limit else None,
                "FSIZE": limits.file_bytes,
                "NOFILE": limits.open_files,
                "CORE": 0,
            },
        },
        4,
    )
