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

The self-hosting examples (``backend(scenario="self_hosted")``) want a bare inference server
instead, one that stops at each of R1V4's tool calls for the client to run:

* ``SKYWORK_BASE_URL`` set: your server (e.g. ``http://localhost:8000/v1`` of ``vllm serve
  Skywork/R1V4``), with ``SKYWORK_API_KEY`` if it asks for one, model ``Skywork/R1V4``.
* not set: the local server in its ``"self_hosted"`` scenario, which plays one (and refuses a
  follow-up that does not carry the observation and the images the tool made).

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

__all__ = ["Backend", "backend", "no_sandbox"]

_LOCAL_KEY = "local-example-key"
SELF_HOSTED_MODEL = "Skywork/R1V4"
"""The model a self-hosted server serves: ``vllm serve Skywork/R1V4`` names it so."""


@dataclass
class Backend:
    """The chosen server: pass :attr:`client_kwargs` to ``ChatR1V4`` or ``R1V4``."""

    api_key: str | None
    base_url: str | None
    server: LocalR1V4Server | None = None
    model: str | None = None
    client_kwargs: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.client_kwargs = {}
        if self.api_key:
            self.client_kwargs["api_key"] = self.api_key
        if self.base_url:
            self.client_kwargs["base_url"] = self.base_url
        if self.model:
            self.client_kwargs["model"] = self.model

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
    scenario: Literal["agent", "echo", "self_hosted"] = "agent",
    native_tools: bool = True,
    quiet: bool = False,
) -> Iterator[Backend]:
    """Choose the hosted API when ``SKYWORK_API_KEY`` is set, else start a local server.

    Args:
        scenario: the local server's default reply: ``"agent"`` (an R1V4 transcript fitting the
            request: think, tool trace, answer; a plan for the planner model; sources with
            ``enable_search``) or ``"echo"`` (describes the images and repeats the question).
            ``"self_hosted"``: a self-hosted server rather than the hosted API, chosen by
            ``SKYWORK_BASE_URL`` (see the module's docstring).
        native_tools: whether the local server accepts OpenAI ``tools`` (like vLLM started with a
            tool parser); ``False`` behaves like a server without one.
        quiet: do not print which backend is used.
    """
    if scenario == "self_hosted":
        with _self_hosted(native_tools=native_tools, quiet=quiet) as chosen:
            yield chosen
        return
    key = os.environ.get("SKYWORK_API_KEY")
    if key:
        base_url = os.environ.get("SKYWORK_BASE_URL")
        if not quiet:
            print(f"[backend] using {base_url or 'the hosted R1V4 API'} (SKYWORK_API_KEY is set)")
        yield Backend(api_key=key, base_url=base_url)
        return
    local_server = _local_server_class("SKYWORK_API_KEY is not set")
    with local_server(api_key=_LOCAL_KEY, scenario=scenario, native_tools=native_tools) as server:
        if not quiet:
            print(
                f"[backend] SKYWORK_API_KEY is not set: started a local R1V4 server at "
                f"{server.base_url}\n[backend] its replies are canned R1V4 transcripts, not the "
                "real model; set SKYWORK_API_KEY to use the hosted API\n"
            )
        yield Backend(api_key=_LOCAL_KEY, base_url=server.base_url, server=server)


@contextmanager
def _self_hosted(*, native_tools: bool, quiet: bool) -> Iterator[Backend]:
    base_url = os.environ.get("SKYWORK_BASE_URL")
    if base_url:
        if not quiet:
            print(f"[backend] using the self-hosted R1V4 at {base_url} (SKYWORK_BASE_URL is set)")
        yield Backend(
            api_key=os.environ.get("SKYWORK_API_KEY"), base_url=base_url, model=SELF_HOSTED_MODEL
        )
        return
    local_server = _local_server_class("SKYWORK_BASE_URL is not set")
    with local_server(
        api_key=_LOCAL_KEY, scenario="self_hosted", native_tools=native_tools
    ) as server:
        if not quiet:
            print(
                f"[backend] SKYWORK_BASE_URL is not set: started a local R1V4 server at "
                f"{server.base_url}\n[backend] it plays a self-hosted R1V4 (a bare inference "
                "server: it stops at each of R1V4's tool calls for the client to run); its "
                "replies are canned R1V4 transcripts, not the real model\n[backend] set "
                "SKYWORK_BASE_URL=http://localhost:8000/v1 to use yours (vllm serve Skywork/R1V4)\n"
            )
        yield Backend(
            api_key=_LOCAL_KEY, base_url=server.base_url, server=server, model=SELF_HOSTED_MODEL
        )


def _local_server_class(why: str) -> type[LocalR1V4Server]:
    try:
        from r1v4.testing import LocalR1V4Server
    except ImportError as exc:  # uvicorn or Pillow missing
        sys.exit(
            f"{why} and the local R1V4 server cannot start ({exc}); install it with: "
            "pip install 'r1v4[testing]'"
        )
    return LocalR1V4Server


def no_sandbox(error: Exception) -> str:
    """What to tell a user whose machine cannot run R1V4's code in bubblewrap (exit with it)."""
    return (
        f"R1V4's code cannot run in a sandbox here: {error}\n\n"
        "This example runs the code R1V4 writes (it crops your picture) in bubblewrap "
        "(r1v4.tools.BubblewrapSandbox: Linux, with `pip install 'r1v4[tools]'` for the Pillow "
        "and numpy the code imports).\n"
        "Elsewhere (macOS, Windows, a container without user namespaces), pass an executor of "
        "your own: R1V4Tools(executor=...) with anything that has run(job), such as a container "
        "or a hosted sandbox (r1v4.tools.CodeExecutor). On a trusted single-user machine, "
        "R1V4Tools(executor=UnsandboxedExecutor()) runs the model's code as a plain subprocess "
        "of yours, with limits but NO isolation (it can read your files and reach the "
        "network); this example never does that for you."
    )
