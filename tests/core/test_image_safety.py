"""What a message may make the client read or fetch, through the core clients, over real HTTP on
loopback: path strings are never opened unless ``allow_file_paths``; URLs are fetched only from
public addresses unless ``allow_private_urls`` (however the host is written, whatever DNS says,
after every redirect); downloads have their own deadline, run concurrently and are cached.

Loopback image hosts are private addresses: tests of downloads that succeed allow private URLs,
or take a loopback host for a public one through the judge seam (``address_kind``). The names
used with the resolver seam (``images.example``, ...) resolve nowhere for real, so a download
that succeeds proves the connection went to the address the seam answered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from image_hosts import ImageHost, Tripwire, tls_contexts
from pictures import png

import r1v4
from r1v4 import AsyncR1V4Client, ClientSettings, ImageError, R1V4Client
from r1v4._images._addresses import non_public
from r1v4._images._inline import UrlCache
from r1v4.testing import LocalR1V4Server

KEY = "test-key"
MODEL = "skywork/r1v4-lite"
PNG = png((6, 4), "green")
SECRET_PNG = png((9, 9), "purple")
PNG_URI = r1v4.image_to_data_uri(PNG)

Seams = dict[str, Any]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def host() -> Iterator[ImageHost]:
    with ImageHost("127.0.0.1") as h:
        yield h


@pytest.fixture
def inside() -> Iterator[ImageHost]:
    """A second host, on 127.0.0.2: the private service a message must not reach."""
    with ImageHost("127.0.0.2") as h:
        yield h


def settings_for(server: LocalR1V4Server, seams: Seams | None = None, **kw: Any) -> ClientSettings:
    settings = ClientSettings(api_key=KEY, base_url=server.base_url, **kw)
    if seams:
        inliner = settings.image_inliner()
        inliner.fetching = dataclasses.replace(inliner.fetching, **seams)
    return settings


def send(settings: ClientSettings, mode: str, messages: list[dict[str, Any]]) -> str:
    """One call with ``messages`` on the sync or the async client; the reply's text."""
    if mode == "sync":
        with R1V4Client(settings=settings) as client:
            return client.create(model=MODEL, messages=messages).message.content or ""

    async def go() -> str:
        async with AsyncR1V4Client(settings=settings) as client:
            reply = await client.create(model=MODEL, messages=messages)
            return reply.message.content or ""

    return asyncio.run(go())


def ask(*images: Any, text: str = "What is this?") -> list[dict[str, Any]]:
    parts = [{"type": "image_url", "image_url": {"url": i}} for i in images]
    return [{"role": "user", "content": [{"type": "text", "text": text}, *parts]}]


def refused(server: LocalR1V4Server, settings: ClientSettings, mode: str, messages: Any) -> str:
    """The refusal's message, after checking nothing reached the model server."""
    with pytest.raises(ImageError) as info:
        send(settings, mode, messages)
    assert server.requests == [] and server.connections_opened == 0
    return str(info.value)


