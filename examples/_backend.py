"""Where the examples send their requests: the hosted R1V4 API, or a local R1V4 server.

Every example (LangChain and LlamaIndex alike) starts with::

    from _backend import backend

    with backend() as b:
        llm = ChatR1V4(**b.client_kwargs)        # or R1V4(**b.client_kwargs)
        ...

* ``SKYWORK_API_KEY`` set: the hosted API (or ``SKYWORK_BASE_URL``, e.g. your vLLM server).
* not set: ``r1v4.testing.LocalR1V4Server`` is started on loopback for the example's lifetime. It
  speaks the same protocol and streams realistic R1V4 transcripts, but its answers are canned,
  not the model's. The example says so when it starts.

Examples whose point is a behaviour only a real model decides (calling *your* tool, filling a
schema) queue the model's side of the exchange with :meth:`Backend.script`; against the hosted
API that call does nothing and the real model answers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from r1v4.testing import LocalR1V4Server, Reply, ReplyFactory

__all__ = ["Backend", "backend"]

_LOCAL_KEY = "local-example-key"


@dataclass
class Backend:
    """The chosen server: pass :attr:`client_kwargs` to ``ChatR1V4`` or ``R1V4``."""

    api_key: str
    base_url: str | None
    server: LocalR1V4Server | None = None
    client_kwargs: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.client_kwargs = {"api_key": self.api_key}
        if self.base_url:
            self.client_kwargs["base_url"] = self.base_url

    @property
    def local(self) -> bool:
        """True when the example talks to the local server rather than a real model."""
        return self.server is not None

    def script(self, *replies: Reply | ReplyFactory) -> None:
        """Queue the local server's next replies; a no-op against a real model."""
        if self.server is not None:
            self.server.enqueue(*replies)


@contextmanager
def backend(
    *,
    scenario: Literal["agent", "echo"] = "agent",
    native_tools: bool = True,
    quiet: bool = False,
) -> Iterator[Backend]:
    """Choose the hosted API when ``SKYWORK_API_KEY`` is set, else start a local server.

    Args:
        scenario: the local server's default reply: ``"agent"`` (an R1V4 transcript fitting the
            request: think, tool trace, answer; a plan for the planner model; sources with
            ``enable_search``) or ``"echo"`` (describes the images and repeats the question).
        native_tools: whether the local server accepts OpenAI ``tools`` (like vLLM started with a
            tool parser); ``False`` behaves like a server without one.
        quiet: do not print which backend is used.
    """
    key = os.environ.get("SKYWORK_API_KEY")
    if key:
        base_url = os.environ.get("SKYWORK_BASE_URL")
        if not quiet:
            print(f"[backend] using {base_url or 'the hosted R1V4 API'} (SKYWORK_API_KEY is set)")
        yield Backend(api_key=key, base_url=base_url)
        return
    try:
        from r1v4.testing import LocalR1V4Server
    except ImportError as exc:  # uvicorn or Pillow missing
        sys.exit(
            "SKYWORK_API_KEY is not set and the local R1V4 server cannot start "
            f"({exc}); install it with: pip install 'r1v4[testing]'"
        )
    with LocalR1V4Server(
        api_key=_LOCAL_KEY, scenario=scenario, native_tools=native_tools
    ) as server:
        if not quiet:
            print(
                f"[backend] SKYWORK_API_KEY is not set: started a local R1V4 server at "
                f"{server.base_url}\n[backend] its replies are canned R1V4 transcripts, not the "
                "real model; set SKYWORK_API_KEY to use the hosted API\n"
            )
        yield Backend(api_key=_LOCAL_KEY, base_url=server.base_url, server=server)
