"""What the reliability suite tries: faults, bad inputs, secret sinks and checks, as data.

The tests are parametrised from these tables and the figures (terminal summary,
docs/reliability.md, the reliability guide's summary) are counted from them, so no number is
typed by hand.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from attempts import ANSWER, DELIVERED, HELD, cut, whole
from pydantic import ValidationError

from r1v4 import (
    APIConnectionError,
    APITimeoutError,
    ImageError,
    IncompleteStreamError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from r1v4.testing import Reply

# The default reply of the local server (echo scenario) to the default call.
ECHO = "I saw 0 image(s). You said: hello"
# A long answer for the faults that break a stream part-way (chunks of 4 characters).
LONG = "The first part of a long answer, then the second part, then the end of it."
# Multi-byte text for the one-byte trickle: every UTF-8 width, split at every byte.
TRICKLE = "héllo wörld — 世界 🌍 ok"


def huge_text(size: int = 5 * 1024 * 1024) -> str:
    """About ``size`` bytes of numbered lines with multi-byte characters, easy to diff.

    It ends in text, not a newline: the answer loses the whitespace around it by design (see
    ``r1v4._transcript``), while everything inside must arrive intact."""
    lines = []
    total = 0
    n = 0
    while total < size:
        line = f"line {n:07d}: the quick brown fox jumps over the lazy dog, é 世界 🌍\n"
        lines.append(line)
        total += len(line.encode())
        n += 1
    return "".join(lines) + "the end."


HUGE = huge_text()

# ------------------------------------------------------------------------------ faults


@dataclass(frozen=True)
class Expect:
    """What a path must do under a fault.

    raises: the typed r1v4 error, or ``None`` when the call must recover.
    requests: exactly how many requests the scripted server saw.
    attempts: how many attempts the client made (counted in the client's retry decision),
        for faults where no server sees anything (refused, connect timeout).
    text: the recovered answer.
    partial: the error keeps the text streamed so far on ``partial_content``.
    full_partial: ... and that is the whole answer.
    """

    raises: type[BaseException] | None
    requests: int
    attempts: int | None = None
    text: str | None = ECHO
    partial: bool = False
    full_partial: bool = False
    retry_after: float | None = None  # the one retry waited exactly this long
    backoff: bool = False  # the retries waited the (shortened) exponential backoff

    def describe(self) -> str:
        if self.raises is None:
            what = "recovers" if self.requests > 1 or self.attempts else "correct answer"
        else:
            what = f"`{self.raises.__name__}`"
            if self.partial:
                what += ", streamed text kept on `partial_content`"
        if self.attempts is not None:
            return f"{what}; {self.attempts} attempts"
        extra = ""
        if self.retry_after is not None:
            extra = f" (waited exactly Retry-After = {self.retry_after:g} s)"
        n = self.requests
        return f"{what}; {n} request{'s' if n != 1 else ''}{extra}"


@dataclass(frozen=True)
class Mode:
    replies: Callable[[], list[Reply]]
    expect: Expect


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    stream: Mode
    create: Mode | None  # None: the fault has no non-stream form
    create_note: str = ""  # why it differs on create paths, or why it does not apply
    target: str = "server"  # "server" | "refused" | "blackhole"
    max_retries: int = 2
    timeout: float = 10.0

    def mode(self, stream: bool) -> Mode | None:
        return self.stream if stream else self.create


class _Modes(TypedDict):
    stream: Mode
    create: Mode


def _both(replies: Callable[[], list[Reply]], expect: Expect) -> _Modes:
    mode = Mode(replies, expect)
    return {"stream": mode, "create": mode}


def _replies_with(body: Any) -> Callable[[], list[Reply]]:
    """A 200 reply with this body, new for each call (as a lambda binding it would be)."""
    return lambda: [Reply(status=200, body=body)]


def _status_then_success(status: int) -> Fault:
    return Fault(
        f"{status}-then-success",
        f"HTTP {status} twice, then success (max_retries=2)",
        **_both(lambda: [Reply(status=status, repeat=2)], Expect(None, 3, backoff=True)),
    )


def _status_beyond_retries(status: int) -> Fault:
    cls = RateLimitError if status == 429 else ServerError
    return Fault(
        f"{status}-beyond-max-retries",
        f"HTTP {status} on every attempt (max_retries=2)",
        **_both(lambda: [Reply(status=status, repeat=5)], Expect(cls, 3, text=None, backoff=True)),
    )


def _stream_breaks(**fault: Any) -> Callable[[], list[Reply]]:
    return lambda: [Reply(content=LONG, chunk_size=4, **fault)]


def _cut(events: int, sent: str = "", *, then_whole: bool = True) -> Callable[[], list[Reply]]:
    """The trajectory's stream closed after ``events`` events, ``sent`` being all of its content
    those carried (event 0 is the role chunk); then, on the retry, the trajectory whole."""
    return lambda: [cut(sent, events=events, rid=None)] + ([whole(None)] if then_whole else [])


_CUT_NOTE = (
    "stream only: these are points of a stream; a non-stream body cut anywhere is retried whole, "
    "as `reset-before-first-token` and `reset-after-first-token` show"
)


def _cut_then_whole(name: str, title: str, events: int, sent: str = "") -> Fault:
    return Fault(
        name,
        f"stream dropped {title}, then sent whole",
        stream=Mode(_cut(events, sent), Expect(None, 2, text=ANSWER)),
        create=None,
        create_note=_CUT_NOTE,
    )


FAULTS: list[Fault] = [
    Fault(
        "429-retry-after",
        "HTTP 429 with `Retry-After: 0.05`, then success",
        **_both(
            lambda: [Reply(status=429, headers={"retry-after": "0.05"})],
            Expect(None, 2, retry_after=0.05),
        ),
    ),
    Fault(
        "429-no-retry-after",
        "HTTP 429 without `Retry-After`, then success",
        **_both(lambda: [Reply(status=429)], Expect(None, 2, backoff=True)),
    ),
    *[_status_then_success(s) for s in (500, 502, 503, 504)],
    *[_status_beyond_retries(s) for s in (429, 500, 502, 503, 504)],
    Fault(
        "connection-refused",
        "connection refused (nothing listening; max_retries=2)",
        **_both(lambda: [], Expect(APIConnectionError, 0, attempts=3, text=None)),
        target="refused",
    ),
    Fault(
        "connect-timeout",
        "connect timeout (listen backlog full; timeout 0.4 s, max_retries=1)",
        **_both(lambda: [], Expect(APITimeoutError, 0, attempts=2, text=None)),
        target="blackhole",
        max_retries=1,
        timeout=0.4,
    ),
    Fault(
        "read-timeout-first-byte",
        "read timeout before the first byte (timeout 0.4 s, max_retries=1)",
        **_both(
            lambda: [Reply(first_byte_delay=5.0, repeat=2)],
            Expect(APITimeoutError, 2, text=None),
        ),
        max_retries=1,
        timeout=0.4,
    ),
    Fault(
        "silent-mid-stream",
        "server goes silent mid-stream (read timeout 0.4 s)",
        stream=Mode(
            _stream_breaks(stall_after=3, stall_seconds=5.0),
            Expect(APITimeoutError, 1, text=None, partial=True),
        ),
        create=None,
        create_note="stream only: a non-stream body is sent whole; its form is the read timeout "
        "before the first byte",
        timeout=0.4,
    ),
    Fault(
        "reset-before-response",
        "connection reset before any response byte, then success",
        **_both(lambda: [Reply(drop_before_headers=True, drop_mode="reset")], Expect(None, 2)),
    ),
    Fault(
        "reset-before-first-token",
        "connection reset after the headers, before the first token, then success",
        **_both(lambda: [Reply(content=LONG, drop_after=0, drop_mode="reset")], Expect(None, 2)),
    ),
    Fault(
        "reset-after-first-token",
        "connection reset after the first tokens",
        stream=Mode(
            # The stall lets the first tokens reach the client before the RST does.
            _stream_breaks(stall_after=3, stall_seconds=0.2, drop_after=4, drop_mode="reset"),
            Expect(APIConnectionError, 1, text=None, partial=True),
        ),
        create=Mode(
            _stream_breaks(drop_after=4, drop_mode="reset"),
            Expect(None, 2),
        ),
        create_note="non-stream: the reset cuts the body in half; nothing reached the caller, "
        "so it is retried and recovers",
    ),
    _cut_then_whole("drop-before-any-byte", "after the headers, before any byte of it", 0),
    _cut_then_whole("drop-after-role-chunk", "after its role chunk, before any content", 1),
    _cut_then_whole(
        "drop-in-held-whitespace",
        "after leading whitespace the transcript holds",
        2,
        HELD["held-whitespace"],
    ),
    _cut_then_whole("drop-inside-a-tag", "inside a tag (`<tool_ca`)", 2, HELD["inside-a-tag"]),
    _cut_then_whole(
        "drop-inside-a-payload",
        "inside a tool call's payload, held until `</tool_call>`",
        2,
        HELD["inside-a-payload"],
    ),
    Fault(
        "drop-after-delivered-text",
        "stream dropped after a tool call, reasoning and answer text were delivered",
        stream=Mode(
            _cut(2, DELIVERED, then_whole=False),
            Expect(APIConnectionError, 1, text=None, partial=True),
        ),
        create=None,
        create_note=_CUT_NOTE,
    ),
    Fault(
        "no-done",
        "stream ends cleanly without `data: [DONE]`",
        stream=Mode(
            lambda: [Reply(content=LONG, chunk_size=4, no_done=True)],
            Expect(IncompleteStreamError, 1, text=None, partial=True, full_partial=True),
        ),
        create=None,
        create_note="stream only: a non-stream body has no [DONE]; a cut body is the reset faults",
    ),
    Fault(
        "malformed-chunk",
        "malformed JSON chunk (`data: {not json`)",
        stream=Mode(
            _stream_breaks(malformed_after=3),
            Expect(MalformedResponseError, 1, text=None, partial=True),
        ),
        create=Mode(
            lambda: [Reply(status=200, body="{not json")],
            Expect(MalformedResponseError, 1, text=None),
        ),
        create_note="non-stream: HTTP 200 whose body is `{not json`",
    ),
    *[
        Fault(
            f"error-in-200-{shape}",
            f"error object inside a 200 response, {shape} shape",
            stream=Mode(
                _stream_breaks(error_event_after=3, error_shape=shape),
                Expect(ServerError, 1, text=None, partial=True),
            ),
            create=Mode(
                _replies_with(body),
                Expect(ServerError, 1, text=None),
            ),
            create_note="non-stream: HTTP 200 whose body is the error object",
        )
        for shape, body in (
            ("hosted", {"code": 500001, "code_msg": "Internal error while generating"}),
            (
                "openai",
                {
                    "error": {
                        "message": "Internal error while generating",
                        "type": "InternalServerError",
                        "param": None,
                        "code": 500,
                    }
                },
            ),
        )
    ],
    Fault(
        "html-200",
        "HTTP 200 with an HTML page as the body",
        **_both(
            lambda: [Reply(status=200, body="<html><body><h1>502 Bad Gateway</h1></body></html>")],
            Expect(MalformedResponseError, 1, text=None),
        ),
    ),
    Fault(
        "huge-response",
        "a 5 MB answer (content intact)",
        **_both(lambda: [Reply(content=HUGE, chunk_size=32 * 1024)], Expect(None, 1, text=HUGE)),
    ),
    Fault(
        "one-byte-trickle",
        "the stream written one byte at a time (multi-byte text, reasoning first)",
        stream=Mode(
            lambda: [
                Reply(
                    content=TRICKLE,
                    reasoning="思考 🤔 done",
                    reasoning_field="inline",
                    chunk_size=3,
                    trickle=True,
                )
            ],
            Expect(None, 1, text=TRICKLE),
        ),
        create=None,
        create_note="stream only: the local server writes non-stream bodies whole",
    ),
]


# ------------------------------------------------------------------------------ bad input


@dataclass(frozen=True)
class BadInput:
    name: str
    title: str
    error: type[BaseException]
    match: str  # a regular expression the error message must match (case-insensitive)
    # framework -> (error, match) where the framework itself refuses the input first
    framework: dict[str, tuple[type[BaseException], str]] = field(default_factory=dict)
    note: str = ""


def _png(size: tuple[int, int] = (4, 3)) -> bytes:
    from r1v4.testing import make_image

    return make_image("PNG", size)


def tiff_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (0, 128, 0)).save(buf, "TIFF")
    return buf.getvalue()


def oversized_png(limit: int = 10 * 1024 * 1024) -> bytes:
    """A valid PNG just over the default 10 MiB limit (a big uncompressed text chunk)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("padding", "x" * (limit + 1024), zip=False)
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (0, 0, 255)).save(buf, "PNG", pnginfo=info)
    data = buf.getvalue()
    assert len(data) > limit
    return data


