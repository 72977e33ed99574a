"""Replies whose choices are of a wrong shape (a null choice, a choice without ``delta`` or
``message``), scripted for the local server, for the tests of every path that must raise
``MalformedResponseError`` with the text received so far."""

from __future__ import annotations

from typing import Any

from r1v4.testing import Reply

MODEL = "skywork/r1v4-lite"
TEXT = "hello world"

STREAM_CHOICES: dict[str, list[Any]] = {
    "null-choice": [None],
    "no-delta": [{"index": 0, "finish_reason": None}],
    "null-delta": [{"index": 0, "delta": None, "finish_reason": None}],
}
BODY_CHOICES: dict[str, list[Any]] = {
    "null-choice": [None],
    "no-message": [{"index": 0, "finish_reason": "stop"}],
    "null-message": [{"index": 0, "message": None, "finish_reason": "stop"}],
}
# Where the wrong chunk comes in a stream of TEXT in chunks of 4 (event 0 is the role chunk):
# before the role chunk, right after it, after "hell" and "o wo" were delivered.
POINTS = {"first": (0, ""), "after-role": (1, ""), "after-text": (3, "hello wo")}


def stream_reply(shape: str, after: int) -> Reply:
    """A stream of TEXT with a chunk whose choices are ``STREAM_CHOICES[shape]`` after
    ``after`` events."""
    chunk = {
        "id": "chatcmpl-shape",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": STREAM_CHOICES[shape],
    }
    return Reply(content=TEXT, chunk_size=4, inject_after=after, inject=chunk)


def body_reply(shape: str) -> Reply:
    """A non-stream body whose choices are ``BODY_CHOICES[shape]``, with HTTP 200."""
    body = {
        "id": "chatcmpl-shape",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": BODY_CHOICES[shape],
        "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1},
    }
    return Reply(status=200, body=body)
