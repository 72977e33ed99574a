"""The seccomp filter that keeps sandboxed code to one process: threads yes, new processes no.

Why a filter and not only ``RLIMIT_NPROC``: the kernel never applies that limit to processes
whose real user is root outside every namespace (``INIT_USER``), and bubblewrap run by root maps
the sandbox's uid onto root's. A fork bomb would then be stopped by nothing but the wall-time
limit. This classic-BPF program (bubblewrap's ``--seccomp FD`` takes it as is) answers ``fork``,
``vfork`` and every ``clone`` without ``CLONE_THREAD`` with ``EPERM``, and ``clone3`` (whose flags
a filter cannot read) with ``ENOSYS``, so the C library falls back to ``clone`` for threads.
A system call of another architecture's ABI (x32, or i386 through ``int 0x80``) kills the process:
it would bypass the table of numbers below.

Only x86-64 and AArch64 are covered; elsewhere :func:`no_new_processes` gives ``None`` and the
sandbox relies on ``RLIMIT_NPROC`` alone (see :class:`~r1v4.tools.BubblewrapSandbox`).
"""

from __future__ import annotations

import platform
import struct

__all__ = ["no_new_processes"]

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_EPERM = 1
_ENOSYS = 38
_CLONE_THREAD = 0x00010000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
_NR, _ARCH, _ARG0_LOW = 0, 4, 16  # args[0]'s low half: both architectures are little-endian

# (AUDIT_ARCH_*, clone, clone3, the numbers that always make a process, x32 bit or None)
_ARCHES = {
    "x86_64": (0xC000003E, 56, 435, (57, 58), 0x40000000),  # fork 57, vfork 58
    "aarch64": (0xC00000B7, 220, 435, (), None),  # no fork or vfork system calls
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def no_new_processes(machine: str | None = None) -> bytes | None:
    """The filter for ``machine`` (default: this one), or ``None`` where none is written."""
    machine = (machine or platform.machine()).lower()
    spec = _ARCHES.get(_ALIASES.get(machine, machine))
    if spec is None:
        return None
    arch, clone, clone3, forks, x32 = spec
    # Each step: (opcode, k, label if true, label if false); labels are resolved to the
    # relative jumps BPF wants. None means "the next instruction".
    steps: list[tuple[int, int, str | None, str | None]] = [
        (_LD_W_ABS, _ARCH, None, None),
        (_JEQ_K, arch, None, "kill"),
        (_LD_W_ABS, _NR, None, None),
    ]
    if x32 is not None:
        steps.append((_JGE_K, x32, "kill", None))
    steps.append((_JEQ_K, clone3, "enosys", None))
    steps += [(_JEQ_K, nr, "eperm", None) for nr in forks]
    steps += [
        (_JEQ_K, clone, None, "allow"),
        (_LD_W_ABS, _ARG0_LOW, None, None),
        (_JSET_K, _CLONE_THREAD, "allow", "eperm"),
    ]
    labels = {"allow": len(steps), "eperm": len(steps) + 1, "enosys": len(steps) + 2}
    labels["kill"] = len(steps) + 3
    program = bytearray()
    for at, (code, k, if_true, if_false) in enumerate(steps):
        jt = labels[if_true] - at - 1 if if_true else 0
        jf = labels[if_false] - at - 1 if if_false else 0
        program += struct.pack("<HBBI", code, jt, jf, k)
    for k in (_RET_ALLOW, _RET_ERRNO | _EPERM, _RET_ERRNO | _ENOSYS, _RET_KILL_PROCESS):
        program += struct.pack("<HBBI", _RET_K, 0, 0, k)
    return bytes(program)
