"""The API key never leaks, and never travels where it should not.

Secret sinks (``matrix.SINKS``): with the key set to a distinctive value, every place it could
surface is rendered to text and searched for the key (and for pieces of it). The dynamic sinks
(errors, logs, callbacks, instrumentation, warnings) are filled by one battery that runs every
path through a success and six different failures.

Transport security (``matrix.SECURITY_CHECKS``): redirects, TLS verification and the plain-http
warning, on every path.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import ssl
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from r1v4 import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncR1V4Client,
    AuthenticationError,
    ClientSettings,
    ImageError,
    MalformedResponseError,
    R1V4Client,
    R1V4Error,
    ServerError,
)
from r1v4.testing import LocalR1V4Server, Reply, refused_base_url
from reliability.support.leakcheck import SECRET, assert_no_secret, leaks
from reliability.support.matrix import LONG, SECURITY_CHECKS, SINKS
from reliability.support.paths import PATHS, Call, Image, Msg, Path, Settings, run_path
from reliability.support.servers import SelfSignedTLSServer

# ------------------------------------------------------------------------------ the battery


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))


@dataclass
class Battery:
    """Everything the dynamic sinks need, from one run of every path through every case."""

    errors: list[tuple[str, str, BaseException]] = field(default_factory=list)
    answers: int = 0
    logs: _Records = field(default_factory=_Records)
    callbacks: list[str] = field(default_factory=list)
    callback_events: set[str] = field(default_factory=set)
    instrumentation: list[str] = field(default_factory=list)
    instrumentation_events: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Case:
    name: str
    expect: type[BaseException] | None
    replies: Callable[[bool], list[Reply]]
    settings: dict[str, Any] = field(default_factory=dict)
    call: Call = field(default_factory=Call)
    refused: bool = False


_CASES = [
    _Case("success", None, lambda stream: [Reply(content="fine", reasoning="thinking")]),
    _Case(
        "server-error",
        ServerError,
        lambda stream: [Reply(status=500, repeat=2)],
        {"max_retries": 1},
    ),
    _Case("auth", AuthenticationError, lambda stream: [Reply(status=401)]),
    _Case(
        "malformed",
        MalformedResponseError,
        lambda stream: (
            [Reply(content=LONG, chunk_size=4, malformed_after=3)]
            if stream
            else [Reply(status=200, body="<html>oops</html>")]
        ),
    ),
    _Case(
        "timeout",
        APITimeoutError,
        lambda stream: [Reply(first_byte_delay=3.0)],
        {"max_retries": 0, "timeout": 0.3},
    ),
    _Case(
        "refused",
        APIConnectionError,
        lambda stream: [],
        {"max_retries": 1},
        refused=True,
    ),
    _Case(
        "bad-image",
        ImageError,
        lambda stream: [],
        call=Call(messages=(Msg("user", ("look", Image(data=b"not an image at all"))),)),
    ),
]


def _langchain_handler(battery: Battery) -> Any:
    from langchain_core.callbacks import BaseCallbackHandler

    class Recorder(BaseCallbackHandler):
        def _record(self, event: str, *args: Any, **kwargs: Any) -> None:
            battery.callback_events.add(event)
            battery.callbacks.append(f"{event} {args!r} {kwargs!r}")
            with contextlib.suppress(TypeError, ValueError):  # circular: the repr has it all
                battery.callbacks.append(json.dumps([args, kwargs], default=repr))

        def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
            self._record("on_chat_model_start", *args, **kwargs)

        def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
            self._record("on_llm_start", *args, **kwargs)

        def on_llm_new_token(self, *args: Any, **kwargs: Any) -> None:
            self._record("on_llm_new_token", *args, **kwargs)

        def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
            self._record("on_llm_end", *args, **kwargs)

        def on_llm_error(self, *args: Any, **kwargs: Any) -> None:
            self._record("on_llm_error", *args, **kwargs)

    return Recorder()


def _llama_index_handlers(battery: Battery) -> tuple[Any, Any]:
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

    class Events(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "ReliabilityEvents"

        def handle(self, event: Any, **kwargs: Any) -> None:
            battery.instrumentation_events.add(type(event).__name__)
            battery.instrumentation.append(repr(event))
            try:
                battery.instrumentation.append(event.model_dump_json(fallback=repr))
            except Exception as exc:  # still render what could not be dumped
                battery.instrumentation.append(f"{exc!r} {event.model_dump()!r}")

    class Spans(BaseSpanHandler[Any]):
        @classmethod
        def class_name(cls) -> str:
            return "ReliabilitySpans"

        def new_span(
            self,
            id_: str,
            bound_args: Any,
            instance: Any = None,
            parent_span_id: str | None = None,
            tags: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            battery.instrumentation_events.add("span")
            battery.instrumentation.append(f"{id_} {bound_args.arguments!r} {instance!r} {tags!r}")

        def prepare_to_exit_span(
            self, id_: str, bound_args: Any, instance: Any = None, result: Any = None, **kw: Any
        ) -> None:
            battery.instrumentation.append(f"{id_} exit {result!r}")

        def prepare_to_drop_span(
            self,
            id_: str,
            bound_args: Any,
            instance: Any = None,
            err: BaseException | None = None,
            **kw: Any,
        ) -> None:
            battery.instrumentation.append(f"{id_} drop {err!r}")

    return Events(), Spans()


def _run_observed(path: Path, url: str, settings: Settings, call: Call, battery: Battery) -> Any:
    """Run a path with the framework's observers attached (callbacks, instrumentation)."""
    if path.framework == "langchain":
        settings = dataclasses.replace(settings, callbacks=(_langchain_handler(battery),))
        return run_path(path, url, settings, call)
    if path.framework == "llama_index":
        from llama_index_instrumentation import (
            get_dispatcher,  # llama_index.core: untyped re-export
        )

        root = get_dispatcher()
        events, spans = _llama_index_handlers(battery)
        root.add_event_handler(events)
        root.add_span_handler(spans)
        try:
            return run_path(path, url, settings, call)
        finally:
            root.event_handlers.remove(events)
            root.span_handlers.remove(spans)
    return run_path(path, url, settings, call)


