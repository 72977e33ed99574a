"""Shared fixtures: the local R1V4 server (``r1v4_server``, ``no_native_tools_server``),
``image_work``, which counts how often the core decodes and checks an image, and
``fast_backoff``, which shortens the core's default retry backoff."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from r1v4 import ClientSettings
from r1v4._images import _encode, _files, _from_data_uri
from r1v4._images._checked import CHECKED

pytest_plugins = ["r1v4.testing.pytest_plugin"]


@dataclass
class ImageWork:
    decodes: int = 0
    """Base64 decodes of a data URI."""
    checks: int = 0
    """Structural checks of image bytes (any source)."""


@pytest.fixture
def image_work(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImageWork]:
    """Counts the core's image decodes and checks for the rest of the test, starting from an
    empty registry of checked URIs (so no earlier test's image counts as known)."""
    CHECKED.clear()
    seen = ImageWork()

    def counting(func: Callable[..., Any], field: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            setattr(seen, field, getattr(seen, field) + 1)
            return func(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        _from_data_uri, "decode_base64", counting(_from_data_uri.decode_base64, "decodes")
    )
    # vars(): the names as those modules import them (mypy sees no re-export there).
    monkeypatch.setattr(
        _from_data_uri, "validate", counting(vars(_from_data_uri)["validate"], "checks")
    )
    monkeypatch.setattr(_encode, "validate", counting(_encode.validate, "checks"))
    # A regular file is checked where it lies, without a buffer, so not via validate.
    monkeypatch.setattr(_files, "check", counting(vars(_files)["check"], "checks"))
    yield seen


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core's default retry backoff shortened to 10 ms, for core clients a test does not
    build itself (``r1v4 batch``'s): each retry would wait the real 0.5 s + 1 s. Adapters take
    ``backoff=`` like any setting."""
    defaults = ClientSettings.__init__.__kwdefaults__
    assert defaults is not None and "backoff" in defaults
    monkeypatch.setitem(defaults, "backoff", 0.01)
