"""R1V4Clients: one model object's sync and async clients share what they learn."""

from __future__ import annotations

import asyncio
import copy
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from pydantic import SecretStr

from r1v4 import ToolMode
from r1v4._integrations import ClientsHolder, R1V4Clients
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


class _Model(ClientsHolder):
    """The smallest model object holding clients, as an adapter's model does."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout: float | None = 5.0
    max_retries: int = 0
    default_headers: dict[str, str] | None = None
    tool_mode: ToolMode = "auto"
    allow_file_paths: bool = False
    allow_private_urls: bool = False
    image_download_timeout: float = 30.0
    given: Any = None

    def _given_http_clients(self) -> tuple[object, ...]:
        return (self.given,)

    def clients(self) -> R1V4Clients:
        return R1V4Clients.for_model(self, http_client=self.given, http_async_client=None)


def test_copies_and_pickles_of_a_model_build_their_own_clients(
    r1v4_server: LocalR1V4Server, no_native_tools_server: LocalR1V4Server
) -> None:
    given = httpx.Client()
    model = _Model(api_key=SecretStr("test-key"), base_url=r1v4_server.base_url, given=given)
    model.clients().sync.create(model="skywork/r1v4-lite", messages=ASK)
    clone = copy.deepcopy(model)
    assert clone._core is None and clone.given is given  # the caller's client is shared
    assert model.model_copy()._core is model._core  # same settings, same clients
    moved = model.model_copy(update={"base_url": no_native_tools_server.base_url})
    moved.clients().sync.create(model="skywork/r1v4-lite", messages=ASK)
    assert len(no_native_tools_server.requests) == 1
    revived = pickle.loads(pickle.dumps(model.model_copy(update={"given": None})))
    assert revived._core is None and revived.base_url == r1v4_server.base_url
    assert model._core is not None  # the original kept its clients
    model.clients().close()
    given.close()
