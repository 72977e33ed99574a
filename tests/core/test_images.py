"""Tests for r1v4._images: every source kind, every rejection, URL downloads, downscaling."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import subprocess
import sys
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from r1v4._errors import ImageError, InvalidRequestError
from r1v4._images import (
    DEFAULT_MAX_IMAGE_BYTES,
    SUPPORTED_MIME_TYPES,
    aimage_to_data_uri,
    bytes_to_data_uri,
    detect_image_mime,
    image_to_data_uri,
    is_data_uri,
    is_remote_url,
)
from r1v4.testing import FileHost

# ---------------------------------------------------------------------------------- helpers

FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
}


def gradient(size: tuple[int, int] = (40, 30), mode: str = "RGB") -> Image.Image:
    width, height = size
    img = Image.new("RGB", size)
    img.putdata(
        [(x * 255 // width, y * 255 // height, 128) for y in range(height) for x in range(width)]
    )
    return img.convert(mode)


def encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), **options: Any) -> bytes:
    img = gradient(size)
    if fmt == "GIF":  # Pillow's default quantizer is slow on a many-coloured gradient
        img = img.quantize(64, method=Image.Quantize.FASTOCTREE)
    return encode(img, fmt, **options)


def noise_jpeg(side: int) -> bytes:
    """A JPEG that barely compresses: a few of them span several read/encode chunks."""
    return encode(
        Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)), "JPEG", quality=95
    )


_URI = re.compile(r"data:(image/[a-z]+);base64,([A-Za-z0-9+/]*={0,2})", re.S)


def parse(uri: str) -> tuple[str, bytes]:
    """The MIME type and decoded bytes of a canonical data URI (fails on anything else)."""
    match = _URI.fullmatch(uri)
    assert match, uri[:80]
    return match[1], base64.b64decode(match[2], validate=True)


def open_uri(uri: str) -> Image.Image:
    img = Image.open(io.BytesIO(parse(uri)[1]))
    img.load()
    return img


Convert = Callable[..., Awaitable[str]]


@pytest.fixture(params=["sync", "async"])
def to_uri(request: pytest.FixtureRequest) -> Convert:
    """Either entry point behind one awaitable signature; ``client=True`` passes a client.

    URLs here are served on loopback, which only ``allow_private_urls=True`` lets them fetch
    (the refusal itself: tests/core/test_image_safety.py).
    """

    async def sync(source: Any, *, client: bool = False, **kw: Any) -> str:
        kw.setdefault("allow_private_urls", True)
        if client:
            with httpx.Client() as http:
                result = image_to_data_uri(source, http_client=http, **kw)
                assert not http.is_closed  # a caller's client is borrowed, never closed
                return result
        return image_to_data_uri(source, **kw)

    async def asynchronous(source: Any, *, client: bool = False, **kw: Any) -> str:
        kw.setdefault("allow_private_urls", True)
        if client:
            async with httpx.AsyncClient() as http:
                result = await aimage_to_data_uri(source, http_client=http, **kw)
                assert not http.is_closed
                return result
        return await aimage_to_data_uri(source, **kw)

    return sync if request.param == "sync" else asynchronous


# ---------------------------------------------------------------------------------- server


@pytest.fixture
def server() -> Iterator[FileHost]:
    with FileHost() as host:
        yield host


def endless(head: bytes, total: int) -> Callable[[], Iterator[bytes]]:
    """A body of ``total`` bytes starting with ``head``, produced lazily in 64 KiB writes."""

    def body() -> Iterator[bytes]:
        yield head
        left = total - len(head)
        while left > 0:
            n = min(left, 64 * 1024)
            yield b"\0" * n
            left -= n

    return body


# ---------------------------------------------------------------------------------- API basics


def test_public_constants() -> None:
    assert DEFAULT_MAX_IMAGE_BYTES == 10 * 1024 * 1024
    assert frozenset(FORMATS) == SUPPORTED_MIME_TYPES


@pytest.mark.parametrize("mime", sorted(FORMATS))
def test_detect_image_mime_from_magic_bytes(mime: str) -> None:
    data = image_bytes(FORMATS[mime])
    assert detect_image_mime(data) == mime
    assert detect_image_mime(bytearray(data)) == mime


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", image_bytes("TIFF"), b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"BM"],
)
def test_detect_image_mime_rejects_unsupported_and_garbage(data: bytes) -> None:
    assert detect_image_mime(data) is None


def test_url_and_data_uri_predicates() -> None:
    assert is_data_uri("data:image/png;base64,AAAA")
    assert is_data_uri("DATA:image/png;base64,AAAA")
    assert not is_data_uri("/tmp/data:x.png")
    assert is_remote_url("http://example.com/a.png")
    assert is_remote_url("HTTPS://example.com/a.png")
    assert not is_remote_url("ftp://example.com/a.png")
    assert not is_remote_url("example.com/a.png")


def test_importing_r1v4_does_not_import_pillow() -> None:
    code = "import sys, r1v4, r1v4._images; assert 'PIL' not in sys.modules, 'PIL imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------- sources


async def test_path_as_str_and_pathlike(tmp_path: Path, to_uri: Convert) -> None:
    data = image_bytes("PNG")
    path = tmp_path / "picture.png"
    path.write_bytes(data)
    for source in (str(path), path):
        assert parse(await to_uri(source)) == ("image/png", data)


async def test_mime_comes_from_bytes_not_file_name(tmp_path: Path, to_uri: Convert) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(image_bytes("PNG"))
    assert (await to_uri(path)).startswith("data:image/png;base64,")


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
async def test_raw_buffers(kind: Callable[[bytes], Any], to_uri: Convert) -> None:
    data = image_bytes("GIF")
    assert parse(await to_uri(kind(data))) == ("image/gif", data)


@pytest.mark.parametrize("mime", sorted(FORMATS))
def test_every_supported_format_round_trips(mime: str) -> None:
    data = image_bytes(FORMATS[mime])
    assert parse(bytes_to_data_uri(data)) == (mime, data)


def test_declared_mime_type_never_overrides_the_bytes() -> None:
    data = image_bytes("PNG")
    assert parse(bytes_to_data_uri(data, mime_type="image/jpeg")) == ("image/png", data)


async def test_pil_rgb_image(to_uri: Convert) -> None:
    img = gradient((20, 10))
    uri = await to_uri(img)
    assert uri.startswith("data:image/png;base64,")
    decoded = open_uri(uri)
    assert decoded.mode == "RGB" and decoded.size == (20, 10)
    assert decoded.tobytes() == img.tobytes()


async def test_pil_rgba_image_keeps_alpha(to_uri: Convert) -> None:
    img = gradient((20, 10), "RGBA")
    img.putpixel((0, 0), (10, 20, 30, 0))
    decoded = open_uri(await to_uri(img))
    assert decoded.mode == "RGBA"
    assert decoded.getpixel((0, 0)) == (10, 20, 30, 0)


async def test_pil_rgba_as_jpeg_is_composited_on_white(to_uri: Convert) -> None:
    img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    uri = await to_uri(img, mime_type="image/jpeg")
    decoded = open_uri(uri)
    assert uri.startswith("data:image/jpeg;base64,") and decoded.mode == "RGB"
    pixel = decoded.getpixel((8, 8))
    assert isinstance(pixel, tuple) and all(channel > 245 for channel in pixel)


async def test_pil_image_opened_from_a_file_keeps_its_format(to_uri: Convert) -> None:
    img = Image.open(io.BytesIO(image_bytes("JPEG")))
    assert (await to_uri(img)).startswith("data:image/jpeg;base64,")
    webp = Image.open(io.BytesIO(image_bytes("WEBP")))
    assert (await to_uri(webp, mime_type="image/png")).startswith("data:image/png;base64,")


async def test_canonical_data_uri_is_returned_unchanged(to_uri: Convert) -> None:
    data = image_bytes("PNG")
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    assert await to_uri(uri) == uri


@pytest.mark.parametrize(
    "header", ["data:image/jpeg;base64,", "data:;base64,", "DATA:image/PNG;name=x.png;BASE64,"]
)
async def test_data_uri_gets_the_detected_mime_type(header: str, to_uri: Convert) -> None:
    data = image_bytes("PNG")
    payload = base64.b64encode(data).decode()
    result = await to_uri(header + payload)
    assert result == "data:image/png;base64," + payload
    assert "None" not in result[:30]


async def test_data_uri_with_line_breaks_and_surrounding_space(to_uri: Convert) -> None:
    data = image_bytes("BMP")
    wrapped = base64.encodebytes(data).decode()  # 76-column lines, as email tools emit
    assert "\n" in wrapped
    result = await to_uri(f"  data:image/bmp;base64,{wrapped}  ")
    assert parse(result) == ("image/bmp", data)


async def test_url_download(server: FileHost, to_uri: Convert) -> None:
    data = image_bytes("WEBP")
    url = server.add("/pic.webp", data, "image/webp")
    assert parse(await to_uri(url)) == ("image/webp", data)
    assert parse(await to_uri(url, client=True)) == ("image/webp", data)


async def test_url_follows_redirects_and_ignores_content_type(
    server: FileHost, to_uri: Convert
) -> None:
    data = image_bytes("PNG")
    # Served as text/plain: the bytes, not the header, decide.
    server.add("/real", data, "text/plain")
    url = server.add("/moved.jpg", status=302, headers={"Location": "/real"})
    assert parse(await to_uri(url)) == ("image/png", data)


async def test_async_download_does_not_block_the_event_loop(server: FileHost) -> None:
    url = server.add("/slow.png", image_bytes("PNG"), delay=0.5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await aimage_to_data_uri(url, allow_private_urls=True)
    finally:
        task.cancel()
    assert ticks >= 10


async def test_large_file_spanning_many_chunks(tmp_path: Path, to_uri: Convert) -> None:
    data = noise_jpeg(1500)
    assert len(data) > 3 * 3 * 256 * 1024  # more than three read/encode chunks
    expected = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    path = tmp_path / "noise.jpg"
    path.write_bytes(data)
    assert await to_uri(path) == expected
    assert await to_uri(data) == expected
    assert await to_uri(expected.replace("jpeg", "png", 1)) == expected


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_read_whole(tmp_path: Path) -> None:
    data = image_bytes("PNG")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert parse(image_to_data_uri(fifo)) == ("image/png", data)
    finally:
        writer.join(5)


# ---------------------------------------------------------------------------------- rejections


def rejects(source: Any, *fragments: str, **kw: Any) -> ImageError:
    with pytest.raises(ImageError) as info:
        image_to_data_uri(source, **kw)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    assert isinstance(info.value, ValueError)
    return info.value


def test_rejects_non_images() -> None:
    rejects(b"just some text, definitely no image" * 3, "image bytes", "not an image", "JPEG, PNG")
    rejects(b"", "empty")
    rejects(b"%PDF-1.7\n...", "a PDF document, not an image")
    rejects(b"<!DOCTYPE html><html><body>hi</body></html>", "an HTML page, not an image")


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (image_bytes("TIFF"), "TIFF"),
        (image_bytes("ICO", (32, 32)), "ICO"),
        (HEIC, "HEIC"),
        (AVIF, "AVIF"),
        (SVG, "SVG"),
    ],
)
def test_rejects_unsupported_formats_by_name(data: bytes, name: str, tmp_path: Path) -> None:
    rejects(data, f"{name}", "not supported", "JPEG, PNG, GIF, WebP or BMP")
    path = tmp_path / "image.png"
    path.write_bytes(data)
    rejects(path, str(path), name)


TRUNCATIONS = [
    ("PNG", 20, "IEND"),
    ("JPEG", 20, "FFD9"),
    ("GIF", 5, "0x3B"),
    ("WEBP", 10, "RIFF header announces"),
    ("BMP", 10, "header announces"),
]


@pytest.mark.parametrize(("fmt", "cut", "fragment"), TRUNCATIONS)
def test_rejects_truncated_files(fmt: str, cut: int, fragment: str, tmp_path: Path) -> None:
    data = image_bytes(fmt, (64, 48))[:-cut]
    rejects(data, "truncated or corrupt", fragment)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data)
    rejects(str(path), str(path), "truncated", fragment)


def test_without_pillow_only_the_format_and_the_size_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The structural checks are Pillow's decode now: without Pillow the client checks what the
    # API needs from it (the MIME type, from the magic bytes) and the size; the API judges the
    # rest. Everything is made before Pillow is hidden (saving imports its plugins).
    cut = [image_bytes(fmt, (64, 48))[:-n] for fmt, n, _ in TRUNCATIONS]
    good, tiff = image_bytes("JPEG"), image_bytes("TIFF")
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    for data in cut:
        assert parse(bytes_to_data_uri(data))[1] == data
    rejects(b"just some text, definitely no image" * 3, "not an image", "JPEG, PNG")
    rejects(tiff, "TIFF images are not supported")
    rejects(good, f"{len(good) - 1:,}-byte limit", max_bytes=len(good) - 1)
    assert parse(bytes_to_data_uri(good))[1] == good


def pillow_refuses(data: bytes) -> bool:
    """Whether Pillow refuses ``data``: its strict load() (the default) of the first frame; for
    a PNG verify(), which walks every chunk to IEND (load() stops at the last pixel)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify() if img.format == "PNG" else img.load()
    except Exception:
        return True
    return False


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "BMP", "PNG"])
def test_every_cut_is_judged_as_pillow_judges_it(fmt: str) -> None:
    """No check of the client's own is stricter or laxer than Pillow's decode: a cut at every
    point is refused exactly when Pillow refuses it (a JPEG without its end marker too: Pillow
    refuses it, and so does the client; a GIF without its trailer Pillow decodes: accepted)."""
    data = image_bytes(fmt, (24, 16))
    verdicts = {}
    for n in range(1, len(data) - 16):
        try:
            bytes_to_data_uri(data[:-n])
            verdicts[n] = False
        except ImageError as exc:
            assert "truncated or corrupt" in str(exc), str(exc)
            verdicts[n] = True
    assert verdicts == {n: pillow_refuses(data[:-n]) for n in verdicts}
    assert any(verdicts.values())


