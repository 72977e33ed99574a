"""http(s) images: fetched only from the addresses the caller allows, within a deadline.

A URL is fetched the way :mod:`r1v4._images._addresses` can vouch for: its host is resolved
once, every address it resolves to is judged, and the request goes to a judged address itself,
with the ``Host`` header (and, over TLS, the ``sni_hostname`` request extension, so the
certificate is verified for the real name) carrying the name. Nothing resolves the name again
between the check and the connection, so DNS rebinding has no window. Redirects are followed
here, at most :data:`MAX_REDIRECTS`, http(s) only, each checked the same way.

The checks of one fetch live in :class:`Fetch`; the sync and async drivers differ only in how
they wait. :func:`fetch_all` and :func:`afetch_all` run the fetches of one request concurrently
(a small thread pool; ``asyncio`` tasks) under one deadline.
"""

from __future__ import annotations

import concurrent.futures
import ssl
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from r1v4._config import DEFAULT_IMAGE_DOWNLOAD_TIMEOUT
from r1v4._errors import ImageError
from r1v4._images._addresses import (
    IPAddress,
    Resolver,
    literal_address,
    local_name,
    non_public,
    system_resolver,
)
from r1v4._images._inputs import Url, show_url
from r1v4._images._sniff import HEAD, identify, not_an_image
from r1v4._pools import shared_ssl_context

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "MAX_REDIRECTS",
    "Download",
    "Fetch",
    "Fetching",
    "afetch_all",
    "fetch_all",
]

MAX_REDIRECTS = 5
_MAX_THREADS = 8
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT = "image/jpeg, image/png, image/webp, image/gif, image/bmp;q=0.9, */*;q=0.1"
_HEADERS = {
    "Accept": _ACCEPT,
    "User-Agent": "r1v4 image fetch",
    # One connection per request: a pooled connection to an address, opened for another name
    # (and verified for that one), must never carry a request for this one.
    "Connection": "close",
}
_PRIVATE_HINT = (
    "images are fetched only from public addresses (allow_private_urls=True allows the others)"
)


@dataclass(frozen=True)
class Fetching:
    """How a client fetches image URLs: its settings, and seams for tests (a stand-in DNS, a
    TLS context trusting a test certificate, a judge that takes a loopback server for a public
    host)."""

    allow_private_urls: bool = False
    timeout: float = DEFAULT_IMAGE_DOWNLOAD_TIMEOUT
    """Seconds all the downloads of one request may take together (they run concurrently)."""
    resolver: Resolver = system_resolver
    verify: ssl.SSLContext | None = None
    """The TLS context; ``None`` is the process's shared, verifying one."""
    address_kind: Callable[[IPAddress], str | None] = non_public
    """What kind of non-public address an address is, ``None`` for a public one."""

    def client(self) -> httpx.Client:
        return httpx.Client(**self._options())

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(**self._options())

    def _options(self) -> dict[str, Any]:
        # Environment proxies are not used: the address checked must be the one connected to.
        return {
            "verify": self.verify or shared_ssl_context(),
            "trust_env": False,
            "follow_redirects": False,
            "timeout": self.timeout,
        }


class Download:
    """One download's body and checks: status, announced size, a running size cap, and the
    first bytes must be an image."""

    def __init__(self, item: Url, max_bytes: int) -> None:
        self.item = item
        self.max_bytes = max_bytes
        self.label = item.label
        self.body = bytearray()
        self.checked = False

    def start(self, response: httpx.Response) -> None:
        status = f"HTTP {response.status_code}"
        if response.reason_phrase:
            status += f" {response.reason_phrase}"
        if not response.is_success:
            raise ImageError(f"{self.label}: download failed with {status}")
        content_type = response.headers.get("content-type", "no Content-Type").split(";")[0]
        self.label = f"{self.label} ({status}, {content_type})"
        announced = response.headers.get("content-length", "")
        # With a Content-Encoding the header counts compressed bytes: leave that to feed().
        plain = "content-encoding" not in response.headers
        if plain and announced.isdigit() and int(announced) > self.max_bytes:
            raise ImageError(
                f"{self.label}: {int(announced):,} bytes announced, over the "
                f"{self.max_bytes:,}-byte limit (max_bytes)"
            )

    def feed(self, chunk: bytes) -> None:
        if len(self.body) + len(chunk) > self.max_bytes:
            raise ImageError(
                f"{self.label}: over the {self.max_bytes:,}-byte limit (max_bytes); stopped "
                f"after receiving {len(self.body) + len(chunk):,} bytes"
            )
        self.body += chunk
        if not self.checked and len(self.body) >= HEAD:
            self._check_head()

    def finish(self) -> Download:
        if not self.checked and self.body:
            self._check_head()
        return self

    def _check_head(self) -> None:
        # Fail on a web page as soon as its first bytes arrive, not after the whole body.
        self.checked = True
        head = bytes(self.body[:HEAD])
        mime, name = identify(head)
        if mime is None:
            raise not_an_image(self.label, name, head)


