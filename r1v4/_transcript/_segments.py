"""What the parser accumulates between tags: streamed text segments and held payloads."""

from __future__ import annotations

from r1v4._transcript._events import AnswerDelta, ReasoningDelta, TranscriptEvent
from r1v4._transcript._image_uris import MARK, DataUriScanner, FoundUri

__all__ = ["Payload", "Segment"]


class Segment:
    """The whitespace rules of one kind of streamed text (answer or reasoning).

    A segment is the text between two structural tags: it loses its leading and trailing
    whitespace, holds trailing whitespace until more of its text arrives, and is joined to the
    previous segment of its kind with a blank line.

    An answer starts ``verbatim``: until a structural tag opens, the content is the server's
    text exactly (a plain reply from any server keeps its whitespace). Whitespace is still held
    while it is all there is, so that the blank before a ``<think>`` is not answer text; it is
    given back by :meth:`flush` if no tag ever comes.
    """

    __slots__ = ("kind", "open", "seen", "verbatim", "ws")

    def __init__(self, kind: type[AnswerDelta] | type[ReasoningDelta], verbatim: bool = False):
        self.kind = kind
        self.open = False  # this segment has emitted text
        self.ws = ""  # whitespace held back
        self.seen = False  # some segment of this kind has emitted text
        self.verbatim = verbatim

    def text(self, text: str) -> str:
        """What ``text`` adds to the stream (``""`` when all of it is held or dropped)."""
        if self.open:
            body = text.rstrip()
            if not body:
                self.ws += text
                return ""
            ws = self.ws
            self.ws = text[len(body) :]
            return ws + body if ws else body
        if self.verbatim:
            lead = self.ws + text
            body = lead.rstrip()
            if not body:
                self.ws = lead
                return ""
            self.ws = lead[len(body) :]
            self.open = self.seen = True
            return body
        text = text.lstrip()
        if not text:
            return ""
        body = text.rstrip()
        self.ws = text[len(body) :]
        self.open = True
        if self.seen:
            return "\n\n" + body
        self.seen = True
        return body

    def emit(self, text: str, out: list[TranscriptEvent]) -> None:
        piece = self.text(text)
        if piece:
            out.append(self.kind(piece))

    def flush(self, out: list[TranscriptEvent]) -> None:
        """End of a verbatim answer: the whitespace held back is the server's text too."""
        if self.verbatim and self.ws:
            out.append(self.kind(self.ws))
        self.ws = ""

    def end(self) -> None:
        """A structural tag: this segment is over, and the answer is a transcript now."""
        self.open = False
        self.ws = ""
        self.verbatim = False


class Payload:
    """The body of an open payload tag, found complete without rescanning what came before."""

    __slots__ = ("close", "found", "parts", "scan", "scanner", "size", "tag", "tail")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.close = f"</{tag}>"
        self.parts: list[str] = []
        self.size = 0  # characters taken, so found URIs say where they are in the body
        # The last few characters, so a closing tag split across deltas is still found.
        self.tail = ""
        # Observations may carry images the agent generated, found as the text streams; the
        # scanner starts at the first image marker, so an observation without one costs a find.
        self.scan = tag == "observation"
        self.scanner: DataUriScanner | None = None
        self.found: list[FoundUri] = []  # the images completed by the text taken last

    def add(self, text: str) -> None:
        """Take text that cannot end the closing tag (it has no ``>``)."""
        self.parts.append(text)
        keep = len(self.close) - 1
        before = self.tail
        self.tail = text[-keep:] if len(text) >= keep else (before + text)[-keep:]
        if self.scan:
            self._scan(before, text)
        self.size += len(text)

    def _scan(self, before: str, text: str) -> None:
        scanner = self.scanner
        if scanner is None:
            # ``before`` (longer than the marker) holds a marker's start cut off last time.
            edge = before[1 - len(MARK) :] + text[: len(MARK) - 1]
            if MARK not in text and MARK not in edge:
                return
            prefix = before[1 - len(MARK) :]
            scanner = self.scanner = DataUriScanner(self.size - len(prefix))
            text = prefix + text
        self.found = scanner.feed(text)

    def take(self, text: str) -> int | None:
        """Take ``text`` up to the closing tag: where the text after the tag starts in
        ``text``, or ``None`` (all taken) when the tag has not come yet."""
        close, tail = self.close, self.tail
        probe = tail + text if tail else text
        j = probe.find(close)
        if j < 0:
            self.add(text)
            return None
        cut = j - len(tail)  # where the closing tag starts in ``text``; < 0 if in earlier parts
        if cut >= 0:
            self.parts.append(text[:cut])
            if self.scan:
                self._scan(tail, text[:cut])
            self.size += cut
        else:
            # The scanner has seen the tag's first characters: harmless, "<" ends any image.
            self.parts = ["".join(self.parts)[:cut]]
        return cut + len(close)

    def body(self) -> str:
        return "".join(self.parts)
