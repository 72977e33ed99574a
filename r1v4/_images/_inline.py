"""A request's images -> data URIs, under the rules of what a message may make the client do.

Before anything is read or fetched, every image of the request is judged: a string that is
neither a data URI nor an http(s) URL is refused unless ``allow_file_paths`` (an
``os.PathLike`` is the caller's own and always read), and a URL whose host spells a non-public
address, or names this machine, is refused unless ``allow_private_urls`` (other hosts are
judged by the addresses they resolve to, in :mod:`r1v4._images._download`). Then the URLs the
client has not fetched before are downloaded, concurrently and under one deadline, and every
image is checked and encoded. Every error names the image's place in the request
(``message 2, part 1``).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from r1v4._errors import ImageError
from r1v4._fork import ForkAware
from r1v4._images._checked import CHECKED
from r1v4._images._download import Download, Fetch, Fetching, afetch_all, fetch_all
from r1v4._images._encode import finish
from r1v4._images._files import file_to_data_uri
from r1v4._images._from_data_uri import data_uri_to_data_uri
from r1v4._images._inputs import DataUri, File, Options, Url, classify, shorten
from r1v4._request import with_images
from r1v4._types import ChatRequest, ImagePart

if TYPE_CHECKING:
    from r1v4._config import ClientSettings

__all__ = ["Inliner", "UrlCache"]


class UrlCache(ForkAware):
    """The data URIs of the URLs a client fetched, so a conversation's images are downloaded
    once, not on every turn: bounded by count and by total length, least recently used out
    first, thread-safe, empty again in a forked child."""

    __slots__ = ("_chars", "_entries", "_lock", "max_chars", "max_entries")

    def __init__(self, max_entries: int = 128, max_chars: int = 64 * 1024 * 1024) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._reset()

    def get(self, url: str) -> str | None:
        with self._lock:
            uri = self._entries.get(url)
            if uri is not None:
                self._entries.move_to_end(url)
            return uri

    def put(self, url: str, uri: str) -> None:
        if len(uri) > self.max_chars:
            return
        with self._lock:
            old = self._entries.pop(url, None)
            if old is not None:
                self._chars -= len(old)
            self._entries[url] = uri
            self._chars += len(uri)
            while len(self._entries) > self.max_entries or self._chars > self.max_chars:
                self._chars -= len(self._entries.popitem(last=False)[1])

    def __len__(self) -> int:
        return len(self._entries)

    def after_fork(self) -> None:
        self._reset()  # a parent's thread may have held the lock at fork time

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0


class Inliner:
    """Turns the images of a client's requests into data URIs, under its settings; shared by
    the clients of one :class:`~r1v4.ClientSettings` (see ``image_inliner()``).

    Tests replace ``fetching`` with one holding their seams (a stand-in DNS, a TLS context,
    a judge of addresses): see :class:`~r1v4._images._download.Fetching`.
    """

    __slots__ = ("allow_file_paths", "cache", "fetching", "opts")

    def __init__(self, settings: ClientSettings) -> None:
        self.opts = Options.of(settings.max_image_bytes, settings.max_image_pixels, None)
        self.allow_file_paths = settings.allow_file_paths
        self.fetching = Fetching(settings.allow_private_urls, settings.image_download_timeout)
        self.cache = UrlCache()

    def inline(self, request: ChatRequest) -> ChatRequest:
        """``request`` with every image a checked data URI (the caller's request untouched)."""
        plan = _Plan(self, request)
        if plan.jobs:
            plan.bodies = fetch_all(plan.jobs)
        return plan.result(plan.convert())

    async def ainline(self, request: ChatRequest) -> ChatRequest:
        """Async :meth:`inline`: downloads on the event loop, reading and encoding in a thread."""
        plan = _Plan(self, request)
        if plan.jobs:
            plan.bodies = await afetch_all(plan.jobs)
        if not plan.work:
            return plan.result(plan.convert())  # every image already checked: no thread hop
        import asyncio

        return plan.result(await asyncio.to_thread(plan.convert))


class _Plan:
    """One request's images: where each is, what each needs, and, in the end, its data URI."""

    def __init__(self, inliner: Inliner, request: ChatRequest) -> None:
        self.inliner = inliner
        self.request = request
        self.where: list[str] = []
        self.uris: list[str | None] = []
        self.work: list[tuple[int, DataUri | File | Url]] = []
        self.jobs: list[Fetch] = []
        self.bodies: list[Download] = []
        self._job_of: dict[str, int] = {}
        for m, message in enumerate(request.messages):
            if not isinstance(message.content, list):
                continue
            for p, part in enumerate(message.content):
                if isinstance(part, ImagePart):
                    self._admit(f"message {m}, part {p}", part.image_url.url)

    def _admit(self, where: str, source: str | os.PathLike[str]) -> None:
        """Judge one image, refusing what a message may not ask for, and plan its work."""
        self.where.append(where)
        self.uris.append(None)
        k = len(self.uris) - 1
        if CHECKED.passes(source, self.inliner.opts):
            self.uris[k] = source
            return
        try:
            item = classify(source)
        except ImageError as exc:
            raise _placed(where, exc) from None
        if isinstance(item, File):
            if isinstance(source, str) and not self.inliner.allow_file_paths:
                raise ImageError(
                    f"{where}: image {shorten(source)!r} is neither a data: URI nor an http(s) "
                    "URL, and a string in a message is read as a local file path only when "
                    "the client allows it (allow_file_paths=True; or pass a pathlib.Path)"
                )
        elif isinstance(item, Url):
            cached = self.inliner.cache.get(item.url)
            if cached is not None:
                self.uris[k] = cached
                return
            if item.url not in self._job_of:
                job = Fetch(item, self.inliner.opts.max_bytes, self.inliner.fetching, where)
                job.precheck()
                self._job_of[item.url] = len(self.jobs)
                self.jobs.append(job)
        elif not isinstance(item, DataUri):  # bytes and PIL images are not wire content
            raise ImageError(f"{where}: unsupported image source {type(source).__name__}")
        self.work.append((k, item))

    def convert(self) -> list[str]:
        """Every image as a checked data URI (reads files: the async path runs it in a thread)."""
        opts, cache = self.inliner.opts, self.inliner.cache
        fetched: dict[str, str] = {}
        for k, item in self.work:
            if isinstance(item, Url):
                uri = fetched.get(item.url)
                if uri is None:
                    body = self.bodies[self._job_of[item.url]]
                    uri = fetched[item.url] = finish(body.body, opts, body.label)  # placed
                    cache.put(item.url, uri)
            else:
                try:
                    if isinstance(item, File):
                        uri = file_to_data_uri(item, opts)
                    else:
                        uri = data_uri_to_data_uri(item.value, opts)
                except ImageError as exc:
                    raise _placed(self.where[k], exc) from exc
            self.uris[k] = uri
        return [uri for uri in self.uris if uri is not None]

    def result(self, uris: list[str]) -> ChatRequest:
        return with_images(self.request, uris)


def _placed(where: str, exc: ImageError) -> ImageError:
    return ImageError(f"{where}: {exc}")
