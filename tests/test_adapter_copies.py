"""Copies and pickles of one ChatR1V4 / R1V4 object (issue #21): each makes its own core
clients from its own fields, and a field that cannot be pickled is named, never dropped."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from r1v4.testing import LocalR1V4Server

KEY = "test-key"


@dataclass
class Adapter:
    make: Callable[..., Any]
    ask: Callable[[Any, str], str]
    unpicklable: dict[str, Any]
    """A keyword of the framework's own that takes something pickle refuses."""
    field: str
    """The attribute the error must name for it."""
    ask_source: str
    """Python, defining ask(llm, text) -> str, for another process."""


def _langchain() -> Adapter:
    from langchain_core.rate_limiters import InMemoryRateLimiter

    from langchain_r1v4 import ChatR1V4

    return Adapter(
        make=lambda url, **kw: ChatR1V4(api_key=KEY, base_url=url, **kw),
        ask=lambda llm, text: str(llm.invoke(text).content),
        unpicklable={"rate_limiter": InMemoryRateLimiter(requests_per_second=1e6)},  # holds a Lock
        field="rate_limiter",
        ask_source="def ask(llm, text):\n    return llm.invoke(text).content\n",
    )


def _llama_index() -> Adapter:
    from llama_index.core.llms import ChatMessage

    from llama_index_r1v4 import R1V4

    def ask(llm: Any, text: str) -> str:
        return str(llm.chat([ChatMessage(role="user", content=text)]).message.content)

    return Adapter(
        make=lambda url, **kw: R1V4(api_key=KEY, base_url=url, **kw),
        ask=ask,
        # LlamaIndex's own pickling drops such a field, silently; R1V4 refuses.
        unpicklable={"messages_to_prompt": lambda messages: "a local function"},
        field="messages_to_prompt",
        ask_source=(
            "from llama_index.core.llms import ChatMessage\n"
            "def ask(llm, text):\n"
            "    return llm.chat([ChatMessage(role='user', content=text)]).message.content\n"
        ),
    )


@pytest.fixture(params=["langchain", "llama_index"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return _langchain() if request.param == "langchain" else _llama_index()


def test_every_copy_makes_its_own_clients(
    adapter: Adapter, r1v4_server: LocalR1V4Server, no_native_tools_server: LocalR1V4Server
) -> None:
    llm = adapter.make(r1v4_server.base_url)
    assert adapter.ask(llm, "warm").endswith("warm")  # the clients are made now
    made = (llm.client, llm.async_client)
    copies = {
        "copy.copy": copy.copy(llm),
        "model_copy": llm.model_copy(),
        "model_copy(deep=True)": llm.model_copy(deep=True),
        "copy.deepcopy": copy.deepcopy(llm),
        "pickle": pickle.loads(pickle.dumps(llm)),
    }
    for how, copied in copies.items():
        assert copied._clients is None, how
        assert adapter.ask(copied, how).endswith(how)
        assert copied.client is not made[0] and copied.async_client is not made[1], how
    assert (llm.client, llm.async_client) == made  # the original kept its own
    moved = llm.model_copy(update={"base_url": no_native_tools_server.base_url})
    assert adapter.ask(moved, "moved").endswith("moved")
    assert len(no_native_tools_server.requests) == 1
    assert len(r1v4_server.requests) == 1 + len(copies)


def test_a_pickle_works_in_another_process(adapter: Adapter, r1v4_server: LocalR1V4Server) -> None:
    llm = adapter.make(r1v4_server.base_url)
    adapter.ask(llm, "warm")
    script = (
        "import pickle, sys\n"
        + adapter.ask_source
        + "print(ask(pickle.loads(sys.stdin.buffer.read()), 'elsewhere'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(llm),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip().endswith("elsewhere")
    assert r1v4_server.requests[-1].last_user_text == "elsewhere"


def test_a_field_that_cannot_be_pickled_is_named(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    llm = adapter.make(r1v4_server.base_url, **adapter.unpicklable)
    adapter.ask(llm, "warm")
    with pytest.raises(pickle.PicklingError, match=f"its '{adapter.field}' "):
        pickle.dumps(llm)
    # Nothing was taken from the object: it still has the field and still works.
    assert getattr(llm, adapter.field) is adapter.unpicklable[adapter.field]
    assert adapter.ask(llm, "after").endswith("after")


def test_the_callers_http_client_is_shared_by_copies_and_named_by_pickles(
    adapter: Adapter, r1v4_server: LocalR1V4Server
) -> None:
    with httpx.Client() as given:
        llm = adapter.make(r1v4_server.base_url, http_client=given)
        adapter.ask(llm, "warm")
        for copied in (copy.copy(llm), copy.deepcopy(llm), llm.model_copy()):
            assert copied.client.http_client is given  # used as given, never copied
            assert adapter.ask(copied, "copy").endswith("copy")
        # An httpx client holds locks and sockets: it cannot travel, and is not left behind.
        with pytest.raises(pickle.PicklingError, match=r"'_?http_client' \(httpx\.Client\)"):
            pickle.dumps(llm)
        del copied
        llm.client.close()
        assert not given.is_closed  # the caller's to close, never r1v4's