BAD_INPUTS: list[BadInput] = [
    BadInput("non-image-bytes", "bytes that are not an image", ImageError, r"not .*image"),
    BadInput("truncated-png", "a PNG cut in half", ImageError, r"truncated|corrupt"),
    BadInput("tiff", "an unsupported format (TIFF)", ImageError, r"TIFF.*not supported"),
    BadInput("over-size-limit", "a valid PNG over the 10 MiB limit", ImageError, r"limit"),
    BadInput("url-404", "an image URL that answers 404", ImageError, r"404"),
    BadInput("url-not-image", "an image URL that serves an HTML page", ImageError, r"HTML"),
    BadInput("bad-base64", "a data URI whose base64 is invalid", ImageError, r"base64"),
    BadInput(
        "unknown-role",
        "a message with the role `robot`",
        InvalidRequestError,
        r"\brole\b",
        framework={"llama_index": (ValidationError, r"Input should be 'system'")},
        note="LlamaIndex: `MessageRole` is an enum, so `ChatMessage(role='robot')` is refused "
        "by LlamaIndex itself (pydantic `ValidationError`, a `ValueError`) before the adapter "
        "sees it; a `ChatMessage.model_construct` bypassing that is refused by the adapter",
    ),
    BadInput("empty-messages", "an empty message list", InvalidRequestError, r"messages"),
    BadInput(
        "invalid-tool-schema",
        "a tool whose parameters are not a JSON schema (`type: objekt`)",
        InvalidRequestError,
        r"objekt|schema",
    ),
    BadInput("max-tokens-zero", "`max_tokens=0`", InvalidRequestError, r"max_tokens"),
    BadInput("max-tokens-negative", "`max_tokens=-1`", InvalidRequestError, r"max_tokens"),
    BadInput("model-not-a-string", "`model=123`", InvalidRequestError, r"model"),
]


