"""Deselecting standard tests by name, with the reason in the run's summary.

A test module lists the standard-suite tests its server cannot judge in a table attribute (name
-> reason); a ``conftest.py`` calls :func:`deselect_listed` from ``pytest_collection_modifyitems``
and :func:`report_deselected` from ``pytest_terminal_summary``. Used by ``tests/langchain``
(``LOCAL_DESELECT``, against the local server) and ``tests/real`` (``REAL_DESELECT``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

_STASH: dict[str, pytest.StashKey[list[tuple[str, str]]]] = {}


def _key(table: str) -> pytest.StashKey[list[tuple[str, str]]]:
    return _STASH.setdefault(table, pytest.StashKey[list[tuple[str, str]]]())


def deselect_listed(
    config: pytest.Config,
    items: list[pytest.Item],
    table: str,
    mine: Callable[[pytest.Item], bool] = lambda item: True,
) -> None:
    """Deselect each of ``items`` (among those ``mine`` accepts) that its module's ``table``
    names, and keep the reasons for :func:`report_deselected`."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    reasons: set[tuple[str, str]] = set()
    for item in items:
        listed = getattr(getattr(item, "module", None), table, None) or {}
        name = getattr(item, "originalname", item.name)
        if mine(item) and name in listed:
            dropped.append(item)
            reasons.add((name, listed[name]))
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        config.stash[_key(table)] = sorted(reasons)


def report_deselected(terminalreporter: pytest.TerminalReporter, table: str, title: str) -> None:
    deselected = terminalreporter.config.stash.get(_key(table), [])
    if deselected:
        terminalreporter.section(title)
        for name, reason in deselected:
            terminalreporter.write_line(f"{name}: {reason}")
