"""What a backend returned -> the observation shapes R1V4 reads (its published deep-research
transcripts, see SkyworkAI/Skywork-R1V ``r1v4/inference/request_deepresearch.py``):

* ``text_search``: ``[{"title", "url", "snippet"}]``;
* ``image_search``: ``[{"title", "source", "link"}]``, ``source`` the image's URL and ``link``
  the page it is on;
* ``web_content``: ``[{"url", "title", "content"}]``, the page's text (or a summary of it).

Backends answer in many shapes, all read here: a list of results, a dict holding one under
``results``/``items``/``data``/``organic``/``images``/…, one result alone, or JSON text of any
of these; a result is a dict (under the usual names: ``title``/``name``, ``url``/``link``/
``href``, ``snippet``/``content``/``description``/``body``/…), a URL, or plain text. A
``DuckDuckGoSearchRun``-style plain string becomes one result whose snippet is that text.
Strings are capped so one result cannot flood the model's context.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["image_results", "page", "text_results"]

_LIST_KEYS = (
    "results",
    "items",
    "data",
    "organic",
    "organic_results",
    "images",
    "image_results",
    "value",
    "hits",
    "documents",
)
_TITLE = ("title", "name", "headline")
_URL = ("url", "link", "href", "page_url", "source_url")
_SNIPPET = ("snippet", "content", "description", "summary", "body", "text", "page_content")
_IMAGE = ("image_url", "image", "original", "thumbnail", "img_url", "thumbnail_url", "src")
_PAGE_TEXT = ("content", "text", "page_content", "markdown", "raw_content", "summary", "body")
_FIELD_CHARS = 2000


def _cut(value: str, limit: int = _FIELD_CHARS) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _first(item: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "//", "data:image/"))


def _items(raw: Any) -> list[Any]:
    """The results a backend's answer holds, whatever it wrapped them in."""
    if isinstance(raw, str):
        text = raw.strip()
        if text[:1] in ("[", "{"):
            try:
                return _items(json.loads(text))
            except ValueError:
                pass
        return [text] if text else []
    if isinstance(raw, Mapping):
        for key in _LIST_KEYS:
            value = raw.get(key)
            if isinstance(value, (list, tuple)) or (
                isinstance(value, str) and value.lstrip().startswith("[")
            ):
                return _items(value)
        return [raw]
    if isinstance(raw, Iterable) and not isinstance(raw, (bytes, bytearray)):
        return list(raw)
    return [] if raw is None else [str(raw)]


def text_results(raw: Any, limit: int) -> list[dict[str, str]]:
    """``text_search``'s observation from a backend's answer."""
    out: list[dict[str, str]] = []
    for item in _items(raw):
        if isinstance(item, Mapping):
            entry = {
                "title": _cut(_first(item, _TITLE), 300),
                "url": _first(item, _URL),
                "snippet": _cut(_first(item, _SNIPPET)),
            }
        elif isinstance(item, str) and _is_url(item.strip()):
            entry = {"title": "", "url": item.strip(), "snippet": ""}
        else:
            entry = {"title": "", "url": "", "snippet": _cut(str(item).strip())}
        if any(entry.values()):
            out.append(entry)
        if len(out) >= limit:
            break
    return out


def image_results(raw: Any, limit: int) -> list[dict[str, str]]:
    """``image_search``'s observation from a backend's answer."""
    out: list[dict[str, str]] = []
    for item in _items(raw):
        if isinstance(item, Mapping):
            source = _first(item, _IMAGE)
            named_source = _first(item, ("source",))
            if not source and _is_url(named_source):
                source = named_source  # the published schema: "source" is the image
            link = _first(item, ("link", "url", "page_url", "href", "source_url"))
            if link == source:
                link = ""
            entry = {"title": _cut(_first(item, _TITLE), 300), "source": source, "link": link}
        elif isinstance(item, str) and _is_url(item.strip()):
            entry = {"title": "", "source": item.strip(), "link": ""}
        else:
            entry = {"title": _cut(str(item).strip(), 300), "source": "", "link": ""}
        if any(entry.values()):
            out.append(entry)
        if len(out) >= limit:
            break
    return out


def page(raw: Any, url: str, limit: int) -> list[dict[str, str]]:
    """``web_content``'s observation: the page's text (up to ``limit`` characters)."""
    title = ""
    parts: list[str] = []
    for item in raw if isinstance(raw, (list, tuple)) else [raw]:
        if isinstance(item, Mapping):
            title = title or _first(item, _TITLE)
            text = _first(item, _PAGE_TEXT)
            if not text:
                text = json.dumps(item, ensure_ascii=False, default=str)
            parts.append(text)
        elif item is not None:
            parts.append(str(item).strip())
    content = "\n\n".join(p for p in parts if p)
    if len(content) > limit:
        content = content[:limit] + f"… [cut at {limit:,} characters]"
    return [{"url": url, "title": _cut(title, 300), "content": content}]
