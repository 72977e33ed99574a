"""Loopback addresses and the start/stop lifecycle every local server shares, and endpoints for
connection failures: refused, and connect timeout."""

from __future__ import annotations

import select
import socket
from types import TracebackType
from typing import TypeVar

__all__ = ["BlackholeServer", "free_port", "refused_base_url"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on (the OS handed it out and took it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def refused_base_url(host: str = "127.0.0.1", path: str = "/v1") -> str:
    """A base URL whose connections are refused at once (nothing listening)."""
    return f"http://{host}:{free_port(host)}{path}"


class LoopbackAddress:
    """The URLs of a server listening on ``host:port``: one place for all our local servers."""

    host: str = "127.0.0.1"
    port: int

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no path)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The vLLM-style base URL, ``http://HOST:PORT/v1``."""
        return f"{self.url}/v1"

    @property
    def hosted_base_url(self) -> str:
        """The hosted-style base URL, ``http://HOST:PORT/api/v1``."""
        return f"{self.url}/api/v1"


_S = TypeVar("_S", bound="LoopbackServer")


class LoopbackServer(LoopbackAddress):
    """A local server on loopback that is its own context manager: ``with`` starts and stops it.

    Subclasses implement :meth:`start` (returning the started server) and :meth:`stop`.
    """

    def start(self: _S) -> _S:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class BlackholeServer(LoopbackServer):
    """A loopback listener that never accepts and whose backlog is full: connects time out.

    With the accept queue full, Linux drops further SYNs, so a client's TCP connect hangs until
    its own connect timeout fires (httpx: ``ConnectTimeout``). Use as a context manager::

        with BlackholeServer() as hole:
            httpx.get(hole.base_url + "/models", timeout=httpx.Timeout(5, connect=0.2))
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []
        self.port = 0

    def start(self) -> BlackholeServer:
        """Listen, and fill the backlog so that every further connect hangs."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.host, 0))
        listener.listen(0)
        self._listener = listener
        self.port = listener.getsockname()[1]
        # Connect until one connect no longer completes: from then on the queue is full.
        for _ in range(64):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            self._fillers.append(filler)
            filler.connect_ex((self.host, self.port))
            _, writable, _ = select.select([], [filler], [], 0.1)
            if not writable:
                return self
        self.stop()
        raise RuntimeError("could not fill the listen backlog; connect timeouts not simulable")

    def stop(self) -> None:
        """Close the listener and every connection that filled its backlog."""
        for sock in self._fillers:
            sock.close()
        self._fillers.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
