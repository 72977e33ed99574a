"""One launched process, sync or async: its input written, its output read up to a cap, its
wall time bounded, and its whole process group killed when it must stop.

The process starts in a session (and process group) of its own, so a kill reaches whatever it
started; under bubblewrap, killing bubblewrap also ends the sandbox's PID namespace
(``--die-with-parent``), and with it every process inside. Nothing here decides what the output
means: that is :func:`~r1v4.tools._outcome.outcome`'s job, shared by every executor.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # asyncio loads with the first async run, not with this module
    import asyncio

__all__ = ["Command", "Ended", "arun_command", "run_command"]

_READ = 65536
# After the process exited, how long a descendant still holding the output pipe may keep it
# open before reading stops (only an unsandboxed run can leave one behind).
_GRACE = 0.2


@dataclass(frozen=True, slots=True)
class Command:
    """What to start: ``argv`` with ``stdin`` written to it, in ``cwd``, with ``env``, keeping
    the descriptors ``pass_fds`` open in the child."""

    argv: tuple[str, ...]
    stdin: bytes = b""
    cwd: str | None = None
    env: Mapping[str, str] | None = None
    pass_fds: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Ended:
    """How the process ended: its output (stdout and stderr, at most the cap), its exit status
    (``-signal`` when a signal ended it; ``None`` when it was stopped here), and why it was
    stopped here, if it was."""

    output: bytes
    returncode: int | None
    stopped: Literal["timeout", "output_limit"] | None = None


class _Capture:
    """Output kept up to ``cap`` bytes; :meth:`feed` says when the cap was passed."""

    __slots__ = ("cap", "chunks", "size")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> bool:
        room = self.cap - self.size
        if room > 0:
            self.chunks.append(chunk[:room])
        self.size += len(chunk)
        return self.size > self.cap

    def value(self) -> bytes:
        return b"".join(self.chunks)


def _popen_kwargs(cmd: Command) -> dict[str, object]:
    return {
        "stdin": subprocess.PIPE,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
        "cwd": cmd.cwd,
        "env": dict(cmd.env) if cmd.env is not None else None,
        "pass_fds": cmd.pass_fds,
        "start_new_session": True,
    }


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # Windows: no process groups to kill, the process alone
            os.kill(pid, signal.SIGTERM)


# -- sync --------------------------------------------------------------------------------------


def run_command(cmd: Command, wall_seconds: float, output_cap: int) -> Ended:
    """Run ``cmd`` to its end, or stop it at ``wall_seconds`` or past ``output_cap`` bytes."""
    deadline = time.monotonic() + wall_seconds
    proc = subprocess.Popen(cmd.argv, **_popen_kwargs(cmd))  # type: ignore[call-overload]
    capture = _Capture(output_cap)
    stopped: Literal["timeout", "output_limit"] | None = None
    try:
        stopped = _pump(proc, cmd.stdin, capture, deadline)
        if stopped is None:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stopped = "timeout"
        if stopped is not None and proc.poll() is None:
            _kill_group(proc.pid)
        proc.wait()
    except BaseException:  # KeyboardInterrupt included: never leave the code running
        if proc.poll() is None:
            _kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    return Ended(capture.value(), None if stopped else proc.returncode, stopped)


def _pump(
    proc: subprocess.Popen[bytes], data: bytes, capture: _Capture, deadline: float
) -> Literal["timeout", "output_limit"] | None:
    """Write ``data`` to the process and read its output until EOF, the deadline or the cap."""
    assert proc.stdin is not None and proc.stdout is not None
    view = memoryview(data)
    written = 0
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if view:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        while any(key.fileobj is proc.stdout for key in sel.get_map().values()):
            now = time.monotonic()
            if now >= deadline:
                return "timeout"
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > _GRACE:
                return None  # a descendant holds the pipe; the process itself is done
            for key, _ in sel.select(min(deadline - now, _GRACE)):
                if key.fileobj is proc.stdin:
                    try:
                        written += os.write(proc.stdin.fileno(), view[written : written + _READ])
                    except (BrokenPipeError, ConnectionResetError):
                        written = len(view)  # it will not read: its output tells why
                    if written >= len(view):
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                chunk = os.read(proc.stdout.fileno(), _READ)
                if not chunk:
                    sel.unregister(proc.stdout)
                elif capture.feed(chunk):
                    return "output_limit"
    return None


# -- async -------------------------------------------------------------------------------------


async def arun_command(cmd: Command, wall_seconds: float, output_cap: int) -> Ended:
    """:func:`run_command` without blocking the event loop; cancelling it kills the process
    group (and waits for it to be gone) before the cancellation goes on."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(*cmd.argv, **_popen_kwargs(cmd))  # type: ignore[arg-type]
    capture = _Capture(output_cap)
    stopped: Literal["timeout", "output_limit"] | None
    try:
        try:
            stopped = await asyncio.wait_for(_apump(proc, cmd.stdin, capture), wall_seconds)
        except asyncio.TimeoutError:
            stopped = "timeout"
        if stopped is not None:
            await _astop(proc)
    except BaseException:  # cancelled: the code must not outlive the call
        await asyncio.shield(_astop(proc))
        raise
    return Ended(capture.value(), None if stopped else proc.returncode, stopped)


async def _apump(
    proc: asyncio.subprocess.Process, data: bytes, capture: _Capture
) -> Literal["output_limit"] | None:
    """Write ``data`` to the process, read its output until EOF or the cap, then wait for it to
    exit (its output may end first, when it closes its own): all of it within the wall time."""
    import asyncio

    assert proc.stdin is not None and proc.stdout is not None
    writer = asyncio.ensure_future(_awrite(proc.stdin, data))
    try:
        while True:
            chunk = await proc.stdout.read(_READ)
            if not chunk:
                break
            if capture.feed(chunk):
                return "output_limit"
        await writer
        await proc.wait()
        return None
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await writer


async def _awrite(stdin: asyncio.StreamWriter, data: bytes) -> None:
    try:
        if data:
            stdin.write(data)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # it will not read: its output tells why
    finally:
        stdin.close()


async def _astop(proc: asyncio.subprocess.Process) -> None:
    """Kill the group, wait for the process, and read its output pipe to the end (so the
    transport closes now, not when garbage is collected)."""
    import asyncio

    if proc.returncode is None:
        _kill_group(proc.pid)
    await proc.wait()
    if proc.stdin is not None:
        proc.stdin.close()
    if proc.stdout is not None:
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            await asyncio.wait_for(_drain(proc.stdout), _GRACE * 5)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(_READ):
        pass
