"""One API call across its attempts, without the I/O: the body to send, how to read the reply,
and after a failure how long to wait before the next attempt (or the error to raise).

The four loops of the clients (sync and async, create and stream) only send, sleep and yield;
every decision they act on is made here, with :mod:`r1v4._retry`, so they cannot disagree.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from r1v4._errors import (
    IncompleteStreamError,
    MalformedResponseError,
    R1V4Error,
    error_from_body,
    error_from_response,
)
from r1v4._request import prepare
from r1v4._retry import transport_error
from r1v4._sse import SSEDecoder
from r1v4._streaming import Continuation, ResponseParser
from r1v4._types import ChatCompletion, ChatCompletionChunk, ChatRequest

if TYPE_CHECKING:
    import httpx

    from r1v4._config import ClientSettings

__all__ = ["Call", "StreamReader", "is_event_stream"]


class Call:
    """One API call: the prepared body now, and each failed attempt's verdict.

    ``continues`` makes it one round of a reply the client continues (see
    :mod:`r1v4._tool_loop`): each attempt's parser starts from a copy of it, and
    :attr:`parser` is the last attempt's, which the loop reads once the round is done.
    """

    __slots__ = ("attempt", "continues", "parser", "prepared", "settings")

    def __init__(
        self, settings: ClientSettings, request: ChatRequest, continues: Continuation | None = None
    ) -> None:
        self.settings = settings
        self.prepared = prepare(settings, request)
        self.attempt = 0
        self.continues = continues
        self.parser: ResponseParser | None = None

    def new_parser(self) -> ResponseParser:
        c = self.continues
        self.parser = ResponseParser(
            self.prepared.client_tools, c.for_attempt() if c is not None else None
        )
        return self.parser

    def new_reader(self) -> StreamReader:
        return StreamReader(self.new_parser())

    def completion(self, body: bytes) -> ChatCompletion:
        return self.new_parser().parse_completion(body)

    def completion_chunk(self, body: bytes) -> ChatCompletionChunk:
        """The whole non-stream reply as one chunk (a round of a continued reply)."""
        return self.new_parser().parse_completion_chunk(body)

    def raise_refused(self, response: httpx.Response, body: bytes) -> NoReturn:
        """Raise for a stream request answered with an error status or not as an event stream."""
        if response.status_code >= 300:
            raise error_from_response(response.status_code, response.headers, body)
        _not_an_event_stream(response, body)

    def delay_after_lost(self, exc: httpx.HTTPError) -> float:
        """:meth:`delay_after_failure` for a request the transport lost."""
        return self.delay_after_failure(transport_error(exc), exc)

    def delay_after_rejected(self, response: httpx.Response) -> float:
        """:meth:`delay_after_failure` for a non-stream request answered with an error status."""
        err = error_from_response(response.status_code, response.headers, response.content)
        return self.delay_after_failure(err, None, response.headers)

    def delay_after_failure(
        self,
        err: R1V4Error,
        cause: BaseException | None,
        headers: Mapping[str, str] | None = None,
        delivered: bool = False,
    ) -> float:
        """Seconds to wait before trying again; raises ``err`` when it is final."""
        settings = self.settings
        if settings.tool_fallback.learn(err, self.prepared, settings):
            # Resent at once without native tools; a fallback does not use up a retry.
            self.prepared = prepare(settings, self.prepared.request)
            return 0.0
        delay = None if delivered else settings.retry_delay(err, self.attempt, headers)
        if delay is None:
            raise err from cause
        self.attempt += 1
        return delay


def is_event_stream(response: httpx.Response) -> bool:
    ctype: str = response.headers.get("content-type", "")
    return ctype.startswith("text/event-stream")


def _not_an_event_stream(response: httpx.Response, body: bytes) -> NoReturn:
    """Raise for a 2xx reply to a stream request that is not an event stream."""
    parsed: Any = None
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
    if isinstance(parsed, dict) and "choices" not in parsed:
        raise error_from_body(response.status_code, parsed)
    ctype = response.headers.get("content-type", "")
    raise MalformedResponseError(
        f"expected an event stream but the server sent {ctype or 'no content type'}: "
        f"{body[:200].decode('utf-8', 'replace')!r}",
        status_code=response.status_code,
        body=body[:200].decode("utf-8", "replace"),
    )


class StreamReader:
    """Raw response bytes -> chunks, for one attempt of one stream.

    An attempt that fails before it has delivered (``parser.delivered``: answer or reasoning
    text, a tool call, a trace event) is retried, and a retried attempt must leave nothing with
    the caller: not its role chunk, not the raw text of a tag its transcript was holding back,
    not its id. So the reader holds an attempt's chunks until it has delivered or is complete,
    then releases them all at once; the next attempt gets a new reader. A stream delivers with
    its first text, so what waits is only the content-free chunks before it.
    """

    __slots__ = ("decoder", "held", "parser")

    def __init__(self, parser: ResponseParser) -> None:
        self.decoder = SSEDecoder()
        self.parser = parser
        # The chunks not released yet; None once they were (the rest then pass straight on).
        self.held: list[ChatCompletionChunk] | None = []

    def feed(self, data: bytes) -> Iterable[ChatCompletionChunk]:
        """The chunks completed by ``data`` that the caller may have now.

        A list while every event parses: the callers yield from it, and a generator here
        would be one more frame to resume per chunk. When one event of a read fails (a
        malformed chunk, an error event), the good chunks before it still reach the caller
        before the error does (if they are released), so the caller has seen exactly the
        ``partial_content`` the error carries.
        """
        parser = self.parser
        if parser.done:
            return ()  # draining after [DONE] so the connection can go back to the pool
        out: list[ChatCompletionChunk] = []
        for _event, payload in self.decoder.feed(data):
            if parser.done:
                break
            try:
                chunk = parser.parse_event(payload)
            except Exception as exc:  # (any, so it comes in the order it did from a generator)
                return _then_raise(self._release(out), exc)
            if chunk is not None:
                out.append(chunk)
        return out if self.held is None else self._release(out)

    def end(self) -> Iterable[ChatCompletionChunk]:
        """The chunks the end of the body completes; raises when the stream was incomplete."""
        parser = self.parser
        out: list[ChatCompletionChunk] = []
        try:
            if not parser.done:
                for _event, payload in self.decoder.close():
                    chunk = parser.parse_event(payload)
                    if chunk is not None:
                        out.append(chunk)
            last = parser.finish()
            if last is not None:
                out.append(last)
            if not parser.done:
                raise parser.fail(
                    IncompleteStreamError("the stream ended before the server sent [DONE]")
                )
        except Exception as exc:
            return _then_raise(self._release(out), exc)
        return self._release(out)

    def _release(self, chunks: list[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
        """``chunks``, after those held before them, once the attempt has delivered or is
        complete; until then nothing (they are held)."""
        held = self.held
        if held is None:
            return chunks
        held += chunks
        parser = self.parser
        if parser.delivered or parser.done:
            self.held = None
            return held
        return []


def _then_raise(
    chunks: list[ChatCompletionChunk], exc: Exception
) -> Generator[ChatCompletionChunk, None, None]:
    """The good chunks of a read (those released), then the error of the event after them."""
    yield from chunks
    raise exc
