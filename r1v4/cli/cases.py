"""The input of ``r1v4 batch``: cases, their ids, their requests, and deterministic shards.

A cases file is JSON Lines, one case per line, in the vendor's format (``{"image": path,
"question": text}``, ``"image": ""`` meaning none) plus optional keys: ``id``, ``model``,
``enable_search``, ``images`` (a list) and ``messages`` (an OpenAI-style conversation sent
before the question). Relative image paths are relative to the cases file's directory.

The cases file is the operator's own input, so its local image paths are read: they reach the
client as ``pathlib.Path`` objects, which it reads whatever ``allow_file_paths`` says, while
every other rule of what a message may make it do (no private addresses) still holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1v4 import is_data_uri, is_remote_url

__all__ = [
    "Case",
    "CaseError",
    "Shard",
    "load_cases",
    "parse_shard",
]

_KNOWN_KEYS = frozenset({"id", "image", "images", "question", "model", "enable_search", "messages"})


class CaseError(ValueError):
    """A cases file that cannot be run as written (the message names the line)."""


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
        return [str(ref) for ref in self._image_refs()]

    def _image_refs(self) -> list[str | Path]:
        refs: list[str] = []
        image = self.data.get("image")
        if isinstance(image, str) and image.strip():
            refs.append(image)
        refs.extend(i for i in self.data.get("images") or () if i.strip())
        return [_resolve(ref, self.base_dir) for ref in refs]

    def messages(self) -> list[dict[str, Any]]:
        """The conversation to send: the case's ``messages``, then images and question (images
        first, as the vendor's scripts send them)."""
        messages = [_resolve_message(m, self.base_dir) for m in self.data.get("messages") or ()]
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": ref}} for ref in self._image_refs()
        ]
        if self.question:
            parts.append({"type": "text", "text": self.question})
        if parts:
            messages.append({"role": "user", "content": parts})
        return messages


def _resolve(ref: str, base_dir: Path) -> str | Path:
    """A data URI or URL as written; a local path resolved, as a ``Path`` (see above)."""
    if is_data_uri(ref) or is_remote_url(ref):
        return ref
    path = Path(ref).expanduser()
    return path if path.is_absolute() else base_dir / path


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
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _check(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise CaseError(f"{where}: a case must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise CaseError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("question", "image", "model"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise CaseError(f"{where}: {key!r} must be a string")
    if "id" in data and not (isinstance(data["id"], (str, int)) and str(data["id"]).strip()):
        raise CaseError(f"{where}: 'id' must be a non-empty string or an integer")
    images = data.get("images")
    if images is not None and not (
        isinstance(images, list) and all(isinstance(i, str) for i in images)
    ):
        raise CaseError(f"{where}: 'images' must be a list of strings")
    if "enable_search" in data and not isinstance(data["enable_search"], (bool, type(None))):
        raise CaseError(f"{where}: 'enable_search' must be true or false")
    messages = data.get("messages")
    if messages is not None and not (
        isinstance(messages, list) and all(isinstance(m, dict) for m in messages)
    ):
        raise CaseError(f"{where}: 'messages' must be a list of message objects")
    if not (data.get("question") or messages):
        raise CaseError(f"{where}: a case needs a 'question' or 'messages'")
    return data


def load_cases(path: str | Path) -> list[Case]:
    """Read and check every case of a JSON Lines file (blank lines are skipped).

    Ids: a case's ``id`` when given (unique in the file), else its content hash; the second
    identical line gets ``-2`` appended, and so on, so repeated cases each run once.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    base_dir = path.resolve().parent
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = _check(json.loads(line), where)
        except json.JSONDecodeError as exc:
            raise CaseError(f"{where}: not JSON ({exc.msg})") from None
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


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``: the cases whose id hashes to it."""

    index: int
    count: int

    def __contains__(self, case: object) -> bool:
        if not isinstance(case, Case):
            return False
        digest = hashlib.sha256(case.id.encode("utf-8")).digest()
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