@dataclass
class Fetch:
    """One URL on its way to bytes: where it is now (redirects move it), the deadline, the body.

    ``abandoned`` is set when the caller has stopped waiting (another download failed, or time
    ran out): a worker thread still reading then stops at its next chunk.
    """

    item: Url
    max_bytes: int
    fetching: Fetching
    where: str = ""
    """The image's place in its request, which every error names first (``message 0, part 1``)."""
    deadline: float = 0.0
    """``time.monotonic()`` by which it must be done; set when the batch starts."""
    url: httpx.URL = field(init=False)
    sink: Download = field(init=False)
    redirects: int = 0
    abandoned: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sink = Download(self.item, self.max_bytes)
        self.sink.label = self.label
        self.url = _parse(self.label, self.item.url)

    @property
    def label(self) -> str:
        """The image as errors name it: its place, its URL, and where redirects took it."""
        if not self.redirects:
            return self._origin
        return f"{self._origin}, redirected to {show_url(str(self.url))!r}"

    @property
    def _origin(self) -> str:
        return f"{self.where}: {self.item.label}" if self.where else self.item.label

    def precheck(self) -> None:
        """Refuse now, before anything is fetched, what needs no lookup to refuse: a host that
        spells a non-public address, or a name for this machine (``localhost``)."""
        literal = self.literal()
        self.judge([] if literal is None else [literal], named=literal is None)

    # ------------------------------------------------------------------ each hop

    def literal(self) -> IPAddress | None:
        """The host's address when the URL spells one; ``None`` for a name to resolve."""
        return literal_address(self.url.host)

    def lookup(self) -> tuple[str, int]:
        """What to resolve: the name as sent (IDNA), and the port."""
        port = self.url.port or (443 if self.url.scheme == "https" else 80)
        return self.url.raw_host.decode("ascii"), port

    def resolved(self, found: Sequence[str]) -> list[IPAddress]:
        """The resolver's answer, as addresses."""
        addresses = [literal_address(str(a)) for a in found]
        if not addresses or any(a is None for a in addresses):
            raise ImageError(
                f"{self.label}: {self.url.host!r} resolves to no usable IP address ({found!r})"
            )
        return [a for a in addresses if a is not None]

    def judge(self, addresses: list[IPAddress], *, named: bool) -> list[IPAddress]:
        """``addresses``, once every one of them passed: the ones to connect to, in order."""
        if self.fetching.allow_private_urls:
            return addresses
        host = self.url.host
        if named and local_name(host):
            raise ImageError(f"{self.label}: {host!r} names this machine; {_PRIVATE_HINT}")
        for address in addresses:
            kind = self.fetching.address_kind(address)
            if kind is not None:
                what = f"{host!r} resolves to {address}, a" if named else f"{address} is a"
                raise ImageError(f"{self.label}: {what} {kind} address; {_PRIVATE_HINT}")
        return addresses

    def requests(
        self, http: httpx.Client | httpx.AsyncClient, to: list[IPAddress]
    ) -> list[httpx.Request]:
        """One request per address, each sent to that address and naming the host."""
        url = self.url
        headers = {**_HEADERS, "Host": url.netloc.decode("ascii")}
        extensions: dict[str, Any] = {}
        if url.scheme == "https" and literal_address(url.host) is None:
            extensions["sni_hostname"] = url.raw_host.decode("ascii").rstrip(".")
        timeout = self.remaining()
        return [
            http.build_request(
                "GET",
                url.copy_with(host=str(address)),
                headers=headers,
                extensions=extensions,
                timeout=timeout,
            )
            for address in to
        ]

    def follow(self, response: httpx.Response) -> bool:
        """Whether ``response`` is a redirect, now followed (``url`` moved to its target)."""
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            return False
        if self.redirects >= MAX_REDIRECTS:
            raise ImageError(f"{self.label}: more than {MAX_REDIRECTS} redirects")
        target = str(self.url.join(location.strip()))
        self.url = _parse(f"{self._origin}, redirected to {show_url(target)!r}", target)
        self.redirects += 1
        return True

    def start(self, response: httpx.Response) -> None:
        self.sink.label = self.label
        self.sink.start(response)

    # ------------------------------------------------------------------ time

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        return left

    def check(self) -> None:
        if self.abandoned.is_set():
            raise ImageError(f"{self.label}: download abandoned")
        self.remaining()

    def timed_out(self) -> ImageError:
        return ImageError(
            f"{self.label}: not downloaded within {self.fetching.timeout:g} s "
            "(image_download_timeout)"
        )

    def failed(self, exc: Exception) -> ImageError:
        if isinstance(exc, httpx.TimeoutException):
            return self.timed_out()
        if isinstance(exc, OSError):  # the resolver's: socket.gaierror and the like
            return ImageError(f"{self.label}: cannot resolve {self.url.host!r} ({exc})")
        return ImageError(f"{self.label}: download failed ({type(exc).__name__}: {exc})")