# ------------------------------------------------------------------------------ secrets

SINKS: dict[str, str] = {
    "repr:R1V4Client": "`repr`/`str` of `R1V4Client`",
    "repr:AsyncR1V4Client": "`repr`/`str` of `AsyncR1V4Client`",
    "repr:ClientSettings": "`repr`/`str` of `ClientSettings` and its retry policy",
    "repr:ChatR1V4": "`repr`/`str` of `ChatR1V4` (and the core clients it made)",
    "repr:R1V4": "`repr`/`str` of LlamaIndex `R1V4` (and the core clients it made)",
    "errors:message": "`str`/`repr` of every error raised on all 12 paths (HTTP, connection, "
    "timeout, stream, auth)",
    "errors:chain": "the full `__cause__`/`__context__` chain and formatted traceback of each",
    "langchain:dumpd": "LangChain `dumpd`",
    "langchain:dumps": "LangChain `dumps` (compact and pretty)",
    "langchain:model_dump": "`ChatR1V4.model_dump()`/`model_dump_json()`",
    "langchain:ls_params": "LangSmith params `_get_ls_params()`",
    "langchain:identifying_params": "`_identifying_params` and `_get_invocation_params()`",
    "langchain:callbacks": "every callback event (start/token/end/error) on the 4 LangChain "
    "paths, all arguments",
    "llama_index:to_dict": "LlamaIndex `to_dict()`/`dict()`/`model_dump()`",
    "llama_index:to_json": "LlamaIndex `to_json()`/`json()`/`model_dump_json()`",
    "llama_index:to_payload": "LlamaIndex `to_payload()`",
    "llama_index:instrumentation": "every LlamaIndex instrumentation event and span on the 4 "
    "LlamaIndex paths (root dispatcher)",
    "logs:debug": "every log record of every logger at DEBUG on all 12 paths (and, by an autouse "
    "fixture, during every other test of the suite)",
    "warnings": "every warning raised, the plain-http one included",
}


