"""ClientsHolder: a model object's sync and async clients, made once, shared by its calls,
never carried by its copies and pickles."""

from __future__ import annotations

import asyncio
import copy
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from r1v4 import ToolMode
from r1v4._integrations import ClientsHolder
from r1v4.testing import LocalR1V4Server

TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    }
]
ASK = [{"role": "user", "content": "what time is it?"}]


class _Model(ClientsHolder):
    """The smallest model object holding clients, as an adapter's model does."""

    api_key: SecretStr | None = SecretStr("test-key")
    base_url: str | None = None
    timeout: float | None = 5.0
    max_retries: int = 0
    default_headers: dict[str, str] | None = None
    tool_mode: ToolMode = "auto"
    allow_file_paths: bool = False
    allow_private_urls: bool = False
    image_download_timeout: float = 30.0
    given: Any = None

    def _given_http_clients(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        return self.given, None


def test_a_fallback_learned_by_the_sync_client_is_known_to_the_async_one(
    no_native_tools_server: LocalR1V4Server,
) -> None:
    model = _Model(base_url=no_native_tools_server.base_url)
    model.client.create(model="skywork/r1v4-lite", messages=ASK, tools=TOOLS)
    asyncio.run(model.async_client.create(model="skywork/r1v4-lite", messages=ASK, tools=TOOLS))
    sent = [("tools" in r.body) for r in no_native_tools_server.requests]
    assert sent == [True, False, False]  # one refusal, then prompted on both paths
    model.client.close()


def test_clients_are_made_once_even_from_many_threads(r1v4_server: LocalR1V4Server) -> None:
    model = _Model(base_url=r1v4_server.base_url)
    assert model._clients is None  # made on first use
    with ThreadPoolExecutor(8) as pool:
        syncs = set(pool.map(lambda _: id(model.client), range(32)))
        asyncs = set(pool.map(lambda _: id(model.async_client), range(32)))
    assert len(syncs) == 1 and len(asyncs) == 1
    assert model.client.settings is model.async_client.settings
    assert "test-key" not in repr(model) + repr(model.client) + repr(model.async_client)


def test_copies_and_pickles_of_a_model_build_their_own_clients(
    r1v4_server: LocalR1V4Server, no_native_tools_server: LocalR1V4Server
) -> None:
    given = httpx.Client()
    model = _Model(base_url=r1v4_server.base_url, given=given)
    model.client.create(model="skywork/r1v4-lite", messages=ASK)
    made = model.client
    clone = copy.deepcopy(model)
    assert clone._clients is None and clone.given is given  # the caller's client is shared
    # Every copy starts without clients, even with the same settings (premise changed: a
    # plain model_copy used to share them).
    for shallow in (copy.copy(model), model.model_copy()):
        assert shallow._clients is None
        assert shallow.client is not made and shallow.client.http_client is given
    moved = model.model_copy(update={"base_url": no_native_tools_server.base_url})
    moved.client.create(model="skywork/r1v4-lite", messages=ASK)
    assert len(no_native_tools_server.requests) == 1
    revived = pickle.loads(pickle.dumps(model.model_copy(update={"given": None})))
    assert revived._clients is None and revived.base_url == r1v4_server.base_url
    revived.client.create(model="skywork/r1v4-lite", messages=ASK)
    assert len(r1v4_server.requests) == 2
    assert model.client is made  # the original kept its clients
    model.client.close()
    given.close()


def test_a_pickle_names_the_attribute_it_cannot_pickle(r1v4_server: LocalR1V4Server) -> None:
    with httpx.Client() as given:
        model = _Model(base_url=r1v4_server.base_url, given=given)
        with pytest.raises(pickle.PicklingError, match=r"_Model: its 'given' \(httpx\.Client\)"):
            pickle.dumps(model)
    assert model.given is given  # nothing dropped from the object itself
