"""The core clients over real loopback HTTP against the local R1V4 server."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from PIL import Image

import r1v4
from r1v4 import (
    APIConnectionError,
    AsyncR1V4Client,
    AuthenticationError,
    BadRequestError,
    ChatCompletion,
    ChatCompletionChunk,
    ImageError,
    IncompleteStreamError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    R1V4Client,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
    accumulate,
)
from r1v4.testing import LocalR1V4Server, Reply

KEY = "test-key"
MODEL = "skywork/r1v4-lite"
USER = [{"role": "user", "content": "hello"}]


def png_bytes(size: tuple[int, int] = (4, 3), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def client_for(server: LocalR1V4Server, **kw: Any) -> R1V4Client:
    kw.setdefault("api_key", KEY)
    kw.setdefault("base_url", server.base_url)
    kw.setdefault("backoff", 0.01)
    return R1V4Client(**kw)


def aclient_for(server: LocalR1V4Server, **kw: Any) -> AsyncR1V4Client:
    kw.setdefault("api_key", KEY)
    kw.setdefault("base_url", server.base_url)
    kw.setdefault("backoff", 0.01)
    return AsyncR1V4Client(**kw)


# Every scenario runs on the four paths: sync/async x create/stream (stream aggregated).
Runner = Callable[..., ChatCompletion]


def _sync_create(server: LocalR1V4Server, **kw: Any) -> ChatCompletion:
    with client_for(server, **kw.pop("client", {})) as c:
        return c.create(model=MODEL, messages=kw.pop("messages", USER), **kw)


def _sync_stream(server: LocalR1V4Server, **kw: Any) -> ChatCompletion:
    with client_for(server, **kw.pop("client", {})) as c:
        return accumulate(c.stream(model=MODEL, messages=kw.pop("messages", USER), **kw))


def _run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def _async_create(server: LocalR1V4Server, **kw: Any) -> ChatCompletion:
    async def go() -> ChatCompletion:
        async with aclient_for(server, **kw.pop("client", {})) as c:
            return await c.create(model=MODEL, messages=kw.pop("messages", USER), **kw)

    return _run(go())  # type: ignore[no-any-return]


def _async_stream(server: LocalR1V4Server, **kw: Any) -> ChatCompletion:
    async def go() -> ChatCompletion:
        async with aclient_for(server, **kw.pop("client", {})) as c:
            return accumulate(
                [ch async for ch in c.stream(model=MODEL, messages=kw.pop("messages", USER), **kw)]
            )

    return _run(go())  # type: ignore[no-any-return]


PATHS = {
    "sync-create": _sync_create,
    "sync-stream": _sync_stream,
    "async-create": _async_create,
    "async-stream": _async_stream,
}


@pytest.fixture(params=list(PATHS))
def run(request: pytest.FixtureRequest) -> Runner:
    return PATHS[request.param]


# ----------------------------------------------------------------------------- basics


def test_echo_round_trip_with_usage(r1v4_server: LocalR1V4Server, run: Runner) -> None:
    out = run(r1v4_server)
    assert out.message.content.endswith("You said: hello")
    assert out.usage is not None and out.usage.total_tokens > 0
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens
    assert out.choices[0].finish_reason == "stop"
    req = r1v4_server.last_request
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_stream_and_create_give_equal_completions(r1v4_server: LocalR1V4Server) -> None:
    reply = Reply(content="The answer is 42.", reasoning="Let me think.", chunk_size=3)
    r1v4_server.enqueue(reply, reply)
    a = _sync_create(r1v4_server)
    b = _sync_stream(r1v4_server)
    assert (a.message.content, a.message.reasoning) == (b.message.content, b.message.reasoning)
    assert a.message.content == "The answer is 42."
    assert a.usage == b.usage


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "inline"])
def test_reasoning_in_every_wire_form_is_kept_out_of_the_answer(
    r1v4_server: LocalR1V4Server, run: Runner, field: str
) -> None:
    r1v4_server.enqueue(
        Reply(content="Paris.", reasoning="France's capital is Paris.", reasoning_field=field)  # type: ignore[arg-type]
    )
    out = run(r1v4_server)
    assert out.message.content == "Paris."
    assert out.message.reasoning == "France's capital is Paris."


def test_reasoning_streams_before_the_answer_in_its_own_chunks(
    r1v4_server: LocalR1V4Server,
) -> None:
    r1v4_server.enqueue(
        Reply(
            content="Yes.", reasoning="Hmm, thinking hard.", reasoning_field="inline", chunk_size=2
        )
    )
    with client_for(r1v4_server) as c:
        chunks = list(c.stream(model=MODEL, messages=USER))
    kinds = [
        ("r" if ch.choices[0].delta.reasoning else "")
        + ("a" if ch.choices[0].delta.content else "")
        for ch in chunks
        if ch.choices
    ]
    kinds = [k for k in kinds if k]
    assert kinds[0] == "r" and kinds[-1] == "a"
    assert "ra" not in kinds  # never mixed in one chunk here
    assert kinds.index("a") > max(i for i, k in enumerate(kinds) if k == "r")
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_hosted_path_and_enable_search_are_sent(r1v4_server: LocalR1V4Server) -> None:
    with R1V4Client(api_key=KEY, base_url=r1v4_server.hosted_base_url) as c:
        out = c.create(
            model=MODEL,
            messages=USER,
            enable_search=True,
            temperature=0.2,
            max_tokens=50,
            extra_body={"top_k": 5},
        )
    assert out.message.content
    req = r1v4_server.last_request
    assert req.path == "/api/v1/chat/completions"
    assert req.body["enable_search"] is True
    assert (
        req.body["temperature"] == 0.2 and req.body["max_tokens"] == 50 and req.body["top_k"] == 5
    )
    assert "tool_mode" not in req.body and "extra_body" not in req.body


def test_env_vars_configure_key_and_url(
    r1v4_server: LocalR1V4Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYWORK_API_KEY", KEY)
    monkeypatch.setenv("SKYWORK_BASE_URL", r1v4_server.base_url + "/")
    with R1V4Client() as c:
        assert c.settings.url == r1v4_server.base_url + "/chat/completions"
        assert c.create(model=MODEL, messages=USER).message.content


def test_default_base_url_is_the_hosted_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYWORK_BASE_URL", raising=False)
    c = R1V4Client(api_key="k")
    assert c.settings.url == "https://api.skyworkmodel.ai/api/v1/chat/completions"
    assert c.settings.timeout.read == 600 and c.settings.timeout.connect == 10


# ----------------------------------------------------------------------------- errors

ERROR_CASES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (422, UnprocessableEntityError),
]


@pytest.mark.parametrize(("status", "cls"), ERROR_CASES)
@pytest.mark.parametrize("shape", ["hosted", "openai"])
def test_error_statuses_and_shapes_map_to_typed_errors(
    r1v4_server: LocalR1V4Server, run: Runner, status: int, cls: type[Exception], shape: str
) -> None:
    body = (
        {"code": 400999, "code_msg": "Something specific went wrong"}
        if shape == "hosted"
        else {
            "error": {"message": "Something specific went wrong", "type": "invalid", "code": "bad"}
        }
    )
    r1v4_server.enqueue(Reply(status=status, body=body, headers={"x-request-id": "req-123"}))
    with pytest.raises(cls) as info:
        run(r1v4_server)
    err = info.value
    assert isinstance(err, r1v4.APIStatusError)
    assert err.status_code == status
    assert err.message == "Something specific went wrong"
    assert err.code == (400999 if shape == "hosted" else "bad")
    assert err.request_id == "req-123"
    assert "Something specific went wrong" in str(err) and f"HTTP {status}" in str(err)
    assert len(r1v4_server.requests) == 1  # 4xx is never retried


def test_wrong_key_is_an_authentication_error_with_the_hosted_code(
    r1v4_server: LocalR1V4Server, run: Runner
) -> None:
    with pytest.raises(AuthenticationError) as info:
        run(
            r1v4_server,
            client={"api_key": "wrong-key-zzz", "base_url": r1v4_server.hosted_base_url},
        )
    assert info.value.code == 400307
    assert "wrong-key-zzz" not in str(info.value) and "wrong-key-zzz" not in repr(info.value)


def test_hosted_auth_code_in_a_200_body_is_an_authentication_error(
    r1v4_server: LocalR1V4Server,
) -> None:
    r1v4_server.enqueue(Reply(status=200, body={"code": 400307, "code_msg": "Invalid API key"}))
    with pytest.raises(AuthenticationError):
        _sync_create(r1v4_server)


@pytest.mark.parametrize("shape", ["hosted", "openai"])
def test_error_object_inside_a_200_stream_keeps_partial_text(
    r1v4_server: LocalR1V4Server, shape: str
) -> None:
    r1v4_server.enqueue(
        Reply(content="partial answer here", chunk_size=4, error_event_after=3, error_shape=shape)
    )  # type: ignore[arg-type]
    seen: list[str] = []
    with client_for(r1v4_server) as c, pytest.raises(ServerError) as info:
        for ch in c.stream(model=MODEL, messages=USER):
            seen.extend(x.delta.content or "" for x in ch.choices)
    # Events 1 and 2 carried "part" and "ial " (the trailing space is held as whitespace).
    assert info.value.partial_content == "".join(seen) == "partial"
    assert "partial answer here".startswith(info.value.partial_content)
    assert len(r1v4_server.requests) == 1


def test_html_body_with_200_is_a_malformed_response(
    r1v4_server: LocalR1V4Server, run: Runner
) -> None:
    r1v4_server.enqueue(
        Reply(
            status=200,
            body="<html><body>Bad gateway</body></html>",
            headers={"content-type": "text/html"},
        )
    )
    with pytest.raises(MalformedResponseError) as info:
        run(r1v4_server)
    assert "<html>" in str(info.value)


# ----------------------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses_then_success(
    r1v4_server: LocalR1V4Server, run: Runner, status: int
) -> None:
    r1v4_server.enqueue(Reply(status=status, repeat=2))
    out = run(r1v4_server)
    assert out.message.content.endswith("hello")
    assert len(r1v4_server.requests) == 3


@pytest.mark.parametrize(("status", "cls"), [(429, RateLimitError), (503, ServerError)])
def test_beyond_max_retries_the_last_error_is_raised(
    r1v4_server: LocalR1V4Server, run: Runner, status: int, cls: type[Exception]
) -> None:
    r1v4_server.enqueue(Reply(status=status, repeat=5))
    with pytest.raises(cls):
        run(r1v4_server, client={"max_retries": 1})
    assert len(r1v4_server.requests) == 2


def test_retry_after_is_honoured(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(status=429, headers={"retry-after": "0.3"}))
    out = _sync_create(r1v4_server, client={"backoff": 0.0})
    assert out.message.content
    reqs = r1v4_server.requests
    assert len(reqs) == 2
    assert reqs[1].received_at - reqs[0].received_at >= 0.29  # on the server's clock


def test_max_retries_zero_sends_once(r1v4_server: LocalR1V4Server, run: Runner) -> None:
    r1v4_server.enqueue(Reply(status=500))
    with pytest.raises(ServerError):
        run(r1v4_server, client={"max_retries": 0})
    assert len(r1v4_server.requests) == 1


def test_drop_before_the_first_token_is_retried(r1v4_server: LocalR1V4Server, run: Runner) -> None:
    r1v4_server.enqueue(Reply(content="whole answer", drop_after=0), Reply(content="whole answer"))
    out = run(r1v4_server)
    assert out.message.content == "whole answer"
    assert len(r1v4_server.requests) == 2


def test_drop_after_the_first_token_is_never_retried_and_keeps_the_text(
    r1v4_server: LocalR1V4Server,
) -> None:
    r1v4_server.enqueue(Reply(content="first part, second part", chunk_size=5, drop_after=3))
    got: list[str] = []
    with client_for(r1v4_server) as c, pytest.raises(APIConnectionError) as info:
        for ch in c.stream(model=MODEL, messages=USER):
            got.extend(x.delta.content or "" for x in ch.choices)
    assert len(r1v4_server.requests) == 1
    assert info.value.partial_content == "".join(got)
    assert info.value.partial_content.startswith("first")


def test_connection_refused_is_a_connection_error_after_retries() -> None:
    from r1v4.testing import free_port

    port = free_port()
    with (
        R1V4Client(
            api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.01
        ) as c,
        pytest.raises(APIConnectionError) as info,
    ):
        c.create(model=MODEL, messages=USER)
    assert "connect" in str(info.value).lower()
    assert KEY not in str(info.value)


def test_read_timeout_before_first_byte(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(first_byte_delay=1.0, repeat=3))
    with (
        client_for(r1v4_server, timeout=0.2, max_retries=0) as c,
        pytest.raises(r1v4.APITimeoutError),
    ):
        c.create(model=MODEL, messages=USER)


# ----------------------------------------------------------------------------- stream integrity


def test_stream_without_done_raises_incomplete_with_partial(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="almost everything", no_done=True))
    with client_for(r1v4_server) as c, pytest.raises(IncompleteStreamError) as info:
        list(c.stream(model=MODEL, messages=USER))
    assert info.value.partial_content == "almost everything"
    assert len(r1v4_server.requests) == 1


def test_malformed_chunk_raises_with_partial(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="good text then bad", chunk_size=4, malformed_after=3))
    with client_for(r1v4_server) as c, pytest.raises(MalformedResponseError) as info:
        list(c.stream(model=MODEL, messages=USER))
    assert info.value.partial_content and "good text then bad".startswith(
        info.value.partial_content
    )


def test_one_byte_trickle_with_multibyte_text(r1v4_server: LocalR1V4Server) -> None:
    text = "héllo 世界 🌍 <b>ok</b>"
    r1v4_server.enqueue(
        Reply(
            content=text, reasoning="思考 🤔", reasoning_field="inline", trickle=True, chunk_size=3
        )
    )
    out = _sync_stream(r1v4_server)
    assert out.message.content == text
    assert out.message.reasoning == "思考 🤔"


def test_breaking_out_of_a_sync_stream_closes_the_connection(r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content="x" * 4000, chunk_size=1, chunk_delay=0.001))
    with client_for(r1v4_server) as c:
        for i, _ in enumerate(c.stream(model=MODEL, messages=USER)):
            if i == 5:
                break
        rec = r1v4_server.wait_for_disconnect(0, timeout=5)
    assert rec.disconnected


async def test_cancelling_an_async_stream_closes_the_connection(
    r1v4_server: LocalR1V4Server,
) -> None:
    import asyncio

    r1v4_server.enqueue(Reply(content="x" * 4000, chunk_size=1, chunk_delay=0.001))
    c = aclient_for(r1v4_server)

    async def consume() -> None:
        async for _ in c.stream(model=MODEL, messages=USER):
            await asyncio.sleep(0)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rec = await asyncio.to_thread(r1v4_server.wait_for_disconnect, 0, 5)
    assert rec.disconnected
    await c.aclose()


# ----------------------------------------------------------------------------- images


def test_images_from_every_source_arrive_intact(
    r1v4_server: LocalR1V4Server, run: Runner, tmp_path: Any
) -> None:
    png = png_bytes((4, 3))
    path = tmp_path / "photo.jpg"  # the name lies: it is a PNG
    path.write_bytes(png_bytes((5, 5), "blue"))
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    url = r1v4_server.url + "/__test__/nothing"  # a 404 URL must be rejected, see below
    del url
    content = [
        {"type": "text", "text": "what are these?"},
        {"type": "image_url", "image_url": {"url": data_uri}},
        # A Path, the caller's own file (a path string needs allow_file_paths: see
        # tests/core/test_image_safety.py).
        {"type": "image_url", "image_url": {"url": path}},
        {
            "type": "image_url",
            "image_url": {"url": r1v4.image_to_data_uri(png_bytes((7, 2), "green"))},
        },
    ]
    out = run(r1v4_server, messages=[{"role": "user", "content": content}])
    seen = r1v4_server.last_request.images
    assert [(i.format, i.width, i.height) for i in seen] == [
        ("PNG", 4, 3),
        ("PNG", 5, 5),
        ("PNG", 7, 2),
    ]
    assert "3 image(s)" in out.message.content
    sent = r1v4_server.last_request.body["messages"][0]["content"]
    assert all(
        p["image_url"]["url"].startswith("data:image/png;base64,")
        for p in sent
        if p["type"] == "image_url"
    )
    assert sent[0] == {"type": "text", "text": "what are these?"}


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("data:image/png;base64,!!!notbase64", "base64"),
        ("data:image/png;base64," + base64.b64encode(b"plain text, not an image").decode(), "not"),
        ("data:image/png;base64," + base64.b64encode(png_bytes()[:40]).decode(), "truncated"),
        ("/no/such/file.png", "no/such/file.png"),
    ],
)
def test_bad_images_are_rejected_before_any_request(
    r1v4_server: LocalR1V4Server, run: Runner, url: str, fragment: str
) -> None:
    content = [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": url}}]
    with pytest.raises(ImageError) as info:
        run(r1v4_server, messages=[{"role": "user", "content": content}])
    assert fragment in str(info.value).lower() or fragment in str(info.value)
    assert r1v4_server.requests == []


def test_image_over_the_size_limit_is_rejected(r1v4_server: LocalR1V4Server, run: Runner) -> None:
    big = png_bytes((600, 600))
    content = [{"type": "image_url", "image_url": {"url": r1v4.image_to_data_uri(big)}}]
    with pytest.raises(ImageError):
        run(
            r1v4_server,
            messages=[{"role": "user", "content": content}],
            client={"max_image_bytes": 500},
        )
    assert r1v4_server.requests == []


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "fields",
    [
        {"messages": []},
        {"messages": [{"role": "robot", "content": "hi"}]},
        {"max_tokens": 0},
        {"max_tokens": -5},
        {"model": 123},
        {
            "tools": [
                {"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}
            ]
        },
        {
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "f", "parameters": {"type": "object", "properties": []}},
                }
            ]
        },
    ],
)
def test_bad_requests_are_rejected_before_sending(
    r1v4_server: LocalR1V4Server, fields: dict[str, Any]
) -> None:
    body = {"model": MODEL, "messages": USER, **fields}
    with client_for(r1v4_server) as c, pytest.raises(InvalidRequestError) as info:
        c.create(**body)
    assert "invalid chat request" in str(info.value)
    assert r1v4_server.requests == []


# ----------------------------------------------------------------------------- secrets


def test_the_key_never_appears_in_reprs_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-very-secret-value-123"
    caplog.set_level(logging.DEBUG)
    with LocalR1V4Server(api_key=secret) as server:
        c = R1V4Client(api_key=secret, base_url=server.base_url, backoff=0.01)
        ac = AsyncR1V4Client(api_key=secret, base_url=server.base_url)
        server.enqueue(Reply(status=500, repeat=3))
        with pytest.raises(ServerError) as info:
            c.create(model=MODEL, messages=USER)
        assert len(server.requests) == 3
    texts = [
        repr(c),
        str(c),
        repr(ac),
        repr(c.settings),
        str(info.value),
        repr(info.value),
        caplog.text,
    ]
    exc: BaseException | None = info.value
    while exc is not None:
        texts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert all(secret not in t for t in texts)
    assert "api_key=<set>" in repr(c.settings)


def test_plain_http_to_a_remote_host_warns() -> None:
    with pytest.warns(UserWarning, match="unencrypted"):
        R1V4Client(api_key="k", base_url="http://example.com/v1")


def test_loopback_http_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    R1V4Client(api_key="k", base_url="http://127.0.0.1:9/v1")
    R1V4Client(api_key="k", base_url="http://localhost:9/v1")
    assert not [w for w in recwarn if "unencrypted" in str(w.message)]


def test_user_supplied_http_client_is_used_and_not_closed(r1v4_server: LocalR1V4Server) -> None:
    import httpx

    http = httpx.Client(headers={"x-mine": "1"})
    with R1V4Client(api_key=KEY, base_url=r1v4_server.base_url, http_client=http) as c:
        c.create(model=MODEL, messages=USER)
    assert r1v4_server.last_request.headers["x-mine"] == "1"
    assert not http.is_closed
    http.close()


def _chunks(it: Iterator[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    return list(it)


async def _achunks(it: AsyncIterator[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    return [c async for c in it]


@pytest.mark.parametrize("mode", ["close", "reset"])
def test_a_connection_lost_after_done_is_a_complete_stream(
    r1v4_server: LocalR1V4Server, mode: str
) -> None:
    # drop_after beyond the last event: everything, [DONE] included, arrives before the drop.
    r1v4_server.enqueue(Reply(content="hello world", drop_after=999, drop_mode=mode))  # type: ignore[arg-type]
    out = _sync_stream(r1v4_server)
    assert out.message.content == "hello world"
    r1v4_server.enqueue(Reply(content="hello again", drop_after=999, drop_mode=mode))  # type: ignore[arg-type]
    assert _async_stream(r1v4_server).message.content == "hello again"
    assert len(r1v4_server.requests) == 2


def test_the_callers_request_is_never_changed(r1v4_server: LocalR1V4Server, tmp_path: Any) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(png_bytes())
    request = r1v4.build_request(
        model=MODEL,
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": path}}]}],
    )
    with client_for(r1v4_server) as c:
        c.create(request)
    assert request.messages[0].content[0].image_url.url == path  # type: ignore[index, union-attr]
    assert r1v4_server.last_request.images[0].format == "PNG"


def test_closed_loops_do_not_pin_their_pools(r1v4_server: LocalR1V4Server) -> None:
    import asyncio
    import gc

    client = aclient_for(r1v4_server)
    for _ in range(5):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(client.create(model=MODEL, messages=USER))
        loop.close()  # by hand, without shutdown_asyncgens
    del loop
    gc.collect()
    assert len(client._by_loop) <= 1  # at most the last closed loop awaits the next call
    asyncio.run(client.create(model=MODEL, messages=USER))
    gc.collect()
    assert len(client._by_loop) == 0
    assert len(r1v4_server.requests) == 6
