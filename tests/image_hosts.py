"""Test support for what a message may make the client read or fetch.

- :class:`ImageHost`: an image host on a loopback address (``127.0.0.1``, or ``127.0.0.2`` as a
  second, separately listening host) that reports what it saw: each request's path and
  ``Host`` header, and how many requests were in flight at once. Routes serve an image, a
  redirect, silence (until released) or an image behind a gate that opens only when
  ``parties`` requests are waiting at once (proof that downloads overlap).
- :class:`Tripwire`: a named pipe standing in for a private file, which reports being opened.
- :func:`tls_contexts`: a server and a client TLS context for a self-signed certificate.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "image/png"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    silent: bool = False
    gate: threading.Barrier | None = None


@dataclass(frozen=True)
class Seen:
    path: str
    host: str | None


class ImageHost:
    """Serves :class:`Route` s over real HTTP (HTTPS with ``tls``) on ``host`` (and ``port``,
    else a free one); use with ``with``. ``release`` ends every silent response (set on
    stop)."""

    def __init__(
        self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None, port: int = 0
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.holding = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def image(self, path: str, data: bytes, content_type: str = "image/png") -> str:
        self.routes[path] = Route(data, content_type)
        return self.origin + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route(status=status, headers={"Location": location})
        return self.origin + path

    def silent(self, path: str) -> str:
        """A route that reads the request and never answers (until ``release``)."""
        self.routes[path] = Route(silent=True)
        return self.origin + path

    def gated(self, path: str, data: bytes, gate: threading.Barrier) -> str:
        """An image sent only once ``gate.parties`` requests are waiting at the gate together
        (within its timeout; otherwise sent anyway, and ``max_in_flight`` tells)."""
        self.routes[path] = Route(data, gate=gate)
        return self.origin + path

    def hits(self, path: str | None = None) -> int:
        return sum(1 for s in self.seen if path is None or s.path == path)

    def __enter__(self) -> ImageHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ImageHost:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that give up mid-response are expected here

        self._httpd = Server((self.host, self.port), Handler)
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.seen.append(Seen(handler.path, handler.headers.get("Host")))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            route = self.routes.get(handler.path) or Route(b"not found", "text/plain", 404)
            if route.silent:
                with self._lock:
                    self.holding += 1
                self.release.wait(60)
                with self._lock:
                    self.holding -= 1
                return  # the connection closes with no response at all
            if route.gate is not None:
                # If the others never come, answer anyway: max_in_flight tells.
                with contextlib.suppress(threading.BrokenBarrierError):
                    route.gate.wait()
            handler.send_response(route.status)
            handler.send_header("Content-Type", route.content_type)
            handler.send_header("Content-Length", str(len(route.body)))
            for name, value in route.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(route.body)
        finally:
            with self._lock:
                self.in_flight -= 1


class Tripwire:
    """A named pipe at ``path`` standing in for a private file.

    Opening a pipe for reading waits for a writer, so a watcher thread looks for a reader
    and answers the first one with ``data`` (then closes: the reader gets end of file), so a
    client that opens it is never stuck; ``opened`` tells whether anyone did.
    """

    def __init__(self, directory: Path, data: bytes, name: str = "private.png") -> None:
        self.path = directory / name
        os.mkfifo(self.path)
        self.data = data
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Tripwire:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: nobody has it open for reading
                    raise
                time.sleep(0.005)
                continue
            self.opened.set()
            try:
                os.set_blocking(fd, True)
                os.write(fd, self.data)
            finally:
                os.close(fd)
            return


def tls_contexts(names: list[str]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for the DNS ``names``, and a client
    context that trusts exactly that certificate (and verifies names, as clients do)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client
