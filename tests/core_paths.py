"""The core client's four paths (sync and async, ``create`` and a merged ``stream``) as one
call, for the tests that prove a behaviour on each of them against the local server."""

from __future__ import annotations

import asyncio
from typing import Any

from r1v4 import AsyncR1V4Client, ChatCompletion, ChatCompletionChunk, R1V4Client, accumulate

PATHS = [(False, False), (False, True), (True, False), (True, True)]
"""``(is_async, stream)`` of each path, for ``pytest.fixture(params=PATHS, ids=PATH_IDS)``."""
PATH_IDS = ["sync-create", "sync-stream", "async-create", "async-stream"]


def complete(
    base_url: str, is_async: bool, stream: bool, **fields: Any
) -> tuple[ChatCompletion, list[ChatCompletionChunk]]:
    """One call on one path with a fresh client (key ``test-key``): the reply, and the chunks
    as the caller got them (none for ``create``)."""
    if is_async:

        async def go() -> tuple[ChatCompletion, list[ChatCompletionChunk]]:
            async with AsyncR1V4Client(base_url=base_url, api_key="test-key") as client:
                if stream:
                    chunks = [c async for c in client.stream(**fields)]
                    return accumulate(chunks), chunks
                return await client.create(**fields), []

        return asyncio.run(go())
    with R1V4Client(base_url=base_url, api_key="test-key") as client:
        if stream:
            chunks = list(client.stream(**fields))
            return accumulate(chunks), chunks
        return client.create(**fields), []
