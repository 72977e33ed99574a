"""``Usage.to_dict``: the one place that knows which counts a usage has and which are optional."""

from __future__ import annotations

from r1v4 import Usage


def test_the_counts_by_their_own_names_and_the_optional_ones_only_when_reported() -> None:
    assert Usage(11, 20, 31).to_dict() == {
        "prompt_tokens": 11,
        "completion_tokens": 20,
        "total_tokens": 31,
    }
    assert Usage(11, 20, 31, reasoning_tokens=12, cached_tokens=0).to_dict() == {
        "prompt_tokens": 11,
        "completion_tokens": 20,
        "total_tokens": 31,
        "reasoning_tokens": 12,
        "cached_tokens": 0,  # zero was reported: kept
    }


def test_a_caller_renames_and_nests_keys_and_unnamed_fields_keep_theirs() -> None:
    names: dict[str, str | tuple[str, str]] = {
        "prompt_tokens": "input_tokens",
        "reasoning_tokens": ("output_token_details", "reasoning"),
        "cached_tokens": ("input_token_details", "cache_read"),
    }
    usage = Usage(11, 20, 31, reasoning_tokens=12, cached_tokens=3)
    assert usage.to_dict(names) == {
        "input_tokens": 11,
        "completion_tokens": 20,
        "total_tokens": 31,
        "output_token_details": {"reasoning": 12},
        "input_token_details": {"cache_read": 3},
    }
    assert "output_token_details" not in Usage(1, 2, 3).to_dict(names)


def test_the_wire_shape_round_trips() -> None:
    wire = {
        "prompt_tokens": 11,
        "completion_tokens": 20,
        "total_tokens": 31,
        "completion_tokens_details": {"reasoning_tokens": 12},
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    names: dict[str, str | tuple[str, str]] = {
        "reasoning_tokens": ("completion_tokens_details", "reasoning_tokens"),
        "cached_tokens": ("prompt_tokens_details", "cached_tokens"),
    }
    assert Usage.from_wire(wire).to_dict(names) == wire