# ------------------------------------------------------------------------------ checks

SECURITY_CHECKS: dict[str, str] = {
    "redirect-not-followed": "a 307 to another host is not followed by r1v4's own client: "
    "`APIStatusError` 307, the other host sees nothing",
    "redirect-user-client": "with the user's own httpx client (`follow_redirects=True`) the "
    "other host gets the request without `Authorization`",
    "tls-verify-default": "every client r1v4 builds verifies TLS: `CERT_REQUIRED`, "
    "`check_hostname`",
    "tls-self-signed-refused": "a self-signed HTTPS server is refused on every path "
    "(`APIConnectionError`, certificate verify failed)",
    "plain-http-warns": "the key over plain http to a non-loopback host warns, from the core, "
    "`ChatR1V4` and `R1V4`; loopback does not",
}

CLIENT_CHECKS: dict[str, str] = {
    "break-sync-stream": "breaking out of a sync stream closes the connection at once (the "
    "server sees the disconnect)",
    "cancel-async-stream": "cancelling the task consuming an async stream closes the "
    "connection at once",
    "lc-batch-return-exceptions": "`ChatR1V4.batch` of 200, 10 failing with HTTP 400: 190 "
    "answers in order, 10 `BadRequestError`s, 200 requests",
    "lc-abatch-return-exceptions": "the same with `abatch`",
}


# ------------------------------------------------------------------------------ findings

KNOWN_GAPS: list[str] = [
    "The plain-http warning of `ChatR1V4` and `R1V4` comes with the first call, when they build "
    "their core client, not at construction.",
    "Pickling `ChatR1V4` or `R1V4` keeps the key (a copy in another process needs it); pickles "
    "are not counted as a sink.",
    "Whitespace inside R1V4's `<answer>` tags and between transcript tags is trimmed (by "
    "design, see `r1v4._transcript`); a reply without tags arrives verbatim, and everything "
    "inside arrives intact, which is what `huge-response` checks.",
]
