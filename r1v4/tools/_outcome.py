"""How a launched run ended, in the terms of :class:`~r1v4.tools.CodeOutcome`: one reading of
exit statuses and signals for every executor that runs the launcher as a process."""

from __future__ import annotations

import signal

from r1v4.tools._executor import CodeOutcome, RunStatus
from r1v4.tools._process import Ended
from r1v4.tools._results import ToolImage

__all__ = ["outcome"]

# bubblewrap exits with 128 + the signal that ended the code; subprocess reports -signal.
_SIGNAL_BASE = 128


def outcome(
    ended: Ended,
    images: tuple[ToolImage, ...] = (),
    notes: tuple[str, ...] = (),
    *,
    shell_signals: bool = False,
) -> CodeOutcome:
    """The outcome of a run of the launcher, from how its process ended.

    ``shell_signals``: the process reports a signal as ``128 + signal`` (bubblewrap does, as a
    shell does), not as a negative status.
    """
    output = ended.output.decode("utf-8", errors="replace")
    if ended.stopped is not None:
        return CodeOutcome(output, ended.stopped, images, None, notes)
    code = ended.returncode
    sig = None
    if code is not None and code < 0:
        sig = -code
    elif shell_signals and code is not None and code > _SIGNAL_BASE:
        sig = code - _SIGNAL_BASE
    status: RunStatus = "ok" if code == 0 else "error"
    if sig is not None:
        status = "cpu_limit" if sig == signal.SIGXCPU else "killed"
        code = -sig
    return CodeOutcome(output, status, images, code, notes)