class Resolver:
    """A stand-in DNS: ``answers[name]`` is a list of answers, one per lookup (the last
    repeats); ``calls`` lists the names looked up."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        found = self.answers.get(host)
        if found is None:
            raise OSError(f"no such name: {host}")
        return found[min(self.calls.count(host), len(found)) - 1]


def nothing_resolves(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"nothing should be looked up, but {host!r} was")


def public_stand_in(
    *public: str,
) -> Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], str | None]:
    """The judge, except that ``public`` loopback addresses count as public hosts."""
    stand_ins = {ipaddress.ip_address(a) for a in public}
    return lambda address: None if address in stand_ins else non_public(address)


# ------------------------------------------------------------------------------ file paths


def test_a_path_string_is_never_opened(
    r1v4_server: LocalR1V4Server, mode: str, tmp_path: Path
) -> None:
    with Tripwire(tmp_path, SECRET_PNG) as wire:
        message = refused(
            r1v4_server, settings_for(r1v4_server), mode, ask(PNG_URI, str(wire.path))
        )
    assert not wire.opened.is_set()
    assert message.startswith("message 0, part 2: ")  # part 1 (a data URI) was fine
    assert str(wire.path) in message and "allow_file_paths=True" in message


def test_allow_file_paths_reads_a_path_string(
    r1v4_server: LocalR1V4Server, mode: str, tmp_path: Path
) -> None:
    with Tripwire(tmp_path, SECRET_PNG) as wire:
        settings = settings_for(r1v4_server, allow_file_paths=True)
        assert "I saw 1 image(s): PNG 9x9" in send(settings, mode, ask(str(wire.path)))
    assert wire.opened.is_set()


def test_a_path_object_is_the_callers_own_and_read(
    r1v4_server: LocalR1V4Server, mode: str, tmp_path: Path
) -> None:
    path = tmp_path / "mine.png"
    path.write_bytes(SECRET_PNG)
    assert "PNG 9x9" in send(settings_for(r1v4_server), mode, ask(path))


@pytest.mark.parametrize("allowed", [False, True])
def test_a_file_url_is_never_read(
    r1v4_server: LocalR1V4Server, tmp_path: Path, allowed: bool
) -> None:
    with Tripwire(tmp_path, SECRET_PNG) as wire:
        settings = settings_for(r1v4_server, allow_file_paths=allowed, allow_private_urls=allowed)
        message = refused(r1v4_server, settings, "sync", ask(f"file://{wire.path}"))
    assert not wire.opened.is_set() and "'file://'" in message


def test_a_non_image_file_is_not_quoted(r1v4_server: LocalR1V4Server, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    settings = settings_for(r1v4_server, allow_file_paths=True)
    message = refused(r1v4_server, settings, "sync", ask(str(secret)))
    assert "not an image" in message and "hunter2" not in message


# ------------------------------------------------------------------- how a host is written


def spellings(port: int) -> list[str]:
    return [
        f"http://localhost:{port}/a.png",
        f"http://LOCALHOST.:{port}/a.png",
        f"http://img.localhost:{port}/a.png",
        f"http://127.0.0.1:{port}/a.png",
        f"http://127.0.0.1.:{port}/a.png",
        f"http://127.1:{port}/a.png",
        f"http://2130706433:{port}/a.png",
        f"http://0x7f.1:{port}/a.png",
        f"http://0.0.0.0:{port}/a.png",
        f"http://[::1]:{port}/a.png",
        f"http://[::ffff:127.0.0.1]:{port}/a.png",
        f"http://[::ffff:7f00:1]:{port}/a.png",
        f"https://127.0.0.1:{port}/a.png",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",  # CGNAT (Alibaba Cloud's metadata)
        "http://10.0.0.1/a.png",
        "http://172.16.5.4/a.png",
        "http://192.168.0.1/a.png",
        "http://224.0.0.1/a.png",
        "http://[fe80::1]/a.png",
        "http://[64:ff9b::7f00:1]/a.png",
        "http://[2002:7f00:1::]/a.png",
    ]


def test_every_spelling_of_a_private_host_is_refused_before_any_lookup(
    r1v4_server: LocalR1V4Server, host: ImageHost
) -> None:
    host.image("/a.png", PNG)
    settings = settings_for(r1v4_server, {"resolver": nothing_resolves})
    for url in spellings(host.port):
        message = refused(r1v4_server, settings, "sync", ask(url))
        assert message.startswith("message 0, part 1: image URL "), message
        assert "allow_private_urls=True" in message, message
    # A dotted quad with a leading zero is refused as a URL already (by httpx), unread.
    message = refused(r1v4_server, settings, "sync", ask(f"http://0177.0.0.1:{host.port}/a"))
    assert "not a valid URL" in message
    assert host.hits() == 0


async def test_refused_on_the_async_client_too(
    r1v4_server: LocalR1V4Server, host: ImageHost
) -> None:
    host.image("/a.png", PNG)
    settings = settings_for(r1v4_server, {"resolver": nothing_resolves})
    async with AsyncR1V4Client(settings=settings) as client:
        for url in spellings(host.port):
            with pytest.raises(ImageError, match="allow_private_urls=True"):
                await client.create(model=MODEL, messages=ask(url))
    assert host.hits() == 0 and r1v4_server.requests == []


@pytest.mark.parametrize(
    "spelling", ["localhost", "127.0.0.1.", "2130706433", "0x7f.1", "0x7f000001", "127.1"]
)
def test_allow_private_urls_fetches_them(
    r1v4_server: LocalR1V4Server, host: ImageHost, spelling: str
) -> None:
    url = host.image("/a.png", PNG).replace("127.0.0.1", spelling)
    settings = settings_for(r1v4_server, allow_private_urls=True)
    assert "PNG 6x4" in send(settings, "sync", ask(url))
    assert host.hits("/a.png") == 1


def test_the_helpers_refuse_private_urls_by_default(host: ImageHost) -> None:
    url = host.image("/a.png", PNG)
    with pytest.raises(ImageError, match=r"loopback address.*allow_private_urls=True"):
        r1v4.image_to_data_uri(url)
    with pytest.raises(ImageError, match=r"loopback address.*allow_private_urls=True"):
        asyncio.run(r1v4.aimage_to_data_uri(url))
    assert host.hits() == 0
    assert r1v4.image_to_data_uri(url, allow_private_urls=True).startswith("data:image/png")


# ------------------------------------------------------------------------------ name lookups


def test_a_name_resolving_to_a_private_address_is_refused(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    host.image("/a.png", PNG)
    dns = Resolver({"images.example": [["127.0.0.1"]]})
    settings = settings_for(r1v4_server, {"resolver": dns})
    message = refused(r1v4_server, settings, mode, ask(f"http://images.example:{host.port}/a.png"))
    assert "'images.example' resolves to 127.0.0.1, a loopback address" in message
    assert "allow_private_urls=True" in message
    assert dns.calls == ["images.example"] and host.hits() == 0


def test_every_address_a_name_resolves_to_is_judged(
    r1v4_server: LocalR1V4Server, host: ImageHost
) -> None:
    dns = Resolver({"images.example": [["93.184.215.14", "169.254.169.254"]]})
    settings = settings_for(r1v4_server, {"resolver": dns})
    message = refused(r1v4_server, settings, "sync", ask("http://images.example/a.png"))
    assert "169.254.169.254, a link-local (cloud metadata) address" in message


def test_the_connection_goes_to_the_address_that_was_judged(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    """``images.example`` resolves nowhere for real: the download reaching the host proves the
    request went to the address the lookup gave, with the name in its ``Host`` header."""
    host.image("/a.png", PNG)
    dns = Resolver({"images.example": [["127.0.0.1"]]})
    settings = settings_for(r1v4_server, {"resolver": dns}, allow_private_urls=True)
    assert "PNG 6x4" in send(settings, mode, ask(f"http://images.example:{host.port}/a.png"))
    assert [(s.path, s.host) for s in host.seen] == [("/a.png", f"images.example:{host.port}")]
    assert dns.calls == ["images.example"]


def test_dns_rebinding_has_no_window(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    """The name first resolves to a public address (127.0.0.1 stands in for one), then to a
    private one (127.0.0.2, a host on the same port): the client looks it up once and connects
    where the answer it judged says."""
    host.image("/a.png", PNG)
    with ImageHost("127.0.0.2", port=host.port) as inside:
        inside.image("/a.png", SECRET_PNG)
        dns = Resolver({"rebind.example": [["127.0.0.1"], ["127.0.0.2"]]})
        seams = {"resolver": dns, "address_kind": public_stand_in("127.0.0.1")}
        settings = settings_for(r1v4_server, seams)
        url = f"http://rebind.example:{host.port}/a.png"
        assert "PNG 6x4" in send(settings, mode, ask(url))
        assert dns.calls == ["rebind.example"]
        assert host.hits() == 1 and inside.hits() == 0


def test_a_name_that_does_not_resolve_is_an_image_error(r1v4_server: LocalR1V4Server) -> None:
    settings = settings_for(r1v4_server, {"resolver": Resolver({})})
    message = refused(r1v4_server, settings, "sync", ask("http://nowhere.example/a.png"))
    assert "cannot resolve 'nowhere.example'" in message


# ------------------------------------------------------------------------------- redirects


def test_redirects_are_followed_up_to_five(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    host.image("/final.png", PNG)
    host.redirect("/r5", "/final.png")  # relative
    for n in range(4, 0, -1):
        host.redirect(f"/r{n}", f"{host.origin}/r{n + 1}", status=(301, 302, 303, 307, 308)[n])
    settings = settings_for(r1v4_server, allow_private_urls=True)
    assert "PNG 6x4" in send(settings, mode, ask(f"{host.origin}/r1"))
    assert [s.path for s in host.seen] == ["/r1", "/r2", "/r3", "/r4", "/r5", "/final.png"]


def test_a_sixth_redirect_is_refused(r1v4_server: LocalR1V4Server, host: ImageHost) -> None:
    host.image("/final.png", PNG)
    for n in range(1, 7):
        host.redirect(f"/r{n}", f"/r{n + 1}" if n < 6 else "/final.png")
    settings = settings_for(r1v4_server, allow_private_urls=True)
    message = refused(r1v4_server, settings, "sync", ask(f"{host.origin}/r1"))
    assert "more than 5 redirects" in message
    assert host.hits() == 6 and host.hits("/final.png") == 0


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://x/"])
def test_a_redirect_leaves_http_never(
    r1v4_server: LocalR1V4Server, host: ImageHost, target: str
) -> None:
    url = host.redirect("/away", target)
    settings = settings_for(r1v4_server, allow_private_urls=True)
    message = refused(r1v4_server, settings, "sync", ask(url))
    assert "only http(s) URLs are fetched" in message


def test_a_redirect_to_a_private_address_is_refused(
    r1v4_server: LocalR1V4Server, host: ImageHost, inside: ImageHost, mode: str
) -> None:
    """A public host (127.0.0.1 stands in for one) redirects to a private one (127.0.0.2)."""
    inside.image("/secret.png", SECRET_PNG)
    url = host.redirect("/photo.png", f"{inside.origin}/secret.png")
    settings = settings_for(r1v4_server, {"address_kind": public_stand_in("127.0.0.1")})
    message = refused(r1v4_server, settings, mode, ask(url))
    assert f"redirected to '{inside.origin}/secret.png'" in message
    assert "127.0.0.2 is a loopback address" in message and "allow_private_urls=True" in message
    assert host.hits() == 1 and inside.hits() == 0


def test_a_redirect_to_a_name_resolving_to_a_private_address_is_refused(
    r1v4_server: LocalR1V4Server, host: ImageHost, inside: ImageHost
) -> None:
    inside.image("/secret.png", SECRET_PNG)
    url = host.redirect("/photo.png", f"http://intranet.example:{inside.port}/secret.png")
    dns = Resolver({"intranet.example": [["127.0.0.2"]]})
    seams = {"resolver": dns, "address_kind": public_stand_in("127.0.0.1")}
    message = refused(r1v4_server, settings_for(r1v4_server, seams), "sync", ask(url))
    assert "'intranet.example' resolves to 127.0.0.2, a loopback address" in message
    assert inside.hits() == 0


# ------------------------------------------------------------------------------------- TLS


def test_tls_verifies_the_name_while_connecting_to_the_judged_address(
    r1v4_server: LocalR1V4Server, mode: str
) -> None:
    server_tls, client_tls = tls_contexts(["images.example"])
    with ImageHost("127.0.0.1", tls=server_tls) as tls_host:
        tls_host.image("/a.png", PNG)
        dns = Resolver({"images.example": [["127.0.0.1"]], "other.example": [["127.0.0.1"]]})
        seams = {"resolver": dns, "verify": client_tls}
        settings = settings_for(r1v4_server, seams, allow_private_urls=True)
        url = f"https://images.example:{tls_host.port}/a.png"
        assert "PNG 6x4" in send(settings, mode, ask(url))
        assert tls_host.seen[-1].host == f"images.example:{tls_host.port}"
        # The same address under a name the certificate does not hold: refused by TLS.
        wrong = f"https://other.example:{tls_host.port}/a.png"
        r1v4_server.reset()
        message = refused(r1v4_server, settings, mode, ask(wrong))
        assert "download failed" in message and "certificate" in message.lower()
        assert tls_host.hits() == 1


# ------------------------------------------------------------------------ time, overlap, cache


def test_a_silent_host_fails_at_the_download_deadline(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    url = host.silent("/never.png")
    settings = settings_for(r1v4_server, allow_private_urls=True, image_download_timeout=0.3)
    message = refused(r1v4_server, settings, mode, ask(url))
    assert "not downloaded within 0.3 s (image_download_timeout)" in message
    # The host is still holding the request: the client gave up on its own deadline.
    assert host.holding == 1 and not host.release.is_set()


def test_images_of_a_request_download_concurrently(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    """Each image is sent only once both requests wait at the gate together: one after the
    other, the first would wait for the gate's timeout and ``max_in_flight`` would be 1."""
    gate = threading.Barrier(2, timeout=10)
    a = host.gated("/a.png", PNG, gate)
    b = host.gated("/b.png", png((3, 3), "blue"), gate)
    settings = settings_for(r1v4_server, allow_private_urls=True)
    assert "I saw 2 image(s): PNG 6x4, PNG 3x3" in send(settings, mode, ask(a, b))
    assert host.max_in_flight == 2 and not gate.broken


