"""Fixtures of the report tests: a module's two-file run of the local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from report_helpers import KEY, hostile_run, scenario_run

from r1v4.testing import LocalR1V4Server


@pytest.fixture(scope="module")
def run_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SKYWORK_API_KEY", KEY)
        mp.delenv("SKYWORK_BASE_URL", raising=False)
        with LocalR1V4Server(api_key=KEY, scenario="agent") as server:
            files = [scenario_run(server, root / "a"), hostile_run(server, root / "b")]
    yield files
