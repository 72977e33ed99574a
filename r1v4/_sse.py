"""Server-sent events, decoded from raw bytes.

Hand-written rather than taken from httpx-sse: that library works on decoded text lines from
``iter_lines`` (a second pass over every byte and a Python call per line before any SSE logic),
while R1V4 streams are thousands of tiny events where that per-line overhead is most of the
client's cost. Working on bytes also makes UTF-8 safe for free: only complete lines are decoded,
so a multi-byte character split across reads is never seen half.
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "ServerSentEvent"]

ServerSentEvent = tuple[str | None, str]
"""``(event name or None, data)``."""


class SSEDecoder:
    """Incremental SSE decoder: ``feed(bytes)`` returns the events completed by those bytes."""

    __slots__ = ("_buf", "_data", "_event", "_pending")

    def __init__(self) -> None:
        self._buf = b""
        self._pending: list[bytes] = []  # reads with no line end yet, joined once one comes
        self._data: list[str] | None = None
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if b"\n" not in chunk and b"\r" not in chunk:
            # Mid-line: keep the piece without rescanning what came before, so one long event
            # fed in small reads costs linear time, not quadratic.
            if chunk:
                self._pending.append(chunk)
            return []
        if self._pending:
            self._pending.append(chunk)
            chunk = b"".join(self._pending)
            self._pending = []
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # A trailing CR may be the first half of a CRLF split across reads: keep it.
            hold_cr = buf.endswith(b"\r")
            if hold_cr:
                buf = buf[:-1]
            lines = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            rest = lines.pop()
            self._buf = rest + b"\r" if hold_cr else rest
        else:
            lines = buf.split(b"\n")
            self._buf = lines.pop()
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        out: list[ServerSentEvent] = []
        data, event = self._data, self._event  # locals: this loop runs twice per event
        for line in lines:
            if line[:6] == b"data: ":  # the usual line, tested first
                text = line[6:].decode("utf-8", "replace")
                if data is None:
                    data = [text]
                else:
                    data.append(text)
            elif not line:
                if data is not None:
                    out.append((event, "\n".join(data)))
                    data = None
                    event = None
            elif line.startswith(b"data:"):
                text = line[5:].decode("utf-8", "replace")
                if data is None:
                    data = [text]
                else:
                    data.append(text)
            elif line[0] == 0x3A:  # ":" comment / keep-alive
                continue
            elif line.startswith(b"event:"):
                event = line[6:].strip().decode("utf-8", "replace") or None
            # id:, retry: and unknown fields carry nothing a chat stream needs
        self._data, self._event = data, event
        return out

    def close(self) -> list[ServerSentEvent]:
        """End of input: dispatch an event that was not followed by a blank line."""
        tail = self._buf + b"".join(self._pending)
        self._buf = b""
        self._pending = []
        out = self._lines([tail.rstrip(b"\r")]) if tail else []
        if self._data is not None:
            out.append((self._event, "\n".join(self._data)))
            self._data = None
            self._event = None
        return out
