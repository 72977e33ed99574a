"""Every notebook and the docs' code blocks run once per session, two kernels at a time (each
in its own folder): the tests of tests/docs read the results as they come."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from markdown_blocks import run_blocks
from notebooks import NOTEBOOKS, ROOT, run


@pytest.fixture(scope="session")
def executions() -> Iterator[dict[str, Future[Any]]]:
    """``"markdown"``: each code block's outputs; each notebook's path: it, executed afresh."""
    with ThreadPoolExecutor(2) as pool:
        futures: dict[str, Future[Any]] = {"markdown": pool.submit(run_blocks)}
        for path in NOTEBOOKS:
            futures[str(path.relative_to(ROOT))] = pool.submit(run, path)
        yield futures
        for future in futures.values():
            future.cancel()
