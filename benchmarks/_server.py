"""The local R1V4 server in its own process, so none of its CPU lands on the client's clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO

import httpx

from r1v4.testing import free_port
from r1v4.testing._net import LoopbackServer

API_KEY = "test-key"
MODEL = "skywork/r1v4-lite"


class ServerProcess(LoopbackServer):
    """``python -m r1v4.testing --port <free>`` as a child process, ready when it answers."""

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("server not started")
        return self._proc.pid

    def start(self) -> ServerProcess:
        # A file, not a pipe: nobody reads the pipe while benchmarks run, and a full pipe would
        # block the server the moment it logs something.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by stop)
        # free_port() hands back a port the OS just released; another process could take it
        # before the child binds, so a child that dies at once is retried on a new port.
        for _ in range(5):
            self.port = free_port()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "r1v4.testing", "--port", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            if self._wait_ready():
                return self
            self._end_process()
        raise RuntimeError(
            f"the local R1V4 server did not start (python -m r1v4.testing):\n{self.log_tail()}"
        )

    def log_tail(self, limit: int = 4000) -> str:
        """The end of the server's stderr (for failures)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-limit:]

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        headers = {"Authorization": f"Bearer {API_KEY}"}
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                # A throwaway connection: the probe must not count as a client's connection.
                if httpx.get(f"{self.base_url}/models", headers=headers, timeout=1).is_success:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._end_process()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _end_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