@pytest.fixture(scope="module")
def battery(_secret_server: LocalR1V4Server) -> Iterator[Battery]:
    server = _secret_server
    result = Battery()
    root = logging.getLogger()
    saved = root.level
    root.addHandler(result.logs)
    root.setLevel(logging.DEBUG)
    mp = pytest.MonkeyPatch()
    defaults = ClientSettings.__init__.__kwdefaults__
    assert defaults is not None
    mp.setitem(defaults, "backoff", 0.01)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for path in PATHS.values():
                for case in _CASES:
                    server.reset()
                    server.enqueue(*case.replies(path.stream))
                    url = refused_base_url() if case.refused else server.base_url
                    settings = Settings(api_key=SECRET, **case.settings)
                    _outcome, exc, _ = _run_observed(path, url, settings, case.call, result)
                    if case.expect is None:
                        assert exc is None, f"{path}/{case.name}: {exc!r}"
                        result.answers += 1
                    else:
                        assert type(exc) is case.expect, f"{path}/{case.name}: {exc!r}"
                        result.errors.append((path.name, case.name, exc))
            # The plain-http warning is one of the warnings that must not carry the key.
            R1V4Client(api_key=SECRET, base_url="http://r1v4.example.com/v1")
            result.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    finally:
        mp.undo()
        root.removeHandler(result.logs)
        root.setLevel(saved)
        server.reset()
    yield result


# ------------------------------------------------------------------------------ the sinks


def _texts(*objects: Any) -> list[str]:
    out = []
    for obj in objects:
        out += [repr(obj), str(obj)]
    return out


def _chain(exc: BaseException) -> list[str]:
    out = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out += [str(e), repr(e), repr(e.args)]
        if isinstance(e, R1V4Error):
            out.append(repr(vars(e)))
        todo += [e.__cause__, e.__context__]
    return out


def _core_clients(server: LocalR1V4Server) -> tuple[R1V4Client, AsyncR1V4Client]:
    return (
        R1V4Client(api_key=SECRET, base_url=server.base_url),
        AsyncR1V4Client(api_key=SECRET, base_url=server.base_url),
    )


def _chat_r1v4(server: LocalR1V4Server) -> Any:
    from langchain_r1v4 import ChatR1V4

    return ChatR1V4(api_key=SECRET, base_url=server.base_url)


def _r1v4_llm(server: LocalR1V4Server) -> Any:
    from llama_index_r1v4 import R1V4

    return R1V4(api_key=SECRET, base_url=server.base_url)


