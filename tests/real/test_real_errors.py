"""The errors llama.cpp really sends, on every path, as the right typed ``R1V4Error``.

Its error body is OpenAI's shape with the status repeated as ``code`` and extras of its own::

    401 {"error": {"message": "Invalid API Key", "type": "authentication_error", "code": 401}}
    400 {"error": {"code": 400, "message": "request (3033 tokens) exceeds the available context
         size (2048 tokens), try increasing it", "type": "exceed_context_size_error",
         "n_prompt_tokens": 3033, "n_ctx": 2048}}
    500 {"error": {"code": 500, "message": "image input is not supported - hint: if this is
         unexpected, you may need to provide the mmproj", "type": "server_error"}}

A stream request gets the same status and JSON body (never an SSE error event): llama.cpp checks
everything before the first byte. The 401 also comes with ``Connection: close``.
"""

from __future__ import annotations

import pytest
from real_paths import PATHS, Ask, Path
from real_server import LlamaServer

from r1v4 import AuthenticationError, BadRequestError, ServerError
from r1v4.testing import make_image_data_uri


@pytest.fixture(params=PATHS, ids=str)
def path(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


HI = Ask(({"role": "user", "content": "Hi"},))


def test_bad_key_is_an_authentication_error(path: Path, llama: LlamaServer) -> None:
    with pytest.raises(AuthenticationError) as info:
        path.run(llama.base_url, "not-the-key", HI)
    assert info.value.status_code == 401
    assert info.value.message == "Invalid API Key"
    assert "not-the-key" not in str(info.value) + repr(info.value)


def test_context_overflow_is_a_bad_request(path: Path, llama: LlamaServer, real_key: str) -> None:
    too_long = "word " * (llama.slot_context + 200)
    with pytest.raises(BadRequestError) as info:
        path.run(llama.base_url, real_key, Ask(({"role": "user", "content": too_long},)))
    assert info.value.status_code == 400
    assert "exceeds the available context size" in info.value.message
    assert f"({llama.slot_context} tokens)" in info.value.message
    assert info.value.body["error"]["type"] == "exceed_context_size_error"


def test_image_on_a_text_model_is_a_server_error(
    path: Path, llama: LlamaServer, real_key: str
) -> None:
    """Without a vision projector llama.cpp refuses images with a 500, not a 400."""
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": make_image_data_uri("PNG", (8, 8))}},
        ],
    }
    with pytest.raises(ServerError) as info:
        path.run(llama.base_url, real_key, Ask((message,)))
    assert info.value.status_code == 500
    assert info.value.message.startswith("image input is not supported")