def test_one_failed_download_fails_the_call_and_names_its_place(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    good = host.image("/a.png", PNG)
    settings = settings_for(r1v4_server, allow_private_urls=True)
    messages = [
        *ask(good),
        {"role": "assistant", "content": "ok"},
        *ask(good, f"{host.origin}/gone.png"),
    ]
    message = refused(r1v4_server, settings, mode, messages)
    assert message.startswith("message 2, part 2: image URL ") and "HTTP 404" in message


def test_a_conversations_images_are_fetched_once(
    r1v4_server: LocalR1V4Server, host: ImageHost, mode: str
) -> None:
    url = host.image("/a.png", PNG)
    settings = settings_for(r1v4_server, allow_private_urls=True)
    history = ask(url, url, text="What is this?")  # twice in one message: fetched once too
    for turn in range(3):
        assert "I saw 2 image(s): PNG 6x4, PNG 6x4" in send(settings, mode, history)
        history = [*history, {"role": "assistant", "content": "A green box."}]
        history.append({"role": "user", "content": f"And now ({turn})?"})
    assert host.hits("/a.png") == 1
    assert len(r1v4_server.requests) == 3
    assert all(len(r.images) == 2 for r in r1v4_server.requests)


def test_the_sync_and_async_client_of_one_settings_share_the_cache(
    r1v4_server: LocalR1V4Server, host: ImageHost
) -> None:
    url = host.image("/a.png", PNG)
    settings = settings_for(r1v4_server, allow_private_urls=True)
    send(settings, "sync", ask(url))
    send(settings, "async", ask(url))
    assert host.hits("/a.png") == 1 and len(r1v4_server.requests) == 2


def test_the_url_cache_is_bounded_by_entries_and_by_size() -> None:
    cache = UrlCache(max_entries=2, max_chars=10)
    cache.put("a", "1111")
    cache.put("b", "2222")
    assert cache.get("a") == "1111"  # a is now the most recently used
    cache.put("c", "3333")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1111", None, "3333")
    cache.put("d", "44444")  # 4 + 5 fits 10 only without a
    assert len(cache) == 2 and cache.get("a") is None
    cache.put("huge", "x" * 11)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 2


# ------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("allow_file_paths", "yes"),
        ("allow_private_urls", 1),
        ("image_download_timeout", 0),
        ("image_download_timeout", -1.0),
        ("image_download_timeout", float("inf")),
        ("image_download_timeout", True),
    ],
)
def test_bad_settings_are_refused(name: str, value: Any) -> None:
    with pytest.raises(r1v4.InvalidRequestError, match=name):
        ClientSettings(**{name: value})


def test_settings_default_to_safe() -> None:
    s = ClientSettings()
    assert (s.allow_file_paths, s.allow_private_urls, s.image_download_timeout) == (
        False,
        False,
        r1v4.DEFAULT_IMAGE_DOWNLOAD_TIMEOUT,
    )
    assert r1v4.DEFAULT_IMAGE_DOWNLOAD_TIMEOUT == 30.0
    client = R1V4Client(allow_file_paths=True, allow_private_urls=True, image_download_timeout=5)
    assert client.settings.allow_file_paths and client.settings.allow_private_urls
    assert client.settings.image_download_timeout == 5.0
