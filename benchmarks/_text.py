"""Prompts whose echoed answer is an exact number of server chunks."""

from __future__ import annotations

from benchmarks._contenders import expected_answer

# The local server's default Reply streams 8 characters per content delta.
CHUNK_CHARS = 8
_TEXT = (
    "the quick brown fox jumps over a lazy dog while seven wizards quietly judge "
    "boxing matches near the old river bank and count every star "
)


def prompt_for_chunks(chunks: int) -> str:
    """Plain words (no markup, so no transcript tags) echoed back as ``chunks`` content deltas."""
    size = chunks * CHUNK_CHARS - len(expected_answer(""))
    if size < 1:
        raise ValueError(f"at least {len(expected_answer('')) // CHUNK_CHARS + 1} chunks")
    text = (_TEXT * (size // len(_TEXT) + 1))[:size]
    # No trailing space: keep the exact length with a letter instead.
    return text[:-1] + "x" if text.endswith(" ") else text


def content_chunks(prompt: str) -> int:
    """How many content deltas the server sends for ``prompt``."""
    return -(-len(expected_answer(prompt)) // CHUNK_CHARS)
