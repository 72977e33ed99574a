"""The core clients an ``R1V4`` calls R1V4 through, made from its fields on first use.

What copies keep of them is the core's rule (:class:`r1v4.ClientsHolder`); a pickle also
leaves out what LlamaIndex objects may hold that cannot be pickled (callback handlers).
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from llama_index.core.bridge.pydantic import PrivateAttr, SecretStr
from llama_index.core.llms.function_calling import FunctionCallingLLM

from r1v4 import AsyncR1V4Client, R1V4Client
from r1v4._integrations import ClientsHolder, R1V4Clients, without_clients

__all__ = ["CoreClientsLLM"]

_CONNECTIONS = frozenset({"_http_client", "_async_http_client", "_core"})


class CoreClientsLLM(ClientsHolder, FunctionCallingLLM):
    """A LlamaIndex LLM that calls R1V4 through the core clients it makes from its fields.

    Every client setting of the core is a field (:class:`r1v4.ClientOptions`); a keyword that
    is none of its fields goes into ``additional_kwargs`` (sent in the body) with a warning,
    unless it is a misspelt field, which is refused.
    """

    extra_kwargs_field: ClassVar[str] = "additional_kwargs"
    # As LlamaIndex's OpenAI LLM, additional_kwargs may override these request fields.
    body_parameters: ClassVar[frozenset[str]] = frozenset(
        {"model", "temperature", "max_tokens", "enable_search"}
    )

    if TYPE_CHECKING:  # the fields, declared (and documented) on R1V4
        api_key: SecretStr | None
        base_url: str

    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)

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

    def _given_http_clients(self) -> tuple[object, ...]:
        return (self._http_client, self._async_http_client)

    def __getstate__(self) -> dict[str, Any]:
        # LlamaIndex's own version strips what it cannot pickle from this live object instead;
        # the caller's httpx clients cannot travel either.
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
