"""The agent scenario's "thinking with images": the server really crops the user's picture and
streams the crop as a PNG data URI inside the ``code`` observation, as the hosted API does.

Server side only: raw HTTP to ``LocalR1V4Server``, SSE parsed by hand, no r1v4 client.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from r1v4.testing import LocalR1V4Server, data_uri

KEY = "crop-key"
_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(scope="module")
def agent() -> Iterator[LocalR1V4Server]:
    with LocalR1V4Server(api_key=KEY, scenario="agent") as server:
        yield server


def picture(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    """Every pixel different, so a crop from the wrong place or of the wrong size shows."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, (x * y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def ask(
    server: LocalR1V4Server, images: list[tuple[bytes, str]], *, stream: bool, **extra: Any
) -> httpx.Response:
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": data_uri(data, mime)}} for data, mime in images
    ]
    content.append({"type": "text", "text": "What is in the middle?"})
    body = {"model": "skywork/r1v4-lite", "messages": [{"role": "user", "content": content}]}
    response = httpx.post(
        f"{server.hosted_base_url}/chat/completions",
        json={**body, "stream": stream, **extra},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response


def content_deltas(raw: bytes) -> list[str]:
    """The ``delta.content`` of every SSE event, in order, parsed from the raw body."""
    deltas: list[str] = []
    for event in raw.decode().split("\n\n"):
        data = "".join(line[6:] for line in event.splitlines() if line.startswith("data: "))
        if not data or data == "[DONE]":
            continue
        choices = json.loads(data).get("choices") or [{}]
        text = choices[0].get("delta", {}).get("content")
        if text:
            deltas.append(text)
    return deltas


def expected_crop(data: bytes) -> Image.Image:
    """What the transcript's code does to ``image_0``: the central half, w//4 .. 3*w//4."""
    with Image.open(io.BytesIO(data)) as image:
        w, h = image.size
        return image.convert("RGB").crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))


def observations(transcript: str) -> list[dict[str, Any]]:
    return [
        json.loads(o) for o in re.findall(r"<observation>(.*?)</observation>", transcript, re.S)
    ]


def crop_in(transcript: str) -> Image.Image:
    (obs,) = observations(transcript)
    assert list(obs) == ["result", "type", "images"] and obs["type"] == "code"
    (uri,) = obs["images"]
    match = _URI.fullmatch(uri)
    assert match, uri[:60]
    png = base64.b64decode(match[1], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_the_stream_carries_the_real_crop_across_sse_events(
    agent: LocalR1V4Server, fmt: str
) -> None:
    data = picture(fmt)
    raw = ask(agent, [(data, f"image/{fmt.lower()}")], stream=True).content
    deltas = content_deltas(raw)
    transcript = "".join(deltas)
    # The data URI is cut across many events: no single delta holds it.
    uri = _URI.search(transcript)
    assert uri is not None
    assert not any(uri[0] in delta for delta in deltas)
    assert sum(1 for d in deltas if d and d in uri[0]) > 10
    crop = crop_in(transcript)
    want = expected_crop(data)
    assert crop.size == want.size == (32, 24)
    assert crop.convert("RGB").tobytes() == want.tobytes()
    # The code in the tool call names the very crop the observation returns.
    (call,) = re.findall(r"<tool_call>(.*?)</tool_call>", transcript, re.S)
    assert (
        "img.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))"
        in json.loads(call)["arguments"]["code"]
    )


def test_only_the_first_image_is_cropped_and_non_stream_says_the_same(
    agent: LocalR1V4Server,
) -> None:
    first, second = picture("PNG", (40, 20)), picture("JPEG", (30, 30))
    images = [(first, "image/png"), (second, "image/jpeg")]
    whole = ask(agent, images, stream=False).json()["choices"][0]["message"]["content"]
    streamed = "".join(content_deltas(ask(agent, images, stream=True).content))
    assert whole == streamed
    crop = crop_in(whole)
    assert crop.size == (20, 10)
    assert crop.convert("RGB").tobytes() == expected_crop(first).tobytes()
    assert "Having examined image_0, image_1" in whole


def test_a_large_picture_is_cropped_too(agent: LocalR1V4Server) -> None:
    # Over the size the server decodes on its event loop: the crop runs in a worker thread.
    image = Image.effect_noise((600, 600), 64).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    assert len(data) > 256 * 1024
    whole = ask(agent, [(data, "image/png")], stream=False).json()["choices"][0]["message"][
        "content"
    ]
    crop = crop_in(whole)
    assert crop.size == (300, 300)
    assert crop.convert("RGB").tobytes() == expected_crop(data).tobytes()


def test_no_picture_no_crop_and_other_modes_unchanged(agent: LocalR1V4Server) -> None:
    body = {"model": "skywork/r1v4-lite", "messages": [{"role": "user", "content": "Hi?"}]}
    auth = {"Authorization": f"Bearer {KEY}"}
    text = httpx.post(f"{agent.hosted_base_url}/chat/completions", json=body, headers=auth).json()
    (obs,) = observations(text["choices"][0]["message"]["content"])
    assert obs == {"result": "Saved the cropped region to crop_0.png.", "type": "code"}
    research = ask(agent, [(picture(), "image/png")], stream=False, enable_search=True).json()
    assert "data:image/" not in research["choices"][0]["message"]["content"]
