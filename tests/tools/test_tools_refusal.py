"""No sandbox, no code: building the sandbox where it cannot run raises a typed error naming
what to install or change; the probe runs once per process; going without code is explicit."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from r1v4 import R1V4Error
from r1v4.tools import BubblewrapSandbox, R1V4Tools, SandboxUnavailableError, _bwrap

# What bubblewrap prints where unprivileged user namespaces are off (Debian's old default).
NO_USERNS = (
    "bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
    "non-privileged user namespaces. On e.g. debian this can be enabled with "
    "'sysctl kernel.unprivileged_userns_clone=1'."
)


def fake_bwrap(tmp_path: Path, message: str) -> tuple[Path, Path]:
    """An executable that answers like a bwrap that cannot make namespaces; it logs each run."""
    log = tmp_path / "runs.log"
    script = tmp_path / "bwrap"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$1" >> {log}\n'
        'if [ "$1" = "--help" ]; then exit 0; fi\n'
        f"echo {json.dumps(message)} >&2\n"
        "exit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_a_missing_bwrap_names_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailableError) as info:
        BubblewrapSandbox(bwrap=str(tmp_path / "bwrap"))
    message = str(info.value)
    assert f"bubblewrap (bwrap) was not found at {tmp_path / 'bwrap'}" in message
    assert "apt-get install bubblewrap" in message and "dnf install bubblewrap" in message
    assert isinstance(info.value, R1V4Error)


def test_the_default_tools_refuse_when_bwrap_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxUnavailableError, match="not found on PATH"):
        R1V4Tools()
    # Going without code is a choice the caller makes in words.
    tools = R1V4Tools(executor=None)
    result = tools.run({"name": "code", "arguments": {"code": "print(1)"}})
    assert result.status == "unavailable"
    assert json.loads(result.observation) == {
        "result": "The code tool is unavailable: no executor is configured for it.",
        "type": "code",
    }


def test_a_probe_that_cannot_make_namespaces_says_what_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, log = fake_bwrap(tmp_path, NO_USERNS)
    sysctls = {
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
        "/proc/1/cgroup": "0::/docker/abc",
    }
    monkeypatch.setattr(_bwrap, "_read", sysctls.get)
    with pytest.raises(SandboxUnavailableError) as info:
        BubblewrapSandbox(bwrap=str(script))
    message = str(info.value)
    assert message.startswith("bubblewrap cannot create its sandbox here (" + NO_USERNS)
    assert "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`" in message
    assert "--security-opt seccomp=unconfined" in message
    assert message.endswith("Without a sandbox the model's code does not run.")
    # Probed once: a second sandbox of the same settings is refused without running bwrap again.
    runs = log.read_text().split()
    with pytest.raises(SandboxUnavailableError):
        BubblewrapSandbox(bwrap=str(script))
    assert log.read_text().split() == runs
    assert runs.count("--help") == 1 and len(runs) == 2


def test_other_refusals_name_their_own_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, _ = fake_bwrap(tmp_path, "bwrap: setting up uid map: Permission denied")
    monkeypatch.setattr(_bwrap, "_read", {"/proc/sys/kernel/unprivileged_userns_clone": "0"}.get)
    monkeypatch.setattr(
        _bwrap.os.path, "exists", lambda path: path != "/.dockerenv" and Path(path).exists()
    )
    with pytest.raises(SandboxUnavailableError) as info:
        BubblewrapSandbox(bwrap=str(script), tmp_bytes=1 << 20)
    message = str(info.value)
    assert "setting up uid map: Permission denied" in message
    assert "`sudo sysctl kernel.unprivileged_userns_clone=1`" in message
    assert "docker" not in message.lower()


def test_no_bwrap_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(
        SandboxUnavailableError, match=r"only on Linux, not on darwin.*CodeExecutor"
    ):
        BubblewrapSandbox()


def test_packages_the_code_needs_must_be_importable() -> None:
    with pytest.raises(SandboxUnavailableError, match=r"needs no_such_module_r1v4.*r1v4\[tools\]"):
        BubblewrapSandbox(packages=("PIL", "no_such_module_r1v4"))


def test_a_python_installed_in_the_home_directory_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path(sys.base_prefix) / "sub"))
    with pytest.raises(SandboxUnavailableError, match="holds your home directory"):
        BubblewrapSandbox()


def test_a_probe_that_finds_the_packages_broken_says_so(tmp_path: Path) -> None:
    pkg = tmp_path / "broken_pkg_r1v4"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('this package cannot load here')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(
            SandboxUnavailableError,
            match="importing broken_pkg_r1v4 inside it failed: ImportError: this package cannot load here",
        ):
            BubblewrapSandbox(packages=("broken_pkg_r1v4",))
    finally:
        sys.path.remove(str(tmp_path))


def test_root_on_a_machine_without_a_process_filter_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from r1v4.tools import _seccomp

    assert _seccomp.no_new_processes("riscv64") is None  # filters exist for x86-64 and AArch64
    assert _seccomp.no_new_processes("aarch64") != _seccomp.no_new_processes("x86_64")
    monkeypatch.setattr(_bwrap, "no_new_processes", lambda: None)
    monkeypatch.setattr(_bwrap.os, "geteuid", lambda: 0)
    with pytest.raises(
        SandboxUnavailableError, match="the caller is root, whom the process limit does not bind"
    ):
        BubblewrapSandbox()
