"""Finding ``data:image/<type>;base64,<data>`` URIs in text that arrives piece by piece.

The same scanner reads an observation's raw text as it streams (JSON with its escapes) and,
at the end, the strings of its parsed JSON, so both agree on what is an image. Rules:

* the data is base64 characters; inside JSON text ``\\/`` is a ``/`` (in the header too) and
  ``\\n``/``\\r`` are line breaks, as are real ones;
* base64 wrapped over lines (every line as long as the first, at least 16 characters, a
  multiple of 4, no padding before the last line) continues across the breaks; a next line
  that is longer, or that is followed by a space or a letter rather than by a JSON quote or
  bracket, a break or the end, is text after the image, not part of it;
* the URI ends at the first other character (or at the end of the text, when that is known to
  be the end).

Each piece is looked at once, and only a marker's first characters or a URI's header are
carried over between pieces, so the cost is linear in the text however it is cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "IMAGE_PLACEHOLDER",
    "MARK",
    "DataUriScanner",
    "FoundUri",
    "find_data_uris",
    "without_images",
]

IMAGE_PLACEHOLDER = "[generated image omitted]"
"""What a transcript kept for history holds in place of each image data URI (plain text, safe
inside the JSON strings of an observation)."""

MARK = "data:image"
"""Where every image data URI starts."""
# "/" may be written "\/" in JSON.
_HEADER = re.compile(r"(?:/|\\/)([A-Za-z0-9.+-]{1,40});base64,")
# A header cut off by the end of a piece that may still become one.
_HEADER_START = re.compile(
    r"(?:\\?|(?:/|\\/)[A-Za-z0-9.+-]{0,40}(?:;(?:b(?:a(?:s(?:e(?:6(?:4)?)?)?)?)?)?)?)"
)
_RUN = re.compile(r"[A-Za-z0-9+/=]+")
# What may follow the last line of a wrapped image (a JSON string's end, brackets, a tag).
_LINE_END = frozenset("\"'\\,;}])<")
_MIN_WIDTH = 16

_SEARCH, _DATA = 0, 1


@dataclass(frozen=True, slots=True)
class FoundUri:
    """One image data URI: ``subtype`` as declared, ``base64`` without line breaks, and where
    it is in the scanned text (``start`` at ``data:``, ``end`` just after the data)."""

    subtype: str
    base64: str
    start: int
    end: int


class DataUriScanner:
    """Feed text pieces, get the data URIs each completes; :meth:`close` at the end."""

    __slots__ = (
        "_carry",
        "_carry_at",
        "_cp_end",
        "_cp_parts",
        "_line",
        "_mode",
        "_padded",
        "_parts",
        "_pos",
        "_start",
        "_subtype",
        "_width",
    )

    def __init__(self, start: int = 0) -> None:
        """``start``: the offset of the first piece in the whole text."""
        self._pos = start  # offset of the next piece in the whole text
        self._carry = ""  # text held over: a marker's start, a header, a lone backslash
        self._carry_at = 0
        self._mode = _SEARCH
        self._start = 0
        self._subtype = ""
        self._parts: list[str] = []
        self._line = 0  # length of the current line of data
        self._width: int | None = None  # length of the first line, once a break came
        self._padded = False
        # After a line break that may continue the data: where the image ends if the next
        # line turns out not to be part of it.
        self._cp_end: int | None = None
        self._cp_parts = 0

    def feed(self, piece: str) -> list[FoundUri]:
        if self._carry:
            text, base = self._carry + piece, self._carry_at
            self._carry = ""
        else:
            text, base = piece, self._pos
        self._pos += len(piece)
        found: list[FoundUri] = []
        pos, n = 0, len(text)
        while pos < n:
            if self._mode == _DATA:
                pos = self._data(text, pos, base, found)
                continue
            i = text.find(MARK, pos)
            if i < 0:
                # The last few characters may be the start of a marker the next piece ends.
                keep = max(pos, n - len(MARK) + 1)
                if keep < n:
                    self._carry, self._carry_at = text[keep:], base + keep
                return found
            h = i + len(MARK)
            m = _HEADER.match(text, h)
            if m is None:
                if _HEADER_START.fullmatch(text, h):  # the header may go on in the next piece
                    self._carry, self._carry_at = text[i:], base + i
                    return found
                pos = i + 1
                continue
            self._mode = _DATA
            self._start = base + i
            self._subtype = m.group(1)
            self._parts = []
            self._line = 0
            self._width = None
            self._padded = False
            self._cp_end = None
            pos = m.end()
        return found

    def close(self, *, at_end: bool = True) -> FoundUri | None:
        """The URI the text ends inside, if any: complete when ``at_end`` (the text is known
        to end there, as an observation does), else cut off."""
        if self._mode != _DATA:
            return None
        end = self._pos - len(self._carry)
        self._carry = ""
        if not at_end:
            self._mode = _SEARCH
            return FoundUri(self._subtype, "".join(self._parts), self._start, end)
        return self._finish(end, True)

    # -- data ----------------------------------------------------------------------------------

    def _data(self, text: str, pos: int, base: int, found: list[FoundUri]) -> int:
        """Read data from ``pos``; the offset to go on from (``len(text)`` when all is read)."""
        n = len(text)
        while pos < n:
            m = _RUN.match(text, pos)
            if m is not None:
                run = m.group()
                self._parts.append(run)
                self._line += len(run)
                if "=" in run:
                    self._padded = True
                pos = m.end()
                continue
            c = text[pos]
            if c == "\\":
                if pos + 1 == n:
                    self._carry, self._carry_at = "\\", base + pos
                    return n
                nxt = text[pos + 1]
                if nxt == "/":
                    self._parts.append("/")
                    self._line += 1
                    pos += 2
                    continue
                if nxt in "nr":
                    if not self._break(base + pos, found):
                        return pos
                    pos += 2
                    continue
            elif c in "\r\n":
                if not self._break(base + pos, found):
                    return pos
                pos += 1
                continue
            self._end(found, self._finish(base + pos, c in _LINE_END))
            return pos
        return n

    def _break(self, at: int, found: list[FoundUri]) -> bool:
        """A line break in the data at ``at``: whether the data may go on after it."""
        line = self._line
        if line == 0:  # "\r\n", a blank line, or a break right after the header: one break
            return True
        if self._width is None:
            self._width = line
        width = self._width
        if line == width and width >= _MIN_WIDTH and width % 4 == 0 and not self._padded:
            self._cp_end, self._cp_parts = at, len(self._parts)
            self._line = 0
            return True
        self._end(found, self._finish(at, True))
        return False

    def _finish(self, end: int, line_may_end: bool) -> FoundUri:
        """The URI whose data stops at ``end``; a line after a break is kept only when it can
        be the last line of wrapped base64."""
        parts = self._parts
        if self._cp_end is not None:
            width = self._width or 0
            total = sum(map(len, parts))
            keep_line = self._line > 0 and line_may_end and self._line <= width and total % 4 == 0
            if not keep_line:
                end = self._cp_end
                parts = parts[: self._cp_parts]
        self._mode = _SEARCH
        self._parts = []
        return FoundUri(self._subtype, "".join(parts), self._start, end)

    @staticmethod
    def _end(found: list[FoundUri], uri: FoundUri) -> None:
        if uri.base64:
            found.append(uri)


def find_data_uris(text: str) -> list[FoundUri]:
    """Every image data URI in a whole text."""
    if MARK not in text:
        return []
    scanner = DataUriScanner()
    found = scanner.feed(text)
    last = scanner.close()
    if last is not None and last.base64:
        found.append(last)
    return found


def without_images(text: str) -> str:
    """``text`` with each image data URI replaced by :data:`IMAGE_PLACEHOLDER`."""
    found = find_data_uris(text)
    if not found:
        return text
    pieces: list[str] = []
    at = 0
    for uri in found:
        pieces.append(text[at : uri.start])
        pieces.append(IMAGE_PLACEHOLDER)
        at = uri.end
    pieces.append(text[at:])
    return "".join(pieces)
