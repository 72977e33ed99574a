"""The input of ``r1v4 batch``: cases, their ids, their requests, and deterministic shards.

A cases file is JSON Lines, one case per line, in the vendor's format (``{"image": path,
"question": text}``, ``"image": ""`` meaning none; their benchmark files add ``"answer"``). The
batch reads ``id``, ``image``, ``images`` (a list), ``question``, ``model``, ``enable_search``
and ``messages`` (an OpenAI-style conversation sent before the question), and checks only
those; every other field (a reference answer, a category...) is the operator's own, carried
untouched into the case's result line. Relative image paths are relative to the cases file's
folder, and the batch reads the files itself: what it sends holds data URIs, never paths.

Lines end at ``\\n`` alone (``\\r\\n`` too): a JSON string may hold U+2028, U+2029, U+0085 or
a raw ``\\r``, which ``str.splitlines`` would take for line ends.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1v4 import aimage_to_data_uri, is_data_uri, is_remote_url

__all__ = [
    "READ_FIELDS",
    "Case",
    "CaseError",
    "Shard",
    "load_cases",
    "parse_shard",
]

READ_FIELDS = ("id", "image", "images", "question", "model", "enable_search", "messages")
"""The fields of a case the batch reads (and so checks); the others are carried as they are."""

log = logging.getLogger("r1v4.cli")

# "ftp://...", "file:///...": not a path; left for the core to refuse by its scheme.
_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


class CaseError(ValueError):
    """A cases file that cannot be run as written (the message names the line and field)."""


@dataclass(frozen=True, slots=True)
class Case:
    """One case: its id, the line as written, and where it was read from."""

    id: str
    data: dict[str, Any]
    line: int
    base_dir: Path

    @property
    def question(self) -> str:
        question = self.data.get("question")
        return question if isinstance(question, str) else ""

    @property
    def images(self) -> list[str]:
        """The case's image references, relative paths resolved against the cases file."""
        refs: list[str] = []
        image = self.data.get("image")
        if isinstance(image, str) and image.strip():
            refs.append(image)
        refs.extend(i for i in self.data.get("images") or () if i.strip())
        return [_resolve(ref, self.base_dir) for ref in refs]

    def messages(self) -> list[dict[str, Any]]:
        """The conversation to send: the case's ``messages``, then images and question (images
        first, as the vendor's scripts send them); local image paths resolved, not yet read."""
        messages = [_resolve_message(m, self.base_dir) for m in self.data.get("messages") or ()]
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": ref}} for ref in self.images
        ]
        if self.question:
            parts.append({"type": "text", "text": self.question})
        if parts:
            messages.append({"role": "user", "content": parts})
        return messages

    async def request_messages(
        self, *, max_bytes: int, max_pixels: int | None
    ) -> list[dict[str, Any]]:
        """:meth:`messages` as sent: each local image file read and checked into a data URI.

        The cases file is the operator's own input, so its paths are read here, by the batch,
        rather than by a client that refuses paths in message content.

        Raises:
            ImageError: an image file is missing, not a supported image, or too large.
        """
        messages = self.messages()
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            for part in content if isinstance(content, list) else ():
                image_url = part.get("image_url") if isinstance(part, dict) else None
                if not isinstance(image_url, dict):
                    continue
                url = image_url.get("url")
                if isinstance(url, str) and _is_local(url):
                    # A dict messages() made, never one of the case's own.
                    image_url["url"] = await aimage_to_data_uri(
                        Path(url), max_bytes=max_bytes, max_pixels=max_pixels
                    )
        return messages


def _is_local(ref: str) -> bool:
    return not (is_data_uri(ref) or is_remote_url(ref) or _URL_LIKE.match(ref))


