"""R1V4Clients: one model object's sync and async clients share what they learn."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from r1v4 import R1V4Clients
from r1v4.testing import LocalR1V4Server

TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    }
]
ASK = [{"role": "user", "content": "what time is it?"}]


def test_a_fallback_learned_by_the_sync_client_is_known_to_the_async_one(
    no_native_tools_server: LocalR1V4Server,
) -> None:
    pair = R1V4Clients(api_key="test-key", base_url=no_native_tools_server.base_url)
    pair.sync.create(model="skywork/r1v4-lite", messages=ASK, tools=TOOLS)
    asyncio.run(pair.async_.create(model="skywork/r1v4-lite", messages=ASK, tools=TOOLS))
    sent = [("tools" in r.body) for r in no_native_tools_server.requests]
    assert sent == [True, False, False]  # one refusal, then prompted on both paths
    pair.close()


def test_clients_are_made_once_even_from_many_threads(r1v4_server: LocalR1V4Server) -> None:
    pair = R1V4Clients(api_key="test-key", base_url=r1v4_server.base_url)
    with ThreadPoolExecutor(8) as pool:
        syncs = set(pool.map(lambda _: id(pair.sync), range(32)))
        asyncs = set(pool.map(lambda _: id(pair.async_), range(32)))
    assert len(syncs) == 1 and len(asyncs) == 1
    assert pair.sync.settings is pair.async_.settings is pair.settings
    assert "test-key" not in repr(pair)