def _sink_texts(sink: str, server: LocalR1V4Server, battery: Battery) -> list[str]:
    if sink == "repr:R1V4Client":
        c, _ = _core_clients(server)
        c.create(model="skywork/r1v4-lite", messages=[{"role": "user", "content": "hi"}])
        return _texts(c, c.http_client)
    if sink == "repr:AsyncR1V4Client":
        _, ac = _core_clients(server)

        async def use() -> list[str]:
            await ac.create(model="skywork/r1v4-lite", messages=[{"role": "user", "content": "hi"}])
            texts = _texts(ac, await ac.http_client())
            await ac.aclose()
            return texts

        return asyncio.run(use())
    if sink == "repr:ClientSettings":
        c, _ = _core_clients(server)
        s = c.settings
        assert s.api_key is not None and s.api_key.get_secret_value() == SECRET
        return _texts(s, s.api_key, s.retry, s.timeout)
    if sink == "repr:ChatR1V4":
        llm = _chat_r1v4(server)
        llm.invoke("hi")
        bound = llm.bind_tools(
            [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        )
        return _texts(llm, llm.api_key, llm.client, llm.async_client, bound)
    if sink == "repr:R1V4":
        from llama_index.core.base.llms.types import ChatMessage

        llm = _r1v4_llm(server)
        llm.chat([ChatMessage(role="user", content="hi")])
        return _texts(llm, llm.api_key, llm.metadata)
    if sink == "errors:message":
        assert len(battery.errors) == 12 * 6
        return [
            t for _, _, e in battery.errors for t in (str(e), repr(e), getattr(e, "message", ""))
        ]
    if sink == "errors:chain":
        assert any(e.__cause__ or e.__context__ for _, _, e in battery.errors)
        return [t for _, _, e in battery.errors for t in _chain(e)]
    if sink == "langchain:dumpd":
        from langchain_core.load import dumpd

        llm = _chat_r1v4(server)
        data = dumpd(llm)
        assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["SKYWORK_API_KEY"]}
        return [json.dumps(data), json.dumps(dumpd(llm.bind(temperature=0.1)))]
    if sink == "langchain:dumps":
        from langchain_core.load import dumps, loads

        llm = _chat_r1v4(server)
        texts = [dumps(llm), dumps(llm, pretty=True)]
        # The key comes back only from the caller's own secrets map.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loads() is marked beta
            again = loads(
                texts[0],
                secrets_map={"SKYWORK_API_KEY": SECRET},
                valid_namespaces=["langchain_r1v4"],
                allowed_objects=[type(llm)],
            )
        assert again.api_key.get_secret_value() == SECRET
        return texts
    if sink == "langchain:model_dump":
        llm = _chat_r1v4(server)
        return [repr(llm.model_dump()), llm.model_dump_json()]
    if sink == "langchain:ls_params":
        llm = _chat_r1v4(server)
        return [repr(llm._get_ls_params()), repr(llm._get_ls_params(stop=["x"], temperature=1))]
    if sink == "langchain:identifying_params":
        llm = _chat_r1v4(server)
        return [repr(llm._identifying_params), repr(llm._get_invocation_params(stop=["x"]))]
    if sink == "langchain:callbacks":
        assert {"on_chat_model_start", "on_llm_new_token", "on_llm_end", "on_llm_error"} <= (
            battery.callback_events
        )
        return battery.callbacks
    if sink == "llama_index:to_dict":
        llm = _r1v4_llm(server)
        return [repr(llm.to_dict()), repr(llm.dict()), repr(llm.model_dump())]
    if sink == "llama_index:to_json":
        llm = _r1v4_llm(server)
        return [llm.to_json(), llm.json(), llm.model_dump_json()]
    if sink == "llama_index:to_payload":
        llm = _r1v4_llm(server)
        return [repr(llm.to_payload()), json.dumps(llm.to_payload(), default=repr)]
    if sink == "llama_index:instrumentation":
        assert {"span", "LLMChatStartEvent", "LLMChatEndEvent"} <= battery.instrumentation_events
        return battery.instrumentation
    if sink == "logs:debug":
        # The run produced DEBUG records from r1v4 itself (retries) and from the HTTP stack.
        assert {"r1v4", "httpx", "httpcore.http11"} <= battery.logs.names
        assert any("retry" in t for t in battery.logs.texts)
        return battery.logs.texts
    if sink == "warnings":
        assert any("unencrypted" in w for w in battery.warnings)
        return battery.warnings
    raise AssertionError(f"no check for sink {sink!r}")


@pytest.mark.parametrize("sink", list(SINKS))
def test_the_key_is_absent_from(sink: str, server: LocalR1V4Server, battery: Battery) -> None:
    texts = _sink_texts(sink, server, battery)
    assert texts and any(texts), f"sink {sink} produced nothing to check"
    found = sorted({piece for t in texts for piece in leaks(t)})
    assert not found, f"the API key leaked into {sink}: {found}"


def test_the_battery_covered_every_path_and_case(battery: Battery) -> None:
    assert battery.answers == len(PATHS)
    assert {(p, c) for p, c, _ in battery.errors} == {
        (p, c.name) for p in PATHS for c in _CASES if c.expect is not None
    }


# ------------------------------------------------------------------------------ transport

_ALL = list(PATHS)


