"""Search results -> :class:`Source` s: the shapes deep-research observations come in.

A ``text_search`` observation ``[{"title", "url", "snippet"}]`` gives web sources; an
``image_search`` one ``[{"title", "source", "link"}]`` gives image sources with ``url`` = the
result page (``link``) and ``image_url`` = the image (``source``, as the published schema says;
swapped back when ``link`` is plainly the image file); ``web_content`` gives one web source with
the fetched URL. Lists wrapped as ``{"results": [...]}`` are accepted too.
"""

from __future__ import annotations

import json
from typing import Any

from r1v4._transcript._events import Source

__all__ = ["SEARCH_HINTS", "sources"]

_WEB_HINTS = frozenset({"text_search", "web_search", "search"})
_IMAGE_HINTS = frozenset({"image_search"})
_PAGE_HINTS = frozenset({"web_content"})
_LIST_KEYS = ("results", "result", "data", "items")
SEARCH_HINTS = _WEB_HINTS | _IMAGE_HINTS | _PAGE_HINTS
"""The tool names (or observation types) whose observations :func:`sources` reads."""
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".svg")


def _first_str(d: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = d.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _items(content: Any) -> list[Any]:
    """The result list of a search observation: a list, or one wrapped in a dict."""
    if isinstance(content, dict):
        for key in _LIST_KEYS:
            value = content.get(key)
            if isinstance(value, str) and value.lstrip().startswith("["):
                try:
                    value = json.loads(value)
                except ValueError:
                    continue
            if isinstance(value, list):
                return value
        return []
    return content if isinstance(content, list) else []


def _is_url(value: str | None) -> bool:
    return value is not None and value.startswith(("http://", "https://", "//", "data:"))


def _is_image_url(value: str | None) -> bool:
    return (
        value is not None
        and _is_url(value)
        and value.split("?", 1)[0].lower().endswith(_IMAGE_EXTS)
    )


def sources(hint: str | None, content: Any, call_arguments: Any) -> tuple[Source, ...]:
    """The sources in an observation's ``content``; ``hint`` is the tool's name (or the
    observation's ``type``), ``call_arguments`` those of the call it answers."""
    if hint in _WEB_HINTS:
        found: list[Source] = []
        for item in _items(content):
            if isinstance(item, dict):
                title = _first_str(item, ("title", "name"))
                url = _first_str(item, ("url", "link", "href"))
                if title or url:
                    snippet = _first_str(item, ("snippet", "content", "description", "summary"))
                    found.append(Source(title, url, snippet, None, "web"))
        return tuple(found)
    if hint in _IMAGE_HINTS:
        found = []
        for item in _items(content):
            if isinstance(item, dict):
                # The published schema: "source" is the image's URL, "link" the result page.
                title = _first_str(item, ("title", "name"))
                page = _first_str(item, ("link", "url", "page_url"))
                source = _first_str(item, ("source",))
                image = source if _is_url(source) else None
                image = image or _first_str(
                    item, ("image_url", "image", "original", "thumbnail", "img_url")
                )
                if _is_image_url(page) and not _is_image_url(image):
                    page, image = image, page  # the two keys were swapped
                if title or page or image:
                    found.append(Source(title, page, None, image, "image"))
        return tuple(found)
    if hint in _PAGE_HINTS:
        url = call_arguments.get("url") if isinstance(call_arguments, dict) else None
        title = None
        if isinstance(content, list) and content and isinstance(content[0], dict):
            content = content[0]  # some servers wrap the page summary in a list
        if isinstance(content, dict):
            url = url or _first_str(content, ("url", "link"))
            title = _first_str(content, ("title",))
        if isinstance(url, str) and url:
            return (Source(title, url, None, None, "web"),)
    return ()
