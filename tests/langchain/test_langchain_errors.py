"""Failures reach LangChain users as the core's typed exceptions, never as generic ones."""

from __future__ import annotations

from typing import Any

import pytest

import r1v4
from r1v4.testing import LocalR1V4Server, Reply, refused_base_url

LONG = "This answer is long enough to be cut off part way through the stream. " * 3


def test_bad_key_is_an_authentication_error(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    with pytest.raises(r1v4.AuthenticationError) as info:
        make_llm(api_key="wrong").invoke("hi")
    assert info.value.status_code == 401
    assert "wrong" not in str(info.value)


async def test_hosted_error_code_is_typed_async(r1v4_server: LocalR1V4Server) -> None:
    from langchain_r1v4 import ChatR1V4

    llm = ChatR1V4(api_key="wrong", base_url=r1v4_server.hosted_base_url)
    with pytest.raises(r1v4.AuthenticationError) as info:
        async for _ in llm.astream("hi"):
            pass
    assert info.value.code == 400307


def test_unknown_model_is_a_bad_request(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    with pytest.raises(r1v4.BadRequestError):
        make_llm(model="no-such-model").invoke("hi")


def test_server_errors_are_retried_then_typed(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(status=503, headers={"retry-after": "0"}), Reply(content="ok"))
    assert make_llm().invoke("hi").content == "ok"
    assert len(r1v4_server.requests) == 2
    r1v4_server.enqueue(Reply(status=500, repeat=3))
    with pytest.raises(r1v4.ServerError):
        make_llm(max_retries=0).invoke("hi")


async def test_rate_limit_async(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(status=429, headers={"retry-after": "0"}, repeat=2))
    with pytest.raises(r1v4.RateLimitError):
        await make_llm(max_retries=1).ainvoke("hi")
    assert len(r1v4_server.requests) == 2


def test_dropped_stream_keeps_what_was_streamed(
    make_llm: Any, r1v4_server: LocalR1V4Server
) -> None:
    r1v4_server.enqueue(Reply(content=LONG, reasoning="think", chunk_size=10, drop_after=6))
    received = ""
    with pytest.raises(r1v4.R1V4Error) as info:
        for chunk in make_llm().stream("hi"):
            received += chunk.text
    assert isinstance(info.value, (r1v4.APIConnectionError, r1v4.StreamError))
    assert received and LONG.startswith(received)
    assert info.value.partial_content == received
    assert info.value.partial_reasoning == "think"


async def test_error_event_mid_stream_async(make_llm: Any, r1v4_server: LocalR1V4Server) -> None:
    r1v4_server.enqueue(Reply(content=LONG, chunk_size=10, error_event_after=3))
    with pytest.raises(r1v4.ServerError) as info:
        async for _ in make_llm().astream("hi"):
            pass
    assert info.value.partial_content


def test_unreachable_server_is_a_connection_error(make_llm: Any) -> None:
    with pytest.raises(r1v4.APIConnectionError):
        make_llm(base_url=refused_base_url(), max_retries=0).invoke("hi")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"temperature": 5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"top_p": 0}, "top_p"),
    ],
)
def test_bad_parameters_fail_before_any_request(
    make_llm: Any, r1v4_server: LocalR1V4Server, params: dict[str, Any], match: str
) -> None:
    with pytest.raises(r1v4.InvalidRequestError, match=match):
        make_llm(**params).invoke("hi")
    assert r1v4_server.requests == []


def test_typed_errors_are_value_errors_for_langchain_fallbacks(make_llm: Any) -> None:
    """InvalidRequestError is a ValueError, so generic LangChain code that catches those works."""
    with pytest.raises(ValueError):
        make_llm(max_tokens=-1).invoke("hi")
