"""The core clients a ``ChatR1V4`` calls R1V4 through, made from its fields on first use.

What copies and pickles keep of them is the core's rule (:class:`r1v4.ClientsHolder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from r1v4 import AsyncR1V4Client, R1V4Client
from r1v4._integrations import ClientsHolder, R1V4Clients

__all__ = ["CoreClientsChatModel"]


class CoreClientsChatModel(ClientsHolder, BaseChatModel):
    """A chat model that calls R1V4 through the core clients it makes from its own fields.

    Every client setting of the core is a field (:class:`r1v4.ClientOptions`); a keyword that
    is none of its fields goes into ``model_kwargs``, as ``ChatOpenAI``'s do, unless it is a
    misspelt field, which is refused.
    """

    extra_kwargs_field: ClassVar[str] = "model_kwargs"

    if TYPE_CHECKING:  # the fields, declared (and documented) on ChatR1V4
        api_key: SecretStr | None
        base_url: str | None
        http_client: Any
        http_async_client: Any

    @property
    def _clients(self) -> R1V4Clients:
        return R1V4Clients.for_model(
            self, http_client=self.http_client, http_async_client=self.http_async_client
        )

    @property
    def client(self) -> R1V4Client:
        """The core sync client, made on first use and shared by every call of this model."""
        return self._clients.sync

    @property
    def async_client(self) -> AsyncR1V4Client:
        """The core async client (one connection pool per event loop, managed by the core)."""
        return self._clients.async_

    def _given_http_clients(self) -> tuple[object, ...]:
        return (self.http_client, self.http_async_client)