@pytest.mark.parametrize("security_check", ["redirect-not-followed"])
@pytest.mark.parametrize("path", _ALL)
def test_redirect_to_another_host_is_not_followed(
    security_check: str,
    path: str,
    server: LocalR1V4Server,
    redirect_target: LocalR1V4Server,
) -> None:
    location = f"{redirect_target.base_url}/chat/completions"
    server.enqueue(Reply(status=307, headers={"location": location}))
    _, exc, _ = run_path(PATHS[path], server.base_url, Settings(api_key=SECRET))
    assert type(exc) is APIStatusError and exc.status_code == 307
    assert len(server.requests) == 1
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert redirect_target.requests == []


@pytest.mark.parametrize("security_check", ["redirect-user-client"])
@pytest.mark.parametrize("path", _ALL)
def test_redirect_followed_by_the_users_client_drops_the_key(
    security_check: str,
    path: str,
    server: LocalR1V4Server,
    redirect_target: LocalR1V4Server,
) -> None:
    location = f"{redirect_target.base_url}/chat/completions"
    server.enqueue(Reply(status=307, headers={"location": location}))
    settings = Settings(api_key=SECRET, follow_redirects=True)
    _, exc, _ = run_path(PATHS[path], server.base_url, settings)
    # The other host got the request, without the key, and refused it: a typed auth error.
    assert len(redirect_target.requests) == 1
    forwarded = redirect_target.requests[0]
    assert "authorization" not in forwarded.headers
    assert_no_secret(repr(forwarded.headers) + forwarded.raw_body.decode(), "the redirect")
    assert type(exc) is AuthenticationError and exc.status_code == 401
    assert len(server.requests) == 1


@pytest.mark.parametrize("security_check", ["tls-verify-default"])
@pytest.mark.parametrize("path", _ALL)
def test_tls_verification_is_on_by_default(
    security_check: str, path: str, server: LocalR1V4Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every httpx client the path builds (whichever object builds it) verifies certificates
    and host names: the clients are caught as they are made during a real call, and what each
    was told to verify with (httpx's ``verify``, True by default) is checked, not its
    internals."""
    verifies: list[Any] = []
    for cls in (httpx.Client, httpx.AsyncClient):

        def init(self: Any, *args: Any, __init: Any = cls.__init__, **kwargs: Any) -> None:
            __init(self, *args, **kwargs)
            verifies.append(kwargs.get("verify", True))

        monkeypatch.setattr(cls, "__init__", init)
    outcome, exc, _ = run_path(PATHS[path], server.base_url, Settings(api_key=SECRET))
    assert exc is None and outcome is not None
    assert verifies, "the path made no httpx client"
    for verify in verifies:
        if verify is True:
            continue  # httpx's own default: a verifying context
        assert isinstance(verify, ssl.SSLContext), verify
        assert verify.verify_mode == ssl.CERT_REQUIRED
        assert verify.check_hostname is True


@pytest.fixture(scope="module")
def tls_server() -> Iterator[SelfSignedTLSServer]:
    with SelfSignedTLSServer() as tls:
        yield tls


@pytest.mark.parametrize("security_check", ["tls-self-signed-refused"])
@pytest.mark.parametrize("path", _ALL)
def test_a_self_signed_server_is_refused(
    security_check: str, path: str, tls_server: SelfSignedTLSServer
) -> None:
    settings = Settings(api_key=SECRET, max_retries=0)
    _, exc, _ = run_path(PATHS[path], tls_server.base_url, settings)
    assert type(exc) is APIConnectionError, repr(exc)
    assert "certificate verify failed" in str(exc).lower()
    assert tls_server.requests == []  # no HTTP request, so no key, went out
    assert_no_secret("".join(traceback.format_exception(exc)), "the TLS error")


@pytest.mark.parametrize("security_check", ["plain-http-warns"])
@pytest.mark.parametrize("path", _ALL)
def test_plain_http_to_a_remote_host_warns(
    security_check: str, path: str, server: LocalR1V4Server
) -> None:
    p = PATHS[path]
    # A documentation-only address (RFC 5737): unreachable, so the call fails fast.
    remote = Settings(api_key=SECRET, max_retries=0, timeout=0.3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, exc, _ = run_path(p, "http://192.0.2.1:9/v1", remote)
    assert isinstance(exc, APIConnectionError), repr(exc)
    messages = [str(w.message) for w in caught if "unencrypted" in str(w.message)]
    assert messages and all("192.0.2.1" in m for m in messages), [str(w.message) for w in caught]
    for m in messages:
        assert_no_secret(m, "the warning")
    # Loopback plain http is the local-server case and stays quiet.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome, exc, _ = run_path(p, server.base_url, Settings(api_key=SECRET))
    assert exc is None and outcome is not None
    assert not [w for w in caught if "unencrypted" in str(w.message)]


def test_every_declared_check_has_a_test() -> None:
    here = {
        "redirect-not-followed",
        "redirect-user-client",
        "tls-verify-default",
        "tls-self-signed-refused",
        "plain-http-warns",
    }
    assert here == set(SECURITY_CHECKS)
