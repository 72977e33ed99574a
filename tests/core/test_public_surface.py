"""``import r1v4`` exports what a user of the core writes; the adapters' plumbing is elsewhere."""

from __future__ import annotations

import inspect

import pytest

import r1v4
import r1v4._errors
import r1v4._integrations
import r1v4._transcript


def test_every_exported_name_resolves() -> None:
    missing = [name for name in r1v4.__all__ if not hasattr(r1v4, name)]
    assert missing == []
    assert len(set(r1v4.__all__)) == len(r1v4.__all__)


def test_the_whole_error_family_and_every_transcript_event_are_public() -> None:
    errors = [
        name
        for name, value in vars(r1v4._errors).items()
        if inspect.isclass(value) and issubclass(value, r1v4.R1V4Error)
    ]
    assert "SandboxUnavailableError" in errors
    assert sorted(set(errors) - set(r1v4.__all__)) == []
    assert sorted(set(r1v4._transcript.__all__) - set(r1v4.__all__)) == []


def test_what_the_adapters_cli_and_report_share_is_not_public() -> None:
    shared = set(r1v4._integrations.__all__)
    assert {"ClientsHolder", "Trace", "history_text", "tool_choice"} <= shared
    assert sorted(shared & set(r1v4.__all__)) == []
    assert [name for name in sorted(shared) if hasattr(r1v4, name)] == []
    # Gathered, not defined there: each name lives in the module that does that job.
    defined_here = [
        name
        for name in shared
        if getattr(getattr(r1v4._integrations, name), "__module__", None) == "r1v4._integrations"
    ]
    assert defined_here == []


def test_the_image_helpers_load_on_first_use_and_unknown_names_fail() -> None:
    assert callable(r1v4.image_to_data_uri)
    assert r1v4.image_to_data_uri.__module__.startswith("r1v4._images")
    with pytest.raises(AttributeError, match="ClientsHolder"):
        r1v4.ClientsHolder  # type: ignore[attr-defined]  # noqa: B018
