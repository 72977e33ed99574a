"""Sandbox escapes, each tried for real by the model's code in the real bubblewrap sandbox: every
one ends in an observation the model can read, and the host is proven unharmed (a listener
that saw nothing, markers the code could not read, files that were not written, no process
left behind)."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools_support import RunCode

from r1v4.tools import BubblewrapSandbox, R1V4Tools

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secret() -> str:
    return f"r1v4-secret-{uuid.uuid4().hex}"


# -- the network ----------------------------------------------------------------------------------


def test_a_connection_to_the_hosts_loopback_reaches_nothing(
    run_code: RunCode, no_strays: None
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            "for host in ('127.0.0.1', 'localhost'):\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=3)\n"
            "        print(host, 'CONNECTED')\n"
            "    except OSError as exc:\n"
            "        print(host, type(exc).__name__)\n"
        )
        result, obs = run_code(code)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody came
    assert result.status == "ok"
    assert "CONNECTED" not in obs["result"]
    assert obs["result"].splitlines()[0] == "127.0.0.1 ConnectionRefusedError"


def test_the_internet_and_name_resolution_are_unreachable(run_code: RunCode) -> None:
    code = (
        "import socket\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n    print('CONNECTED')\n"
        "except OSError as exc:\n    print(exc)\n"
        "try:\n    print(socket.getaddrinfo('example.com', 80))\n"
        "except OSError as exc:\n    print(type(exc).__name__)\n"
    )
    _, obs = run_code(code)
    assert obs["result"].splitlines() == ["[Errno 101] Network is unreachable", "gaierror"]


def test_an_abstract_unix_socket_of_the_host_is_out_of_reach(run_code: RunCode) -> None:
    name = f"\0r1v4-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(name)
        listener.listen(1)
        listener.settimeout(0.3)
        code = (
            "import socket\ns = socket.socket(socket.AF_UNIX)\n"
            f"try:\n    s.connect({name!r})\n    print('CONNECTED')\n"
            "except OSError as exc:\n    print(type(exc).__name__)\n"
        )
        _, obs = run_code(code)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert obs["result"] == "ConnectionRefusedError"


# -- the user's files ------------------------------------------------------------------------------


@pytest.fixture
def markers(
    secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Path]]:
    """The secret in ~/.ssh, the project directory and the caller's working directory."""
    ssh = Path.home() / ".ssh"
    made_ssh = not ssh.exists()
    ssh.mkdir(mode=0o700, exist_ok=True)
    cwd = tmp_path / "caller"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    found = {
        "ssh": ssh / f"r1v4-marker-{uuid.uuid4().hex}",
        "project": PROJECT / f".r1v4-marker-{uuid.uuid4().hex}",
        "cwd": cwd / "marker.txt",
    }
    try:
        for path in found.values():
            path.write_text(secret)
        yield found
    finally:
        for path in found.values():
            path.unlink(missing_ok=True)
        if made_ssh:
            ssh.rmdir()


