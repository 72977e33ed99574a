"""The local R1V4 server: image decoding and the default reply."""

from __future__ import annotations

import hashlib

import httpx

from r1v4.testing import LocalR1V4Server, data_uri, make_image
from testing.support import AUTH, MODEL, PNG, url


def test_images_are_decoded_and_described(r1v4_server: LocalR1V4Server) -> None:
    jpeg = make_image("JPEG", (10, 10), (0, 128, 255))
    content = [
        {"type": "image_url", "image_url": {"url": data_uri(PNG, "image/png")}},
        {"type": "image_url", "image_url": {"url": data_uri(jpeg, "image/jpeg")}},
        {"type": "text", "text": "What do you see?"},
    ]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    response = httpx.post(url(r1v4_server), json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == (
        "I saw 2 image(s): PNG 4x3, JPEG 10x10. You said: What do you see?"
    )
    png_info, jpeg_info = r1v4_server.requests[0].images
    assert (png_info.format, png_info.width, png_info.height, png_info.mode) == ("PNG", 4, 3, "RGB")
    assert png_info.byte_size == len(PNG)
    assert png_info.sha256 == hashlib.sha256(PNG).hexdigest()
    assert png_info.mime_type == "image/png"
    assert jpeg_info.sha256 == hashlib.sha256(jpeg).hexdigest()
    assert jpeg_info.format == "JPEG"


def test_large_images_are_decoded_too(r1v4_server: LocalR1V4Server) -> None:
    big = make_image("PNG", (1200, 900), (10, 20, 30))
    noisy = bytes(range(256)) * 2000  # make the payload large enough to be decoded off-loop
    from PIL import Image

    image = Image.frombytes("L", (1000, 512), noisy)
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    content = [
        {"type": "image_url", "image_url": {"url": data_uri(big)}},
        {"type": "image_url", "image_url": {"url": data_uri(buffer.getvalue())}},
        {"type": "text", "text": "big"},
    ]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    response = httpx.post(url(r1v4_server), json=body, headers=AUTH)
    assert response.json()["choices"][0]["message"]["content"].startswith(
        "I saw 2 image(s): PNG 1200x900, PNG 1000x512."
    )


def test_default_reply_uses_the_last_user_text_and_string_content(
    r1v4_server: LocalR1V4Server,
) -> None:
    body = {
        "model": "Skywork/R1V4",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second question"},
        ],
    }
    data = httpx.post(url(r1v4_server, "openai"), json=body, headers=AUTH).json()
    assert data["choices"][0]["message"]["content"] == "I saw 0 image(s). You said: second question"
    assert data["choices"][0]["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["prompt_tokens"] == 6  # whitespace words of every text
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert r1v4_server.requests[0].last_user_text == "second question"
