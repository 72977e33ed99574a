"""The sync and async client of one framework model object, made on first use.

A LangChain or LlamaIndex model object is built once and called from any thread, event loop or
forked worker; it keeps one :class:`R1V4Clients` in a private attribute that copies and pickles
reset to ``None``, so that they build their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import PrivateAttr

from r1v4._client import AsyncR1V4Client, R1V4Client
from r1v4._config import ClientSettings
from r1v4._fork import ForkSafeLock
from r1v4._model_options import ClientOptions

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; the library supports 3.10, so for the checker only

__all__ = ["ClientsHolder", "R1V4Clients", "cached_clients", "without_clients"]


class R1V4Clients:
    """The sync and async client of one model object, each made on first use.

    Both share one :class:`ClientSettings`, so what one learns (a server that refuses native
    tools) the other knows too. Framework adapters hold one of these per model object
    (:meth:`for_model`).
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        self.settings = ClientSettings(**options)
        self._http_client = http_client
        self._http_async_client = http_async_client
        self._sync: R1V4Client | None = None
        self._async: AsyncR1V4Client | None = None

    @classmethod
    def for_model(
        cls,
        model: ClientOptions,
        *,
        http_client: httpx.Client | None,
        http_async_client: httpx.AsyncClient | None,
        attr: str = "_core",
    ) -> R1V4Clients:
        """``model``'s clients, kept in ``model.<attr>`` and made on first use (see
        :func:`cached_clients`) from every client setting it carries
        (:meth:`ClientOptions.client_options`)."""
        return cached_clients(
            model,
            attr,
            lambda: cls(
                http_client=http_client,
                http_async_client=http_async_client,
                **model.client_options(),
            ),
        )

    def __repr__(self) -> str:
        return f"R1V4Clients(base_url={self.settings.base_url!r})"

    @property
    def sync(self) -> R1V4Client:
        return _once(
            self, "_sync", lambda: R1V4Client(http_client=self._http_client, settings=self.settings)
        )

    @property
    def async_(self) -> AsyncR1V4Client:
        return _once(
            self,
            "_async",
            lambda: AsyncR1V4Client(
                http_async_client=self._http_async_client, settings=self.settings
            ),
        )

    def close(self) -> None:
        """Close the sync pool now (async pools close with their event loops)."""
        if self._sync is not None:
            self._sync.close()


class ClientsHolder(ClientOptions):
    """Base of a framework model object that keeps its :class:`R1V4Clients` in ``_core``, made
    from the client settings it carries (:class:`ClientOptions`).

    Locks and connection pools cannot be copied or cross processes: a deep copy, a pickle or a
    copy with changed settings builds its own clients on first use, while the caller's own
    httpx clients (:meth:`_given_http_clients`) are shared, never copied. Listed before the
    framework's base class, e.g. ``class ChatModel(ClientsHolder, BaseChatModel)``.
    """

    _core: R1V4Clients | None = PrivateAttr(default=None)

    def _given_http_clients(self) -> tuple[object, ...]:
        """The httpx clients the caller gave, which copies share."""
        return ()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        if update:
            copied._core = None  # new settings want new clients
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        memo = {} if memo is None else memo
        if self._core is not None:
            memo[id(self._core)] = None
        for given in self._given_http_clients():
            if given is not None:
                memo[id(given)] = given
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["__pydantic_private__"] = without_clients(state.get("__pydantic_private__"))
        return state


def cached_clients(owner: object, attr: str, make: Callable[[], R1V4Clients]) -> R1V4Clients:
    """``owner.<attr>``, set to ``make()`` on first use: once, even when threads race.

    For framework model objects that keep their :class:`R1V4Clients` in a private attribute
    (``None`` until first use, and again in copies and pickles, which must build their own).
    """
    return _once(owner, attr, make)


def without_clients(
    private: Mapping[str, Any] | None, attrs: Collection[str] = ("_core",)
) -> dict[str, Any] | None:
    """A model object's private attributes as a pickle or a changed copy keeps them: the
    clients (locks, connection pools) in ``attrs`` reset to ``None``."""
    if private is None:
        return None
    return {k: None if k in attrs else v for k, v in private.items()}


_T = TypeVar("_T")
_MAKE_LOCK = ForkSafeLock()


def _once(owner: object, attr: str, make: Callable[[], _T]) -> _T:
    value: _T | None = getattr(owner, attr)
    if value is None:
        with _MAKE_LOCK:
            value = getattr(owner, attr)
            if value is None:
                value = make()
                setattr(owner, attr, value)
    return value