def _resolve(ref: str, base_dir: Path) -> str:
    if not _is_local(ref):
        return ref
    path = Path(ref).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def _resolve_message(message: Any, base_dir: Path) -> Any:
    """A copy of ``message`` whose local image paths are resolved like the case's images."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    parts = []
    for part in message["content"]:
        image_url = part.get("image_url") if isinstance(part, dict) else None
        if isinstance(image_url, dict) and isinstance(image_url.get("url"), str):
            part = {**part, "image_url": {**image_url, "url": _resolve(image_url["url"], base_dir)}}
        parts.append(part)
    return {**message, "content": parts}


def content_hash(data: dict[str, Any]) -> str:
    """The id of a case without one: a hash of its canonical JSON (key order does not matter)."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check(data: Any, where: str) -> dict[str, Any]:
    """``data`` when the fields the batch reads are usable; the others are not looked at."""
    if not isinstance(data, dict):
        raise CaseError(f"{where}: a case must be a JSON object, got {_kind(data)}")

    def refuse(key: str, what: str) -> CaseError:
        return CaseError(f"{where}: field {key!r} must be {what}, got {_kind(data[key])}")

    for key in ("question", "image", "model"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise refuse(key, "a string")
    if "id" in data:
        value = data["id"]
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise refuse("id", "a non-empty string or an integer")
    images = data.get("images")
    if images is not None and not (
        isinstance(images, list) and all(isinstance(i, str) for i in images)
    ):
        raise refuse("images", "a list of strings")
    if data.get("enable_search") is not None and not isinstance(data["enable_search"], bool):
        raise refuse("enable_search", "true or false")
    messages = data.get("messages")
    if messages is not None and not (
        isinstance(messages, list) and all(isinstance(m, dict) for m in messages)
    ):
        raise refuse("messages", "a list of message objects")
    if not (data.get("question") or messages):
        raise CaseError(f"{where}: a case needs a 'question' or 'messages'")
    return data


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Each line of ``path`` with its number, split on ``\\n`` only (a binary file's lines)."""
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    # A UTF-8 byte order mark (Windows editors write one) is not JSON.
                    yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise CaseError(
                        f"{path}:{number}: not UTF-8 (byte {exc.start + 1} of the line)"
                    ) from None
    except OSError as exc:
        raise CaseError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_cases(path: str | Path) -> list[Case]:
    """Read and check every case of a JSON Lines file (blank lines are skipped).

    Ids: a case's ``id`` when given (unique in the file), else its content hash; the second
    identical line gets ``-2`` appended, and so on, so repeated cases each run once. A field the
    batch does not read is carried as is; one that looks like a misspelt read field
    (``"imgae"``) is logged once.

    Raises:
        CaseError: the file cannot be read, or a line is not JSON, not an object, or has a
            read field of the wrong type (the message names the line and the field).
    """
    path = Path(path)
    base_dir = path.resolve().parent
    cases: list[Case] = []
    seen: dict[str, int] = {}
    unread: set[str] = set()
    for number, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            # strict=False: a raw tab or \r inside a string is the operator's text, kept.
            data = _check(json.loads(line, strict=False), where)
        except json.JSONDecodeError as exc:
            raise CaseError(f"{where}: not JSON ({exc.msg})") from None
        _note_unread(data, unread, where)
        if "id" in data:
            case_id = str(data["id"])
            if case_id in seen:
                raise CaseError(f"{where}: id {case_id!r} already used on line {seen[case_id]}")
        else:
            base = content_hash(data)
            case_id, n = base, 1
            while case_id in seen:
                n += 1
                case_id = f"{base}-{n}"
        seen[case_id] = number
        cases.append(Case(case_id, data, number, base_dir))
    return cases


def _note_unread(data: dict[str, Any], unread: set[str], where: str) -> None:
    """Log, once per key, a field that is not read but is a near miss of one that is."""
    for key in sorted(data.keys() - READ_FIELDS - unread):
        unread.add(key)
        close = difflib.get_close_matches(key.lower(), READ_FIELDS, n=1, cutoff=0.75)
        if close:
            log.warning(
                "%s: field %r is not read by r1v4 batch (did you mean %r?); it is carried into "
                "the results as is",
                where,
                key,
                close[0],
            )


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``: the cases whose id hashes to it."""

    index: int
    count: int

    def __contains__(self, case: object) -> bool:
        if not isinstance(case, Case):
            return False
        digest = hashlib.sha256(case.id.encode("utf-8", "surrogatepass")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def select(self, cases: Iterable[Case]) -> list[Case]:
        return [case for case in cases if case in self]


def parse_shard(text: str) -> Shard:
    """``"I/N"`` with 1 <= I <= N (``2/4`` is the second of four shards)."""
    index, sep, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        shard = None
    if not sep or shard is None or not 1 <= shard.index <= shard.count:
        raise ValueError(f"--shard takes I/N with 1 <= I <= N (e.g. 1/4), not {text!r}")
    return shard
