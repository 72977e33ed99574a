"""The core clients an ``R1V4`` holds, and what its copies and pickles keep of them.

Connection pools and locks cannot be copied or cross processes: a pickle, a deep copy or a copy
with changed settings builds its own clients on first use, while the caller's own httpx
clients are shared, never copied.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
from llama_index.core.bridge.pydantic import PrivateAttr, SecretStr
from llama_index.core.llms.function_calling import FunctionCallingLLM
from typing_extensions import Self

from r1v4 import (
    AsyncR1V4Client,
    R1V4Client,
    R1V4Clients,
    ToolMode,
    clients_memo,
    without_clients,
)

__all__ = ["CoreClientsLLM"]

_CONNECTIONS = frozenset({"_http_client", "_async_http_client", "_core"})


class CoreClientsLLM(FunctionCallingLLM):
    """A LlamaIndex LLM that calls R1V4 through the core clients it makes from its fields."""

    if TYPE_CHECKING:  # the fields, declared (and documented) on R1V4
        api_key: SecretStr | None
        base_url: str
        timeout: float | None
        max_retries: int
        default_headers: dict[str, str] | None
        tool_mode: ToolMode

    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)
    _core: R1V4Clients | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        # Keyword arguments as the framework takes them (R1V4 spells out its own).
        super().__init__(**data)

    def _clients(self) -> R1V4Clients:
        return R1V4Clients.for_model(
            self, http_client=self._http_client, http_async_client=self._async_http_client
        )

    def _sync_client(self) -> R1V4Client:
        return self._clients().sync

    def _async_client(self) -> AsyncR1V4Client:
        return self._clients().async_

    def close(self) -> None:
        """Close the pooled sync connections (they reopen on the next call)."""
        if self._core is not None:
            self._core.close()

    async def aclose(self) -> None:
        """Close the running event loop's pooled connections."""
        if self._core is not None:
            await self._core.async_.aclose()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        if update:
            copied._core = None  # new settings want new clients
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        shared = (self._http_client, self._async_http_client)
        return super().__deepcopy__(clients_memo(memo, self._core, shared))

    def __getstate__(self) -> dict[str, Any]:
        # The inherited version strips what it cannot pickle from this live object instead.
        data = {}
        for key, value in self.__dict__.items():
            try:
                pickle.dumps(value)
            except Exception:
                continue  # e.g. a callback handler holding a lock; the copy gets a default
            data[key] = value
        return {
            "__dict__": data,
            "__pydantic_extra__": self.__pydantic_extra__,
            "__pydantic_fields_set__": set(self.__pydantic_fields_set__),
            "__pydantic_private__": without_clients(self.__pydantic_private__, _CONNECTIONS),
        }
