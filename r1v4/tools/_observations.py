"""The ``code`` observation, and the words for what stopped a run.

``{"result": <output>, "type": "code"}`` is the shape of the published ``parse_utils.py``; the
images the code saved follow as ``"images": [data URIs]`` (the local server's hosted replies
carry them the same way, and a transcript parser finds them anywhere in an observation). What
stopped a run, and images not returned, are told in ``result`` after the output, in the words of
a Python error where there is one, since that is what the model has learnt to read.
"""

from __future__ import annotations

import signal
from typing import Any

from r1v4.tools._executor import CodeOutcome
from r1v4.tools._limits import CodeLimits

__all__ = ["code_observation", "failure"]


def failure(name: str, message: str) -> dict[str, Any]:
    """The observation of a call that did not run: no backend, bad arguments, a backend that
    raised."""
    return {"result": message, "type": name}


def code_observation(result: CodeOutcome, limits: CodeLimits) -> dict[str, Any]:
    """The ``code`` observation of a run."""
    # print("hello") gives "hello", as in the published transcripts: no trailing newline.
    text = result.output.rstrip("\n")
    said = _ending(result, limits)
    lines = ([said] if said else []) + list(result.notes)
    if lines:
        text = "\n".join([text, *lines] if text else lines)
    observation: dict[str, Any] = {"result": text, "type": "code"}
    if result.images:
        observation["images"] = [image.data_uri for image in result.images]
    return observation


def _ending(result: CodeOutcome, limits: CodeLimits) -> str | None:
    status = result.status
    if status == "timeout":
        return (
            f"TimeoutError: the code ran longer than the wall-time limit of "
            f"{limits.wall_seconds:g} s and was stopped."
        )
    if status == "cpu_limit":
        return (
            f"The code used more than the CPU-time limit of {limits.cpu_seconds:g} s and was "
            "stopped."
        )
    if status == "output_limit":
        return (
            f"[output cut: the code wrote more than the limit of {limits.output_bytes:,} bytes "
            "and was stopped]"
        )
    if status == "killed":
        name = _signal_name(result.exit_code)
        return (
            f"The code was killed by {name} (the sandbox's memory limit of "
            f"{limits.memory_bytes // (1024 * 1024):,} MiB, or a crash in native code)."
        )
    if status == "error":
        last = result.output.rstrip().rsplit("\n", 1)[-1]
        if "MemoryError" in last.split(":", 1)[0]:  # numpy's _ArrayMemoryError too
            return (
                f"The code reached the memory limit of "
                f"{limits.memory_bytes // (1024 * 1024):,} MiB."
            )
        if result.exit_code not in (None, 1):
            return f"The code exited with status {result.exit_code}."
    return None


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return "a signal"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"
