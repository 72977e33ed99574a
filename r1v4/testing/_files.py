"""A file host on loopback: real HTTP serving fixed bodies, as a remote image host would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._net import LoopbackServer

__all__ = ["FileHost", "HostedFile"]

_NOT_FOUND = b"<!doctype html><html><body><h1>404 Not Found</h1></body></html>"


@dataclass
class HostedFile:
    """One path's response, and what became of the last request for it.

    ``body`` is bytes (sent with a ``Content-Length``) or a callable producing the body in pieces
    (sent without one, ended by closing the connection), for bodies too big to hold.
    """

    body: bytes | Callable[[], Iterable[bytes]] = b""
    content_type: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    sent: int = 0
    aborted: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class FileHost(LoopbackServer):
    """Serves :class:`HostedFile` bodies over real HTTP on loopback; a missing path is a 404.

    ``hits`` lists the paths requested, in order. Use it as a context manager::

        with FileHost() as host:
            url = host.add("/red.png", png_bytes, "image/png")
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.files: dict[str, HostedFile] = {}
        self.hits: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add(
        self,
        path: str,
        body: bytes | Callable[[], Iterable[bytes]] = b"",
        content_type: str | None = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> str:
        """Serve ``body`` at ``path``; returns its URL."""
        self.files[path] = HostedFile(body, content_type, status, dict(headers or {}), delay)
        return self.url_for(path)

    def url_for(self, path: str) -> str:
        """The URL of ``path`` on this host."""
        return f"{self.url}{path}"

    def start(self) -> FileHost:
        """Listen on a free port and serve in a background thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits.append(self.path)
                found = owner.files.get(self.path)
                if found is None:
                    found = HostedFile(_NOT_FOUND, "text/html", 404)
                try:
                    owner._send(self, found)
                except (BrokenPipeError, ConnectionResetError):
                    found.aborted = True  # the client stopped reading
                finally:
                    found.done.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that give up mid-response are expected here

        self._httpd = Server((self.host, 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, file: HostedFile) -> None:
        time.sleep(file.delay)
        handler.send_response(file.status)
        names = {k.lower() for k in file.headers}
        if file.content_type and "content-type" not in names:
            handler.send_header("Content-Type", file.content_type)
        if isinstance(file.body, bytes) and "content-length" not in names:
            handler.send_header("Content-Length", str(len(file.body)))
        for name, value in file.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        for piece in [file.body] if isinstance(file.body, bytes) else file.body():
            handler.wfile.write(piece)
            file.sent += len(piece)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