def test_the_users_files_cannot_be_read(
    run_code: RunCode, markers: dict[str, Path], secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("R1V4_TEST_SECRET", secret)  # and the caller's environment (API keys)
    paths = [str(p) for p in markers.values()] + [str(p.parent) for p in markers.values()]
    code = (
        "import os\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        print(open(path).read() if os.path.isfile(path) else os.listdir(path))\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
        "print(sorted(os.environ))\n"
        "print(os.listdir(os.path.expanduser('~')), os.getcwd())\n"
        f"print(os.path.exists({str(Path.home() / '.ssh')!r}))\n"
    )
    result, obs = run_code(code)
    assert result.status == "ok"
    lines = obs["result"].splitlines()
    assert lines[:6] == ["FileNotFoundError"] * 6
    assert secret not in result.observation
    assert "R1V4_TEST_SECRET" not in lines[6] and "SKYWORK_API_KEY" not in lines[6]
    assert lines[7] == "[] /mnt/data"  # HOME is the fresh working directory
    assert lines[8] == "False"


def test_the_root_holds_only_the_system_python_and_packages(run_code: RunCode) -> None:
    code = "import os\nprint(sorted(os.listdir('/')))\nprint(sorted(os.listdir('/etc')))\nprint(sorted(os.listdir('/r1v4/site')))\nprint(open('/proc/1/cmdline','rb').read().split(b'\\0')[0])"
    _, obs = run_code(code)
    root, etc, site, init = obs["result"].splitlines()
    assert set(eval(root)) <= {
        "bin",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "mnt",
        "opt",
        "proc",
        "r1v4",
        "root",
        "home",
        "sbin",
        "tmp",
        "usr",
    }
    assert eval(etc) == ["ld.so.cache"]
    assert {"PIL", "numpy"} <= set(eval(site)) and all(
        n.endswith(".libs") or n in {"PIL", "numpy"} for n in eval(site)
    )
    assert init in ("b'bwrap'", "b'/usr/bin/bwrap'")  # the sandbox's own PID 1, not the host's


# -- writing outside ----------------------------------------------------------------------------


def test_nothing_outside_the_working_directory_can_be_written(
    run_code: RunCode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "caller"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    name = f"r1v4-escape-{uuid.uuid4().hex}"
    targets = [
        f"/{name}",
        f"/usr/{name}",
        f"/etc/{name}",
        f"/root/{name}",
        str(PROJECT / name),
        str(cwd / name),
        str(Path.home() / name),
        f"/proc/{name}",
    ]
    code = (
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
        f"_ = open('/tmp/{name}', 'w').write('inside the sandbox only')\n"
    )
    result, obs = run_code(code)
    assert "WROTE" not in obs["result"]
    assert set(obs["result"].splitlines()) <= {"OSError", "PermissionError", "FileNotFoundError"}
    for path in [*targets, f"/tmp/{name}"]:
        assert not os.path.exists(path), path
    assert result.status == "ok"


def test_a_file_bigger_than_the_limit_is_refused(run_code: RunCode) -> None:
    code = "f = open('big.bin', 'wb')\nf.write(b'x' * 2_000_000)\nf.close()"
    result, obs = run_code(code, file_bytes=1_000_000)
    assert result.status == "error"
    assert "OSError: [Errno 27] File too large" in obs["result"]


def test_the_working_directory_is_removed_whatever_the_code_left(tmp_path: Path) -> None:
    box = BubblewrapSandbox(host_tmp=str(tmp_path))
    code = "import os\nos.makedirs('a/b')\nopen('a/b/f', 'w').write('x')\nos.chmod('a/b', 0)\nos.chmod('a', 0o500)\nos.symlink('/', 'root')"
    R1V4Tools(executor=box).run({"name": "code", "arguments": {"code": code}})
    assert list(tmp_path.iterdir()) == []


# -- processes, memory, time, output ----------------------------------------------------------------


def test_a_fork_bomb_is_refused_at_its_first_fork(run_code: RunCode, no_strays: None) -> None:
    code = "import os\nn = 0\ntry:\n    while True:\n        os.fork()\n        n += 1\nfinally:\n    print('forks:', n)"
    result, obs = run_code(code)
    assert result.status == "error"
    assert obs["result"].startswith("forks: 0\nTraceback")
    assert "PermissionError: [Errno 1] Operation not permitted" in obs["result"]


def test_subprocesses_and_multiprocessing_are_refused_too(
    run_code: RunCode, no_strays: None
) -> None:
    code = (
        "import subprocess, multiprocessing\n"
        "for start in (lambda: subprocess.run(['/usr/bin/true']), lambda: multiprocessing.Process(target=print).start()):\n"
        "    try:\n        start()\n        print('STARTED')\n"
        "    except OSError as exc:\n        print(type(exc).__name__)\n"
    )
    _, obs = run_code(code)
    assert obs["result"].splitlines() == ["PermissionError", "PermissionError"]


def test_a_thread_bomb_ends_at_the_limits(run_code: RunCode, no_strays: None) -> None:
    code = (
        "import threading, time\nstop = threading.Event()\nthreads = []\n"
        "try:\n    while True:\n        t = threading.Thread(target=stop.wait)\n        t.start()\n        threads.append(t)\n"
        "except RuntimeError as exc:\n    print('stopped after', len(threads) > 0, exc)\n"
        "stop.set()\n"
    )
    result, obs = run_code(code, processes=32, memory_bytes=512 * 1024 * 1024)
    assert result.status == "ok"
    assert obs["result"] == "stopped after True can't start new thread"


@pytest.mark.parametrize(
    "code",
    [
        "x = bytearray(8 * 1024 ** 3)",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 ** 2))",
        "import numpy as np\nnp.ones((1 << 16, 1 << 16))",
    ],
    ids=["one-allocation", "growing", "numpy"],
)
def test_a_memory_bomb_ends_in_a_memory_error(
    run_code: RunCode, code: str, no_strays: None
) -> None:
    result, obs = run_code(code, memory_bytes=512 * 1024 * 1024)
    assert result.status == "error"
    assert "MemoryError" in obs["result"]
    assert obs["result"].endswith("The code reached the memory limit of 512 MiB.")


def test_an_infinite_loop_is_stopped_by_the_cpu_limit(run_code: RunCode, no_strays: None) -> None:
    result, obs = run_code("while True:\n    pass", cpu_seconds=1)
    assert result.status == "cpu_limit"
    assert obs["result"] == "The code used more than the CPU-time limit of 1 s and was stopped."


def test_a_sleeping_loop_is_stopped_by_the_wall_time_limit(
    run_code: RunCode, no_strays: None
) -> None:
    result, obs = run_code(
        "import time\nprint('started')\nwhile True:\n    time.sleep(1)", wall_seconds=2
    )
    assert result.status == "timeout"
    assert (
        obs["result"]
        == "started\nTimeoutError: the code ran longer than the wall-time limit of 2 s and was stopped."
    )


def test_a_flood_of_output_is_cut_and_stopped(run_code: RunCode, no_strays: None) -> None:
    result, obs = run_code("while True:\n    print('x' * 1000)", output_bytes=10_000)
    assert result.status == "output_limit"
    text = obs["result"]
    head, note = text.rsplit("\n", 1)
    assert (
        note == "[output cut: the code wrote more than the limit of 10,000 bytes and was stopped]"
    )
    assert len(head.encode()) <= 10_000 and set(head) <= {"x", "\n"}
    assert len(json.dumps(obs)) < 11_000
