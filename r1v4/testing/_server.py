"""``LocalR1V4Server``: uvicorn on loopback in a background thread, with inspection for tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_remote_addr

from ._app import DEFAULT_MODELS, ConnectionTracker, R1V4App, Scenario
from ._net import LoopbackServer
from ._script import RecordedRequest, Reply, ReplyFactory, Script

__all__ = ["LocalR1V4Server"]


def _tracking_protocol(tracker: ConnectionTracker) -> type[H11Protocol]:
    """uvicorn's h11 protocol, reporting each TCP connection to ``tracker``.

    A protocol instance is exactly one accepted connection, so this counts connections reliably
    (keep-alive reuse shows as several requests on one count) and gives the app the transport it
    needs to drop a connection for real.
    """

    class TrackingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._r1v4_key = get_remote_addr(transport)
            tracker.made(self._r1v4_key, transport)
            super().connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            tracker.lost(self._r1v4_key, self.transport)
            super().connection_lost(exc)

    return TrackingH11Protocol


class LocalR1V4Server(LoopbackServer):
    """A real HTTP server on loopback that behaves like the R1V4 API, for tests and examples.

    Use it as a context manager (or ``start()``/``stop()``); it serves both
    ``POST /api/v1/chat/completions`` (hosted, ``{"code","code_msg"}`` errors) and
    ``POST /v1/chat/completions`` (vLLM, ``{"error": {...}}`` errors), plus ``GET /v1/models``.

    Args:
        api_key: the accepted Bearer key; ``None`` disables auth.
        native_tools: accept ``tools`` and the ``tool`` role (vLLM started with a tool parser);
            when ``False`` such requests get vLLM's 400.
        scenario: default reply when nothing is queued: ``"echo"`` describes the images and
            repeats the last user text; ``"agent"`` answers with a realistic R1V4 transcript;
            ``"self_hosted"`` serves that transcript on ``/v1`` as a bare inference server
            does, one round per request, stopping at each tool call and checking each
            follow-up (``/api/v1`` stays hosted: whole transcripts).
        host: the address to listen on.
        port: the port to listen on; 0 picks a free port.
        extra_models: model names accepted besides the three R1V4 names.
        max_records: keep only the newest this many recorded requests (``None``: all). Records
            hold the request bodies, images included, so long benchmarks should set it.
    """

    def __init__(
        self,
        api_key: str | None = "test-key",
        native_tools: bool = True,
        scenario: Scenario = "echo",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        extra_models: Iterable[str] = (),
        max_records: int | None = None,
    ) -> None:
        if scenario not in ("echo", "agent", "self_hosted"):
            raise ValueError(f"unknown scenario {scenario!r}")
        self.api_key = api_key
        self.native_tools = native_tools
        self.scenario: Scenario = scenario
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._script = Script()
        self._records: list[RecordedRequest] = []
        self._max_records = max_records
        self._total_records = 0
        self._records_changed = threading.Condition()
        self._app = R1V4App(
            api_key=api_key,
            native_tools=native_tools,
            scenario=scenario,
            models=(*DEFAULT_MODELS, *extra_models),
            script=self._script,
            on_request=self._record,
        )
        self._opened_at_reset = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalR1V4Server:
        """Bind, start serving in a daemon thread, and return once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it Nagle + delayed ACK add 40 ms to every response written in two parts.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            # Listening before uvicorn starts: early connections wait in the backlog, not refused.
            sock.listen(2048)
        except BaseException:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http=_tracking_protocol(self._app.tracker),
            ws="none",
            # The client address must stay the socket's: it is how the app finds the transport.
            proxy_headers=False,
            loop="asyncio",
            backlog=2048,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                asyncio.run(self._serve(server, sock))
            except BaseException as exc:  # surfaced by start() or stop()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"r1v4-server-{self._port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                self._thread.join(5)
                self._thread = None
                raise RuntimeError("local R1V4 server failed to start") from self._error
            if time.monotonic() > deadline:
                raise RuntimeError("local R1V4 server did not start within 10 s")
            time.sleep(0.002)
        return self

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        await server.serve(sockets=[sock])

    def stop(self) -> None:
        """Close every connection (in-flight responses included) and stop the thread."""
        thread, server, loop = self._thread, self._server, self._loop
        if thread is None or server is None:
            return

        def begin_shutdown() -> None:
            # Aborting first ends every stalled or delayed response at once, so uvicorn's
            # graceful shutdown finds nothing to wait for.
            self._app.tracker.abort_all()
            server.should_exit = True

        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(begin_shutdown)
        else:
            server.should_exit = True
        thread.join(10)
        self._thread = None
        self._server = None
        self._loop = None
        if thread.is_alive():
            raise RuntimeError("local R1V4 server did not stop within 10 s")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:  # type: ignore[override]  # read-only: no port before start()
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    # -- scripting and inspection --------------------------------------------------------------

    def enqueue(self, *replies: Reply | ReplyFactory) -> LocalR1V4Server:
        """Queue replies, served one per chat request in order (FIFO).

        Each item is a :class:`Reply` (serving ``repeat`` requests) or a callable taking the
        :class:`RecordedRequest` and returning a Reply (called on the server's thread). Requests
        refused by auth or validation consume nothing. When the queue is empty the scenario's
        default reply is used. A reply with a ``followup`` stops a self-hosted round: the
        request that continues it must carry the observation (else it is refused), and gets
        the next queued reply (:func:`~r1v4.testing.self_hosted_rounds` queues a transcript's
        rounds).
        """
        self._script.enqueue(*replies)
        return self

    @property
    def pending(self) -> int:
        """How many requests the queued replies will still serve."""
        return len(self._script)

    @property
    def awaiting_followup(self) -> int:
        """Self-hosted rounds that stopped at a tool call and wait for their follow-up: 0 once
        every conversation got its answer."""
        return len(self._app.rounds)

    def _record(self, record: RecordedRequest) -> None:
        with self._records_changed:
            self._records.append(record)
            self._total_records += 1
            if self._max_records is not None and len(self._records) > self._max_records:
                del self._records[: len(self._records) - self._max_records]
            self._records_changed.notify_all()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start or the last reset, oldest first (a copy)."""
        with self._records_changed:
            return list(self._records)

    @property
    def last_request(self) -> RecordedRequest:
        with self._records_changed:
            if not self._records:
                raise LookupError("no request received yet")
            return self._records[-1]

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since start or the last reset."""
        return self._app.tracker.opened - self._opened_at_reset

    @property
    def connections_open(self) -> int:
        """TCP connections open right now."""
        return len(self._app.tracker.transports)

    @property
    def request_count(self) -> int:
        """Requests received since start or the last reset (including any beyond max_records)."""
        return self._total_records

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests arrived; return the records (``requests``).

        Raises ``TimeoutError`` when fewer arrived within ``timeout`` seconds.
        """
        with self._records_changed:
            if not self._records_changed.wait_for(lambda: self._total_records >= n, timeout):
                raise TimeoutError(
                    f"expected {n} request(s), got {self._total_records} in {timeout}s"
                )
            return list(self._records)

    def wait_finished(self, index: int = -1, timeout: float = 5.0) -> RecordedRequest:
        """Block until request ``index`` (of ``requests``) is finished, and return its record.

        Then ``.disconnected`` tells whether the client left early and ``.completed`` whether the
        whole response went out. Raises ``TimeoutError`` if it is still in progress.
        """
        record = self.wait_for_requests(1 if index < 0 else index + 1, timeout)[index]
        if not record.wait_finished(timeout):
            raise TimeoutError(f"request {index} still in progress after {timeout}s")
        return record

    wait_for_disconnect = wait_finished  # the name tests of a client's early close read best with

    def reset(self) -> None:
        """Forget queued replies, rounds awaiting a follow-up, recorded requests and the
        connection count."""
        self._script.clear()
        self._app.rounds.clear()
        with self._records_changed:
            self._records.clear()
            self._total_records = 0
        self._opened_at_reset = self._app.tracker.opened

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"LocalR1V4Server({where}, scenario={self.scenario!r})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("LocalR1V4Server cannot be pickled; pass its base_url instead")
