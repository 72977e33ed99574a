"""The core clients of a framework model object: made from its fields on first use, its own.

A LangChain or LlamaIndex model object is built once and called from any thread, event loop or
forked worker. Its base class :class:`ClientsHolder` makes the object's sync and async client
(sharing one :class:`~r1v4._config.ClientSettings`, so what one learns the other knows) the first
time a call needs them, and keeps them in a private attribute.

Copies and pickles never carry them: a copy made any way (``copy.copy``, ``model_copy``,
``copy.deepcopy``) and an unpickled object start without clients and make their own on first
use, from their own fields. Locks and connection pools can neither be copied nor cross
processes, and a copy may have other settings. Event loops and forks are the clients' own
business: the async client keeps a pool per event loop, and a forked child drops every pool it
inherited (:mod:`r1v4._fork`).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, PrivateAttr

from r1v4._client import AsyncR1V4Client, R1V4Client
from r1v4._config import ClientSettings
from r1v4._fork import ForkSafeLock
from r1v4._model_options import ClientOptions

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is Python 3.11+; the library supports 3.10

__all__ = ["ClientsHolder"]

# Held only while a model object makes its clients, once in its life.
_MAKING = ForkSafeLock()


class ClientsHolder(ClientOptions):
    """Base of a framework model object that calls R1V4 through core clients made from its
    fields (every setting of :class:`~r1v4._model_options.ClientOptions`, plus ``api_key`` and
    ``base_url``, which each adapter declares).

    Listed before the framework's base class (``class ChatR1V4(ClientsHolder, BaseChatModel)``),
    so that its copy and pickle rules come first. An adapter whose caller may give their own
    httpx clients says which (:meth:`_given_http_clients`).
    """

    # (sync, async), made together on first use; None in every copy and pickle.
    _clients: tuple[R1V4Client, AsyncR1V4Client] | None = PrivateAttr(default=None)

    if TYPE_CHECKING:
        # The checker would take this mixin's fields for all the keywords an adapter's
        # ``__init__`` may pass on; the framework's fields are keywords too.
        def __init__(self, **data: Any) -> None: ...

    @property
    def client(self) -> R1V4Client:
        """The core sync client, made on first use and shared by every call of this object."""
        return (self._clients or self._make_clients())[0]

    @property
    def async_client(self) -> AsyncR1V4Client:
        """The core async client (one connection pool per event loop, managed by the core)."""
        return (self._clients or self._make_clients())[1]

    def _given_http_clients(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        """The caller's own httpx clients, sync and async: used as given, never closed, shared
        (not copied) by deep copies, refused by pickles."""
        return None, None

    def _make_clients(self) -> tuple[R1V4Client, AsyncR1V4Client]:
        with _MAKING:
            if self._clients is None:  # else another thread made them while this one waited
                settings = ClientSettings(**self.client_options())
                http_client, http_async_client = self._given_http_clients()
                self._clients = (
                    R1V4Client(http_client=http_client, settings=settings),
                    AsyncR1V4Client(http_async_client=http_async_client, settings=settings),
                )
            return self._clients

    # ------------------------------------------------- copies and pickles start without clients

    def __copy__(self) -> Self:  # copy.copy and model_copy
        copied = super().__copy__()
        copied._clients = None
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # What the memo holds is not copied again: the clients become None, the caller's own
        # httpx clients stay the same objects.
        memo = {} if memo is None else memo
        memo[id(self._clients)] = None
        for given in self._given_http_clients():
            memo[id(given)] = given
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        # pydantic's own state, not a framework's: LlamaIndex's drops what it cannot pickle.
        state = BaseModel.__getstate__(self)
        state["__pydantic_private__"] = {**(state["__pydantic_private__"] or {}), "_clients": None}
        _refuse_unpicklable(type(self).__name__, state)
        return state


def _refuse_unpicklable(owner: str, state: Mapping[str, Any]) -> None:
    """Raise, naming the attribute, if any value of ``state`` cannot be pickled: pickle's own
    error names only the type, and an object unpickled without it would not be the same model.

    Raises:
        pickle.PicklingError: naming the first attribute that cannot be pickled.
    """
    for part in ("__dict__", "__pydantic_extra__", "__pydantic_private__"):
        for name, value in (state[part] or {}).items():
            try:
                pickle.dumps(value)
            except Exception as exc:
                kind = f"{type(value).__module__}.{type(value).__qualname__}"
                raise pickle.PicklingError(
                    f"cannot pickle this {owner}: its {name!r} ({kind}) cannot be pickled: {exc}"
                ) from exc
