"""``ClientOptions``: the one declaration of the client settings a model object carries, and the
keyword rules both adapters share (issue #20, item 3). The adapters' behaviour on the wire is
proven in tests/test_adapter_settings.py; this is the mechanism, with no framework."""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

import pytest
from pydantic import AliasChoices, Field, SecretStr

from r1v4 import ClientSettings
from r1v4._integrations import ClientOptions, ClientsHolder
from r1v4._model_options import CALL_OPTIONS, CLIENT_SETTINGS
from r1v4.testing import LocalR1V4Server

# Each framework reads these two from the environment and serialises them its own way.
PER_FRAMEWORK = {"api_key", "base_url"}


class _Model(ClientsHolder):
    """The smallest model object with the adapters' keyword rules."""

    extra_kwargs_field: ClassVar[str] = "extras"
    body_parameters: ClassVar[frozenset[str]] = frozenset({"temperature"})

    api_key: SecretStr | None = None
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = Field(
        default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens")
    )
    extras: dict[str, Any] = Field(default_factory=dict)


def test_the_declaration_matches_client_settings() -> None:
    keyword_only = [
        name
        for name, p in inspect.signature(ClientSettings).parameters.items()
        if p.kind is p.KEYWORD_ONLY
    ]
    assert list(CLIENT_SETTINGS) == keyword_only
    declared = set(ClientOptions.model_fields) - set(CALL_OPTIONS)
    assert declared == set(CLIENT_SETTINGS) - PER_FRAMEWORK
    assert set(CALL_OPTIONS) <= set(ClientOptions.model_fields)
    # Same defaults as the core client's own.
    defaults = {n: p.default for n, p in inspect.signature(ClientSettings).parameters.items()}
    for name in declared:
        assert ClientOptions.model_fields[name].default == defaults[name], name


def test_every_setting_reaches_the_clients(r1v4_server: LocalR1V4Server) -> None:
    model = _Model(
        api_key=SecretStr("test-key"),
        base_url=r1v4_server.base_url,
        timeout=9,
        max_retries=5,
        backoff=0.125,
        default_headers={"X-A": "b"},
        tool_mode="native",
        stream_usage=False,
        max_image_bytes=123_456,
        max_image_pixels=7_890,
    )
    options = model.client_options()
    assert set(options) == set(CLIENT_SETTINGS)
    s = model.client.settings
    assert s.api_key is not None and s.api_key.get_secret_value() == "test-key"
    assert s.url == f"{r1v4_server.base_url}/chat/completions"
    assert (s.timeout.read, s.retry.max_retries, s.retry.backoff) == (9, 5, 0.125)
    assert (s.tool_mode, s.stream_usage, s.max_image_bytes, s.max_image_pixels) == (
        "native",
        False,
        123_456,
        7_890,
    )
    reply = model.client.create(
        model="skywork/r1v4-lite", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.message.content
    assert r1v4_server.last_request.headers["x-a"] == "b"


def test_unknown_keywords_go_to_the_extras_with_a_warning_at_the_callers_line() -> None:
    given = {"top_k": 3}
    with pytest.warns(UserWarning, match="'seed' is not one of its parameters") as caught:
        model = _Model(seed=7, extras=given)
    assert caught[0].filename == __file__
    assert model.extras == {"top_k": 3, "seed": 7}
    assert given == {"top_k": 3}  # the caller's dict is left alone


def test_model_validate_follows_the_same_rules() -> None:
    with pytest.warns(UserWarning, match="'seed'"):
        assert _Model.model_validate({"seed": 7}).extras == {"seed": 7}
    with pytest.raises(ValueError, match="did you mean 'temperature'"):
        _Model.model_validate({"temprature": 1})


def test_spellings_of_one_parameter() -> None:
    assert _Model(max_completion_tokens=5).max_tokens == 5
    assert _Model(request_timeout=4).timeout == 4
    # A spelling left at its default (an explicit __init__ passes every default) yields.
    assert _Model(max_tokens=None, max_completion_tokens=5).max_tokens == 5
    assert _Model(timeout=600.0, request_timeout=4).timeout == 4
    with pytest.raises(ValueError, match="max_tokens=1 and max_completion_tokens=2"):
        _Model(max_tokens=1, max_completion_tokens=2)


def test_the_extras_may_set_body_parameters_only() -> None:
    assert _Model(extras={"temperature": 0.5}).extras == {"temperature": 0.5}
    with pytest.raises(ValueError, match="extras holds 'max_tokens'"):
        _Model(extras={"max_tokens": 5})
    with pytest.raises(ValueError, match="extras holds 'max_completion_tokens'"):
        _Model(extras={"max_completion_tokens": 5})


@pytest.mark.parametrize(
    ("keyword", "meant"),
    [
        ("temprature", "temperature"),
        ("TEMPERATURE", "temperature"),
        ("base_uri", "base_url"),
        ("baseURL", "base_url"),
        ("api_base", "base_url"),
        ("openai_api_key", "api_key"),
        ("max_retry", "max_retries"),
        ("backof", "backoff"),
        ("max_image_pixel", "max_image_pixels"),
        ("max_completion_token", "max_completion_tokens"),
    ],
)
def test_a_near_miss_names_the_parameter(keyword: str, meant: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean {meant!r}"):
        _Model(**{keyword: 1})


@pytest.mark.parametrize(
    "keyword", ["top_k", "min_p", "min_tokens", "cache_salt", "stop_token_ids"]
)
def test_server_fields_near_ours_are_not_near_misses(keyword: str) -> None:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert _Model(**{keyword: 1}).extras == {keyword: 1}


def test_without_an_extras_field_keywords_are_left_to_pydantic() -> None:
    class Bare(ClientsHolder):
        api_key: SecretStr | None = None
        base_url: str | None = None

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Bare(timeout=3).timeout == 3
