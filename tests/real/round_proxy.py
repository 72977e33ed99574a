"""A loopback HTTP proxy in front of llama.cpp's server that forces the first round of a reply
the client continues, and records every exchange as it went over the wire.

The tool loop (``builtin_tools=``) sends the same request fields every round: a ``grammar`` in
``extra_body`` would force the model's answer to the observation too, and the follow-up would
prove nothing about a real continuation. SmolLM2-135M cannot choose R1V4's tools by itself, so
:class:`RoundProxy` adds a GBNF grammar (or any fields) to the first round only, the request
whose messages carry no ``<observation>``; every later round goes to llama.cpp byte for byte,
and every response comes back byte for byte (a stream piece by piece, as llama.cpp sends it,
only re-framed as HTTP chunks). Each :class:`Exchange` keeps the request body llama.cpp got and
the response body it sent, so a test asserts on the real follow-up request and on llama.cpp's
own usage for each round.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

__all__ = ["Exchange", "RoundProxy", "is_first_round"]

OBSERVATION = "<observation>"
# Framing of one hop: never forwarded (the proxy frames its own responses).
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})


def is_first_round(body: Mapping[str, Any]) -> bool:
    """Whether a chat request body starts a reply: no message carries an observation yet."""
    for message in body.get("messages") or ():
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        if any(OBSERVATION in str(part.get("text") or "") for part in parts):
            return False
    return True


@dataclass
class Exchange:
    """One request as llama.cpp got it and its response as llama.cpp sent it.

    Each byte is recorded before it is passed on: once the client has read a response (it may
    stop at ``data: [DONE]``, before the last HTTP chunk), the record holds all of it."""

    sent: dict[str, Any]  # the request body llama.cpp received
    forced: bool  # the proxy added its fields (a first round)
    status: int = 0
    body: bytearray = field(default_factory=bytearray)  # the response body, raw

    @property
    def stream(self) -> bool:
        return bool(self.sent.get("stream"))

    def _objects(self) -> list[dict[str, Any]]:
        """The JSON objects of the response: the body, or each SSE ``data:`` payload."""
        if not self.stream:
            return [json.loads(self.body)]
        out = []
        for line in self.body.decode().splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append(json.loads(line[len("data: ") :]))
        return out

    @property
    def text(self) -> str:
        """The reply's content as llama.cpp sent it."""
        if not self.stream:
            return str(self._objects()[0]["choices"][0]["message"]["content"] or "")
        return "".join(
            c["delta"].get("content") or "" for o in self._objects() for c in o["choices"]
        )

    @property
    def usage(self) -> dict[str, Any]:
        """llama.cpp's usage for this round (a stream's comes in its last chunk)."""
        (usage,) = [o["usage"] for o in self._objects() if o.get("usage")]
        return dict(usage)

    @property
    def finish_reason(self) -> str:
        (reason,) = [
            c["finish_reason"] for o in self._objects() for c in o["choices"] if c["finish_reason"]
        ]
        return str(reason)

    @property
    def id(self) -> str:
        return str(self._objects()[0]["id"])


class RoundProxy:
    """The proxy on a free loopback port; a context manager.

    Args:
        upstream: llama.cpp's base URL (``http://127.0.0.1:<port>/v1``).
        first_round: request fields added to each first round (:func:`is_first_round`), e.g.
            ``{"grammar": ...}``; every other request is forwarded unchanged.
    """

    def __init__(self, upstream: str, first_round: Mapping[str, Any]) -> None:
        self.upstream = upstream.rstrip("/")
        self.first_round = dict(first_round)
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=300.0)  # a loaded 2-core machine writes slowly
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> RoundProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def clear(self) -> None:
        with self._lock:
            self.exchanges = []

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, chunked: the client's pool is real

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw)
                forced = is_first_round(body)
                if forced:
                    body = {**body, **proxy.first_round}
                    raw = json.dumps(body).encode()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                url = proxy.upstream + self.path.removeprefix("/v1")
                exchange = Exchange(body, forced)
                with proxy._lock:
                    proxy.exchanges.append(exchange)
                with proxy._http.stream("POST", url, content=raw, headers=headers) as upstream:
                    exchange.status = upstream.status_code
                    self.send_response_only(upstream.status_code)  # llama.cpp's Server, Date
                    for key, value in upstream.headers.multi_items():
                        if key.lower() not in _HOP:
                            self.send_header(key, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in upstream.iter_raw():
                        exchange.body += piece
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the exchanges are the record

        return Handler
