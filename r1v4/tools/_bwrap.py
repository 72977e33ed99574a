""":class:`BubblewrapSandbox`: the model's code run by bubblewrap, in namespaces of its own.

What the code gets (``bwrap`` arguments built by :meth:`BubblewrapSandbox.argv`):

* every namespace bubblewrap can make: user, mount, PID, network (no interface but a loopback
  of its own), IPC, UTS, cgroup; no further user namespaces inside (``--disable-userns`` where
  the installed bubblewrap has it); a session of its own (``--new-session``: no terminal
  injection); killed with its parent (``--die-with-parent``);
* a root that is read-only and empty but for: ``/usr`` (and the ``/bin``, ``/lib*`` links to it),
  ``/etc/ld.so.cache``, the Python installation that runs it (the directories of
  ``sys.base_prefix``), the packages named in ``packages`` (default Pillow and numpy; each
  package's directory alone, at ``/r1v4/site``, never the site-packages around it), a fresh
  ``/proc`` and ``/dev``;
* a fresh working directory, ``/mnt/data`` (also ``HOME``), holding the conversation's images:
  the only place it can write besides a small ``/tmp`` (a tmpfs of ``tmp_bytes``, when the
  installed bubblewrap can size one; otherwise there is no ``/tmp`` and ``TMPDIR`` is the working
  directory);
* uid and gid 65534 ("nobody") inside, no capabilities, a cleared environment;
* the limits of :class:`~r1v4.tools.CodeLimits`, set by the launcher before the code runs;
* a seccomp filter that forbids new processes (threads are allowed; see ``_seccomp``), because
  ``RLIMIT_NPROC`` does nothing when the caller is root.

So the code cannot reach the network, read the user's home or the caller's working directory,
write anywhere that outlives the run, start processes, or use more than its limits; it can read
``/usr`` and the Python installation, and use the CPU and memory its limits allow.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from r1v4._errors import SandboxUnavailableError
from r1v4.tools._executor import CodeJob
from r1v4.tools._launcher import PYTHON_FLAGS, launcher_input, launcher_source
from r1v4.tools._process import Command
from r1v4.tools._process_executor import ProcessExecutor
from r1v4.tools._seccomp import no_new_processes

__all__ = ["BubblewrapSandbox"]

SITE = "/r1v4/site"
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_INSTALL = (
    "install the `bubblewrap` package (Debian/Ubuntu: `apt-get install bubblewrap`; "
    "Fedora: `dnf install bubblewrap`; Arch: `pacman -S bubblewrap`)"
)
_PROBES: dict[tuple[object, ...], str | None] = {}
_PROBE_LOCK = threading.Lock()


class BubblewrapSandbox(ProcessExecutor):
    """Runs the model's code with bubblewrap (``bwrap``): no network, a read-only system,
    nothing of the user's home or working directory, limits on time, memory, processes, files
    and output. Linux only.

    The sandbox is checked when it is built (once per process for the same settings): without
    ``bwrap``, where the kernel or a container's profile forbids the namespaces it needs, or
    without the packages the code may import, building it raises
    :class:`~r1v4.SandboxUnavailableError` naming the package or setting to change.

    Args:
        bwrap: the ``bwrap`` executable (a name looked up on ``PATH``, or a path).
        packages: importable names the code may use, found where this interpreter finds them;
            each package's directory is mounted read-only (with the ``<dist>.libs`` directory
            of native libraries its wheel ships, when there is one).
        workdir: where the working directory is inside the sandbox (also the code's ``HOME``).
        tmp_bytes: the size of the sandbox's ``/tmp``.
        uid: the user id the code runs as inside (``None``: the caller's own id, mapped).
        gid: likewise, the group id.
        host_tmp: where on the host the working directories are made (default: the system's
            temporary directory).
        compile_bytecode: write the packages' missing bytecode (``.pyc``) once, here, as their
            first import on this machine would (unless bytecode writing is off:
            ``PYTHONDONTWRITEBYTECODE``, ``-B``). The sandbox can write none, so without it
            every run compiles numpy's sources anew (about a second); installers that skip
            it (``uv`` without ``--compile-bytecode``) leave it missing.

    Raises:
        SandboxUnavailableError: no sandbox can run here; the message says what to change.
    """

    __slots__ = ("_base", "_filter", "_sys_path", "bwrap", "host_tmp", "packages", "workdir")

    # bubblewrap exits with 128 + the signal that ended the code, as a shell does.
    _shell_signals = True

    def __init__(
        self,
        *,
        bwrap: str = "bwrap",
        packages: Sequence[str] = ("PIL", "numpy"),
        workdir: str = "/mnt/data",
        tmp_bytes: int = 64 * 1024 * 1024,
        uid: int | None = 65534,
        gid: int | None = 65534,
        host_tmp: str | None = None,
        compile_bytecode: bool = True,
    ) -> None:
        if not sys.platform.startswith("linux"):
            raise SandboxUnavailableError(
                f"bubblewrap runs only on Linux, not on {sys.platform}: run the model's code "
                "with an executor of your own (a container or a hosted sandbox: see "
                "r1v4.tools.CodeExecutor), or pass R1V4Tools(executor=None) to go without code"
            )
        if not workdir.startswith("/") or workdir.rstrip("/") in ("", "/usr", SITE, "/proc"):
            raise SandboxUnavailableError(
                f"workdir must be an absolute path of its own, not {workdir!r}"
            )
        self.bwrap = _find_bwrap(bwrap)
        self.packages = tuple(packages)
        self.workdir = workdir.rstrip("/")
        self.host_tmp = host_tmp
        binds = _package_binds(self.packages)
        if compile_bytecode and not sys.dont_write_bytecode:
            _compile(source for source, name in binds if not name.endswith(".libs"))
        self._sys_path = (SITE,) if binds else ()
        self._filter = no_new_processes()
        if self._filter is None and os.geteuid() == 0:
            # RLIMIT_NPROC binds no process of root's: with no filter, nothing would stop a fork
            # bomb but the wall-time limit.
            raise SandboxUnavailableError(
                "the sandbox has no process filter for this machine "
                f"({platform.machine()}) and the caller is root, whom the process limit does "
                "not bind: run as an unprivileged user"
            )
        self._base = self._base_argv(binds, tmp_bytes, uid, gid)
        self._probe()

    def __repr__(self) -> str:
        return f"BubblewrapSandbox(bwrap={self.bwrap!r}, packages={self.packages!r})"

    # -- the command (ProcessExecutor runs it: working directory, limits, outcome) ----------------

    def argv(self, host_workdir: str, seccomp_fd: int | None = None) -> list[str]:
        """The ``bwrap`` command line for a run in ``host_workdir`` (mounted at ``workdir``),
        up to the launcher's interpreter (its flags and ``-c`` source follow)."""
        argv = [*self._base, "--bind", host_workdir, self.workdir, "--chdir", self.workdir]
        argv += ["--setenv", "HOME", self.workdir]
        if "--tmpfs" not in self._base:
            argv += ["--setenv", "TMPDIR", self.workdir]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        argv += ["--remount-ro", "/", "--", _python()]
        return argv

    @contextmanager
    def _command(self, host_dir: str, job: CodeJob) -> Iterator[Command]:
        """``bwrap`` running the launcher, the filter's pipe open until the run ends."""
        with self._seccomp_fd() as fds:
            argv = self.argv(host_dir, fds[0] if fds else None)
            argv += [*PYTHON_FLAGS, "-c", launcher_source()]
            yield Command(
                tuple(argv), launcher_input(job, sys_path=self._sys_path), pass_fds=fds, env={}
            )

    @contextmanager
    def _seccomp_fd(self) -> Iterator[tuple[int, ...]]:
        """A pipe holding the filter, for ``--seccomp`` (bubblewrap reads it once)."""
        if self._filter is None:
            yield ()
            return
        read, write = os.pipe()
        try:
            os.write(write, self._filter)
            os.close(write)
            write = -1
            yield (read,)
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)

    # -- building ---------------------------------------------------------------------------------

    def _base_argv(
        self, binds: list[tuple[str, str]], tmp_bytes: int, uid: int | None, gid: int | None
    ) -> tuple[str, ...]:
        features = _features(self.bwrap)
        argv = [self.bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
        if "--disable-userns" in features:
            argv.append("--disable-userns")
        if uid is not None:
            argv += ["--uid", str(uid)]
        if gid is not None:
            argv += ["--gid", str(gid)]
        argv += ["--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
        for name in _ROOT_LINKS:
            path = f"/{name}"
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        if os.path.exists("/etc/ld.so.cache"):
            argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        for prefix in _python_prefixes():
            argv += ["--ro-bind", prefix, prefix]
        for source, name in binds:
            argv += ["--ro-bind", source, f"{SITE}/{name}"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        if "--size" in features:
            argv += ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]
        argv += ["--clearenv"]
        for key, value in _ENV.items():
            argv += ["--setenv", key, value]
        return tuple(argv)

    def _probe(self) -> None:
        """Run one job (importing the packages) once per process and settings; raise what
        stopped it."""
        key = (self._base, self.workdir, self.host_tmp, self._filter)
        with _PROBE_LOCK:
            if key not in _PROBES:
                imports = "\n".join(f"import {name}" for name in self.packages) or "pass"
                try:
                    result = self.run(CodeJob(imports))
                except OSError as exc:  # bwrap could not be started, or no working directory
                    raise SandboxUnavailableError(
                        f"the sandbox could not be started: {type(exc).__name__}: {exc}"
                    ) from exc
                _PROBES[key] = None if result.status == "ok" else result.output
            failure = _PROBES[key]
        if failure is not None:
            raise SandboxUnavailableError(_probe_failure(failure, self.packages))


_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TMPDIR": "/tmp",
    # One thread per native library: the run's CPU limit is for the code, not a thread pool.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}


def _python() -> str:
    """This interpreter's real executable (a virtual environment's ``python`` is a link)."""
    return os.path.realpath(sys.executable)


def _python_prefixes() -> list[str]:
    """The directories of this interpreter's installation the sandbox needs, refusing one that
    would bring the user's home or working directory in with it."""
    found: list[str] = []
    for path in (
        sys.base_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.dirname(_python())),
    ):
        real = os.path.realpath(path)
        if real == "/usr" or real.startswith("/usr/") or real in found:
            continue
        _refuse_exposing(real, "the Python installation")
        found.append(real)
    return found


def _refuse_exposing(path: str, what: str) -> None:
    for label, private in (("home directory", Path.home()), ("working directory", Path.cwd())):
        private_real = os.path.realpath(private)
        if path == "/" or os.path.commonpath([path, private_real]) == path:
            raise SandboxUnavailableError(
                f"{what} is at {path}, which holds your {label} ({private_real}): the sandbox "
                "would have to show it to the code. Use a Python installed elsewhere."
            )


def _package_binds(packages: Sequence[str]) -> list[tuple[str, str]]:
    """``(host path, name under SITE)`` for each package and its wheel's native libraries."""
    binds: list[tuple[str, str]] = []
    missing: list[str] = []
    dists = importlib.metadata.packages_distributions() if packages else {}
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None:
            missing.append(name)
            continue
        if spec.submodule_search_locations:
            places = [os.path.realpath(p) for p in spec.submodule_search_locations]
        elif spec.origin:
            places = [os.path.realpath(spec.origin)]
        else:
            missing.append(name)
            continue
        for place in places:
            _refuse_exposing(place, f"the package {name!r}")
            binds.append((place, os.path.basename(place)))
            site = os.path.dirname(place)
            for dist in {name, *dists.get(name, ())}:
                for libs in {f"{dist}.libs", f"{dist.lower()}.libs"}:
                    path = os.path.join(site, libs)
                    if os.path.isdir(path) and (path, libs) not in binds:
                        binds.append((path, libs))
    if missing:
        raise SandboxUnavailableError(
            f"the sandboxed code needs {', '.join(missing)}, which this Python cannot import: "
            "pip install 'r1v4[tools]' (Pillow and numpy), or change "
            "BubblewrapSandbox(packages=...)"
        )
    return binds


def _compile(sources: Iterable[str]) -> None:
    """Write the bytecode of the packages' modules where it is missing or stale (the check
    is cheap once it is there); a read-only installation is left as it is."""
    import compileall

    for source in sources:
        with contextlib.suppress(Exception):
            if os.path.isdir(source):
                compileall.compile_dir(source, quiet=2, workers=1)
            elif source.endswith(".py"):
                compileall.compile_file(source, quiet=2)


def _find_bwrap(setting: str) -> str:
    found = shutil.which(setting)
    if found is None:
        where = f"at {setting}" if os.sep in setting else "on PATH"
        raise SandboxUnavailableError(
            f"bubblewrap (bwrap) was not found {where}: {_INSTALL}, or point "
            "BubblewrapSandbox(bwrap=...) at it. Without a sandbox the model's code does not run."
        )
    return found


@functools.lru_cache(maxsize=8)
def _features(bwrap: str) -> frozenset[str]:
    """The options the installed bubblewrap knows (``--size`` came in 0.8, as did
    ``--disable-userns``)."""
    try:
        text = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(word for word in text.split() if word.startswith("--"))


def _probe_failure(output: str, packages: Sequence[str]) -> str:
    text = output.strip()
    if "bwrap:" not in text and ("ModuleNotFoundError" in text or "ImportError" in text):
        return (
            f"the sandbox runs, but importing {', '.join(packages)} inside it failed: "
            f"{text.splitlines()[-1] if text else 'no output'}"
        )
    return (
        f"bubblewrap cannot create its sandbox here ({text[-500:] or 'no output'}). "
        f"{_namespace_hint()} Without a sandbox the model's code does not run."
    )


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _namespace_hint() -> str:
    hints: list[str] = []
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        hints.append(
            "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later): "
            "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or an AppArmor "
            "profile for bwrap that allows `userns`"
        )
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        hints.append("`sudo sysctl kernel.unprivileged_userns_clone=1`")
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        hints.append("`sudo sysctl user.max_user_namespaces=10000`")
    cgroup = _read("/proc/1/cgroup") or ""
    if os.path.exists("/.dockerenv") or "docker" in cgroup or "containerd" in cgroup:
        hints.append(
            "in a Docker container the default seccomp profile forbids new namespaces: run "
            "it with `--security-opt seccomp=unconfined` (and `--security-opt "
            "apparmor=unconfined` where AppArmor applies), or run the code with an executor "
            "of your own (r1v4.tools.CodeExecutor)"
        )
    if not hints:
        hints.append(
            "the kernel (or a security module) refused the user namespace bubblewrap needs: "
            "allow unprivileged user namespaces"
        )
    return "To fix: " + "; or ".join(hints) + "."