def test_a_gif_without_its_trailer_decodes_and_is_accepted() -> None:
    gif = image_bytes("GIF")
    assert gif.endswith(b";") and not pillow_refuses(gif[:-1])
    assert parse(bytes_to_data_uri(gif[:-1]))[1] == gif[:-1]


def test_a_png_whose_data_is_corrupt_is_refused() -> None:
    data = bytearray(image_bytes("PNG"))
    data[len(data) // 2] ^= 0xFF  # inside IDAT: its CRC no longer matches
    rejects(bytes(data), "truncated or corrupt PNG data", "IEND", "checksum")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header announces ``width`` x ``height`` pixels, with one row of data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(b"\0" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bombs_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    assert limit is not None
    # Over Pillow's limit (where it only warns) and over twice it (where it refuses at open).
    with pytest.warns(Image.DecompressionBombWarning):
        rejects(png_header_only(limit // 1000 + 1, 1000), "possible decompression bomb")
    rejects(png_header_only(limit // 100, 300), "decompression bomb")
    # The application's limit is obeyed, read per call and never changed.
    small = image_bytes("PNG", (40, 30))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    with pytest.warns(Image.DecompressionBombWarning):
        rejects(small, "40x30 pixels", "limit of 1,000")
    assert Image.MAX_IMAGE_PIXELS == 1_000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert parse(bytes_to_data_uri(small))[1] == small


def test_truncated_jpeg_with_an_early_end_marker_is_still_caught() -> None:
    jpeg = image_bytes("JPEG", (64, 48))
    # A comment segment right after SOI holding FFD9, as an EXIF thumbnail would.
    comment = b"\xff\xfe\x00\x06\xff\xd9\x00\x00"
    rejects(jpeg[:2] + comment + jpeg[2:-200], "FFD9")


def test_tolerated_file_endings() -> None:
    gif = image_bytes("GIF") + b"\0\0\0"  # zero padding after the trailer
    assert parse(bytes_to_data_uri(gif))[1] == gif
    jpeg = image_bytes("JPEG") + b"maker trailer"  # data after EOI, as some cameras write
    assert parse(bytes_to_data_uri(jpeg))[1] == jpeg


@pytest.mark.parametrize("source", ["bytes", "file"])
def test_long_trailers_after_the_end_marker_are_tolerated(source: str, tmp_path: Path) -> None:
    # A motion photo appends its video after the JPEG's end marker; PNG tools leave junk after
    # IEND. Both trailers are longer than the tail the quick check reads.
    jpeg = noise_jpeg(200) + b"\0\0\0\x18ftypmp42" + os.urandom(300_000).replace(b"\xff", b"\0")
    png = image_bytes("PNG") + b"\0" * 100_000
    for data in (jpeg, png):
        if source == "file":
            path = tmp_path / "trailer.img"
            path.write_bytes(data)
            assert parse(image_to_data_uri(path))[1] == data
        else:
            assert parse(bytes_to_data_uri(data))[1] == data


@pytest.mark.parametrize("source", ["bytes", "file"])
def test_large_truncated_files_are_still_refused(source: str, tmp_path: Path) -> None:
    jpeg = noise_jpeg(600)
    assert len(jpeg) > 4 * 64 * 1024  # the end marker search goes past the tail
    # A comment holding FFD9 before the scan, as an EXIF thumbnail would: it must not count.
    early = jpeg[:2] + b"\xff\xfe\x00\x06\xff\xd9\x00\x00" + jpeg[2:]
    png = encode(Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3)), "PNG")
    for data, fragment in ((early[: len(early) // 2], "FFD9"), (png[: len(png) - 70_000], "IEND")):
        if source == "file":
            path = tmp_path / "cut.img"
            path.write_bytes(data)
            rejects(path, "truncated", fragment)
        else:
            rejects(data, "truncated", fragment)


def test_rejects_webp_with_extra_bytes() -> None:
    rejects(image_bytes("WEBP") + b"\0\0\0\0", "RIFF header announces")


def test_rejects_over_max_bytes(tmp_path: Path) -> None:
    data = image_bytes("PNG")
    limit = len(data) - 1
    rejects(data, f"{len(data):,} bytes", f"{limit:,}-byte limit", max_bytes=limit)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    rejects(path, str(path), f"{len(data):,} bytes", f"{limit:,}-byte limit", max_bytes=limit)
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    rejects(uri, "data URI", f"{len(data):,} bytes", max_bytes=limit)
    assert parse(image_to_data_uri(path, max_bytes=len(data)))[1] == data  # the limit is inclusive


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ("iVBORw0KGgo@AAAA", "'@' at offset 11"),
        ("iVBORw0KGgoAAA", "not a multiple of 4"),
        ("iVBO==0KGgoAAAAA", "invalid characters or padding"),
        ("iVBORw0KGg\u00e9=", "'\u00e9'"),
    ],
)
def test_rejects_bad_base64(payload: str, fragment: str) -> None:
    rejects(f"data:image/png;base64,{payload}", "data URI", "not valid base64", fragment)


def test_rejects_malformed_data_uris() -> None:
    rejects("data:image/png;base64", "no ','")
    rejects("data:image/png;base64,", "empty")
    rejects("data:image/svg+xml;utf8,<svg/>", "not base64-encoded", "SVG")
    rejects("data:text/plain,hello", "not base64-encoded")


def test_rejects_missing_paths_and_other_strings(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    rejects(str(missing), "not found", str(missing), "http(s) URL or a data: URI")
    rejects(missing, "not found", str(missing))
    rejects("ftp://example.com/a.png", "unsupported URL scheme 'ftp://'")
    rejects("file:///tmp/a.png", "unsupported URL scheme 'file://'")
    rejects("   ", "empty string")
    rejects("a\x00b", "neither a file path")
    bare = base64.b64encode(image_bytes("PNG")).decode()[:200]
    rejects(bare, "bare base64", "data:image/png;base64,")
    rejects(str(tmp_path), "is a directory")


def test_rejects_other_source_types() -> None:
    rejects(object(), "unsupported image source of type object")
    rejects(12, "type int")


def test_rejects_bad_arguments() -> None:
    data = image_bytes("PNG")
    for kw in ({"max_bytes": 0}, {"max_bytes": True}, {"max_pixels": 0}, {"max_pixels": 1.5}):
        with pytest.raises(InvalidRequestError, match="must be a positive int"):
            image_to_data_uri(data, **kw)
    rejects(data, "mime_type 'image/tiff' is not supported", mime_type="image/tiff")
    with pytest.raises(TypeError, match=r"httpx\.Client"):
        image_to_data_uri(data, http_client=httpx.AsyncClient())  # type: ignore[arg-type]


async def test_async_rejects_with_the_same_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not found"):
        await aimage_to_data_uri(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="IEND"):
        await aimage_to_data_uri(image_bytes("PNG")[:-12])
    with pytest.raises(TypeError, match="AsyncClient"):
        await aimage_to_data_uri(b"", http_client=httpx.Client())  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- URL errors


async def test_url_not_found(server: FileHost, to_uri: Convert) -> None:
    url = server.add("/gone.png", b"<h1>Not Found</h1>", "text/html", status=404)
    with pytest.raises(ImageError) as info:
        await to_uri(url)
    assert url in str(info.value) and "HTTP 404" in str(info.value)


async def test_url_serving_html(server: FileHost, to_uri: Convert) -> None:
    page = b"<!DOCTYPE html><html><head><title>Login</title></head></html>"
    url = server.add("/photo.jpg", page, "text/html")
    with pytest.raises(ImageError) as info:
        await to_uri(url)
    message = str(info.value)
    assert url in message and "HTTP 200" in message and "text/html" in message
    assert "HTML page, not an image" in message


async def test_url_html_is_rejected_from_its_first_bytes(server: FileHost, to_uri: Convert) -> None:
    total = 8 * 1024 * 1024
    url = server.add("/huge.html", endless(b"<html>" + b" " * 8000, total), "text/html")
    route = server.files["/huge.html"]
    with pytest.raises(ImageError, match="HTML page"):
        await to_uri(url, max_bytes=2 * total)
    assert route.done.wait(10)
    assert route.sent < total


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "no-length"])
async def test_url_size_cap_aborts_the_download(
    server: FileHost, to_uri: Convert, announce: bool
) -> None:
    total = 64 * 1024 * 1024
    headers = {"Content-Type": "image/jpeg"}
    if announce:
        headers["Content-Length"] = str(total)
    url = server.add("/huge.jpg", endless(image_bytes("JPEG"), total), headers=headers)
    route = server.files["/huge.jpg"]
    with pytest.raises(ImageError) as info:
        await to_uri(url, max_bytes=100_000)
    message = str(info.value)
    assert url in message and "100,000-byte limit" in message
    assert (f"{total:,} bytes announced" in message) if announce else ("stopped after" in message)
    assert route.done.wait(10)
    assert route.aborted and route.sent < total // 4


async def test_url_connection_refused(to_uri: Convert) -> None:
    with FileHost() as srv:
        url = srv.url_for("/a.png")
    # nothing listens on that port any more
    with pytest.raises(ImageError) as info:
        await to_uri(url)
    assert url in str(info.value) and "download failed" in str(info.value)


@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "connection-failed"])
def test_url_errors_hide_credentials_and_query(allowed: bool) -> None:
    with pytest.raises(ImageError) as info:
        image_to_data_uri(
            "http://user:secret@127.0.0.1:9/a.png?sig=TOKEN", allow_private_urls=allowed
        )
    assert "secret" not in str(info.value) and "TOKEN" not in str(info.value)
    assert "127.0.0.1:9/a.png" in str(info.value)
    assert ("download failed" in str(info.value)) is allowed


# ---------------------------------------------------------------------------------- downscaling

DOWNSCALE_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "jpeg": ("JPEG", {}),
    "progressive-jpeg": ("JPEG", {"progressive": True}),
    "png": ("PNG", {}),
    "gif": ("GIF", {}),
    "webp-lossy": ("WEBP", {}),
    "webp-lossless": ("WEBP", {"lossless": True}),
    "webp-extended": ("WEBP", {"exif": b"Exif\0\0MM\0*\0\0\0\x08\0\0"}),
    "bmp": ("BMP", {}),
}


@pytest.mark.parametrize("case", sorted(DOWNSCALE_CASES))
async def test_max_pixels_downscales_keeping_aspect_and_format(case: str, to_uri: Convert) -> None:
    fmt, options = DOWNSCALE_CASES[case]
    data = image_bytes(fmt, (400, 300), **options)
    decoded = open_uri(await to_uri(data, max_pixels=30_000))
    assert decoded.format == fmt and decoded.size == (200, 150)
    # Within the limit nothing is touched: the header parser saw the right size.
    assert parse(await to_uri(data, max_pixels=120_000))[1] == data


async def test_downscaled_webp_stays_lossless() -> None:
    data = image_bytes("WEBP", (400, 300), lossless=True)
    assert parse(bytes_to_data_uri(data, max_pixels=30_000))[1][12:16] == b"VP8L"


async def test_downscale_from_path_data_uri_pil_and_url(
    tmp_path: Path, server: FileHost, to_uri: Convert
) -> None:
    data = image_bytes("JPEG", (300, 300))
    path = tmp_path / "square.jpg"
    path.write_bytes(data)
    uri = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    url = server.add("/square.jpg", data, "image/jpeg")
    for source in (path, uri, url, Image.open(io.BytesIO(data))):
        decoded = open_uri(await to_uri(source, max_pixels=10_000))
        assert decoded.size == (100, 100) and decoded.format == "JPEG"


def test_downscale_keeps_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    data = image_bytes("JPEG", (400, 200), exif=exif.tobytes())
    decoded = open_uri(bytes_to_data_uri(data, max_pixels=20_000))
    assert decoded.size == (200, 100)
    assert decoded.getexif()[0x0112] == 6


def test_downscale_keeps_animation() -> None:
    frames = [Image.new("RGB", (60, 40), color) for color in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    decoded = open_uri(bytes_to_data_uri(buf.getvalue(), max_pixels=600))
    assert decoded.size == (30, 20) and getattr(decoded, "n_frames", 1) == 3


def test_downscale_of_a_very_thin_image_stays_within_the_limit() -> None:
    decoded = open_uri(bytes_to_data_uri(image_bytes("PNG", (500, 2)), max_pixels=100))
    width, height = decoded.size
    assert width * height <= 100 and height >= 1 and width > height


def test_downscale_without_pillow_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = image_bytes("PNG", (10, 10)), image_bytes("PNG", (100, 100))
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    # No resize needed: the size comes from the header, Pillow is not required.
    assert parse(bytes_to_data_uri(small, max_pixels=100))[1] == small
    with pytest.raises(ImageError, match=re.escape('pip install "r1v4[images]"')):
        bytes_to_data_uri(large, max_pixels=100)