def _parse(where: str, url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ImageError(f"{where}: not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise ImageError(f"{where}: only http(s) URLs are fetched")
    if not parsed.host:
        raise ImageError(f"{where}: the URL has no host")
    return parsed


def _first_failure(
    jobs: list[Fetch], outcomes: Sequence[Any], done: Collection[Any]
) -> BaseException | None:
    """What to raise for a batch that did not all succeed: the first failure in ``jobs``
    order, else (time ran out) the first job still running; ``None`` when all succeeded."""
    failed = any(o.exception() is not None for o in outcomes if o in done)
    for job, outcome in zip(jobs, outcomes, strict=True):
        if outcome in done:
            exc: BaseException | None = outcome.exception()
            if exc is not None:
                return exc
        elif not failed:
            return job.timed_out()
    return None


def _start(jobs: list[Fetch]) -> float:
    """One deadline for the batch: every download starts now, and must end by then."""
    deadline = time.monotonic() + jobs[0].fetching.timeout
    for job in jobs:
        job.deadline = deadline
    return deadline


# ---------------------------------------------------------------------------------- sync


def _download(job: Fetch, http: httpx.Client) -> Download:
    try:
        while True:
            literal = job.literal()
            if literal is None:
                found = job.fetching.resolver(*job.lookup())
                to = job.judge(job.resolved(found), named=True)
            else:
                to = job.judge([literal], named=False)
            response = _send_first(http, job.requests(http, to))
            try:
                if job.follow(response):
                    continue
                job.start(response)
                for chunk in response.iter_bytes():
                    job.check()
                    job.sink.feed(chunk)
            finally:
                response.close()
            return job.sink.finish()
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise job.failed(exc) from exc


def _send_first(http: httpx.Client, requests: list[httpx.Request]) -> httpx.Response:
    for request in requests[:-1]:
        try:
            return http.send(request, stream=True)
        except httpx.ConnectError:
            continue  # the next address the name resolves to
    return http.send(requests[-1], stream=True)


def fetch_all(jobs: list[Fetch], http: httpx.Client | None = None) -> list[Download]:
    """Download every job concurrently (a thread each, up to eight) within their deadline.

    Raises the first failure in ``jobs`` order; the other downloads are abandoned, and a thread
    still reading stops at its next chunk. ``http`` is the caller's client, else one is made.
    """
    deadline = _start(jobs)
    client = jobs[0].fetching.client() if http is None else http
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(len(jobs), _MAX_THREADS), thread_name_prefix="r1v4-image"
    )
    futures = [pool.submit(_download, job, client) for job in jobs]
    pool.shutdown(wait=False)  # its threads end with the last job
    done, pending = concurrent.futures.wait(
        futures,
        timeout=max(0.0, deadline - time.monotonic()),
        return_when=concurrent.futures.FIRST_EXCEPTION,
    )
    for job, future in zip(jobs, futures, strict=True):
        if future in pending:
            job.abandoned.set()
            future.cancel()
    if http is None:
        _close_when_done(futures, client)  # never under the feet of a thread still reading
    failure = _first_failure(jobs, futures, done)
    if failure is not None:
        raise failure
    return [future.result() for future in futures]


def _close_when_done(
    futures: list[concurrent.futures.Future[Download]], client: httpx.Client
) -> None:
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_: object) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            client.close()

    for future in futures:
        future.add_done_callback(one_done)  # at once for a future already done


# --------------------------------------------------------------------------------- async


async def _adownload(
    job: Fetch, http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop
) -> Download:
    try:
        while True:
            literal = job.literal()
            if literal is None:
                # The resolver blocks (getaddrinfo): in a thread, so the loop never waits on DNS.
                found = await loop.run_in_executor(None, job.fetching.resolver, *job.lookup())
                to = job.judge(job.resolved(found), named=True)
            else:
                to = job.judge([literal], named=False)
            response = await _asend_first(http, job.requests(http, to))
            try:
                if job.follow(response):
                    continue
                job.start(response)
                async for chunk in response.aiter_bytes():
                    job.check()
                    job.sink.feed(chunk)
            finally:
                await response.aclose()
            return job.sink.finish()
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise job.failed(exc) from exc


async def _asend_first(http: httpx.AsyncClient, requests: list[httpx.Request]) -> httpx.Response:
    for request in requests[:-1]:
        try:
            return await http.send(request, stream=True)
        except httpx.ConnectError:
            continue  # the next address the name resolves to
    return await http.send(requests[-1], stream=True)


async def afetch_all(jobs: list[Fetch], http: httpx.AsyncClient | None = None) -> list[Download]:
    """Async :func:`fetch_all`: a task per download, all cancelled when one fails, when time
    runs out or when the caller is cancelled."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = _start(jobs)
    client = jobs[0].fetching.async_client() if http is None else http
    tasks = [loop.create_task(_adownload(job, client, loop)) for job in jobs]
    try:
        done, _ = await asyncio.wait(
            tasks,
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_EXCEPTION,
        )
    finally:
        running = [task for task in tasks if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        if http is None:
            await client.aclose()
    failure = _first_failure(jobs, tasks, done)
    if failure is not None:
        raise failure
    return [task.result() for task in tasks]
