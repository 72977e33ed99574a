"""The core clients a ``ChatR1V4`` holds, and what its copies and pickles keep of them.

The core clients hold locks and connection pools: copies and pickles make their own on first
use (a copy with changed settings must not keep the old ones), while the caller's own httpx
clients are shared, never copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from pydantic import PrivateAttr, SecretStr
from typing_extensions import Self

from r1v4 import (
    AsyncR1V4Client,
    R1V4Client,
    R1V4Clients,
    ToolMode,
    clients_memo,
    without_clients,
)

__all__ = ["CoreClientsChatModel"]


class CoreClientsChatModel(BaseChatModel):
    """A chat model that calls R1V4 through the core clients it makes from its own fields."""

    if TYPE_CHECKING:  # the fields, declared (and documented) on ChatR1V4
        api_key: SecretStr | None
        base_url: str | None
        timeout: float | None
        max_retries: int
        default_headers: dict[str, str] | None
        tool_mode: ToolMode
        stream_usage: bool
        http_client: Any
        http_async_client: Any

    _core: R1V4Clients | None = PrivateAttr(default=None)

    @property
    def _clients(self) -> R1V4Clients:
        return R1V4Clients.for_model(
            self,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
            stream_usage=self.stream_usage,
        )

    @property
    def client(self) -> R1V4Client:
        """The core sync client, made on first use and shared by every call of this model."""
        return self._clients.sync

    @property
    def async_client(self) -> AsyncR1V4Client:
        """The core async client (one connection pool per event loop, managed by the core)."""
        return self._clients.async_

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        if update:
            copied._core = None
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        shared = (self.http_client, self.http_async_client)
        return super().__deepcopy__(clients_memo(memo, self._core, shared))

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["__pydantic_private__"] = without_clients(state.get("__pydantic_private__"))
        return state
