"""Every ```python block of the README and of the pages under docs/ (the guides included) runs
against the local R1V4 server (how: tests/docs/markdown_blocks.py), so the code the docs show
cannot drift from the code."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from markdown_blocks import BLOCKS, Block, errors

pytestmark = pytest.mark.timeout(900)  # the blocks run once, with the notebooks (conftest.py)


def test_the_documents_have_python_blocks() -> None:
    # The README's example of each framework and the guides' examples are among them: a parser
    # that finds nothing (or misses a folder) proves nothing.
    assert sum(block.path.name == "README.md" for block in BLOCKS) >= 2
    guides = {block.path.name for block in BLOCKS if block.path.parent.name == "guides"}
    assert {
        "core-client.md",
        "local-server.md",
        "self-hosting.md",
        "thinking-with-images.md",
    } <= guides
    assert sum(block.path.name in ("README.md", *guides) for block in BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_block_runs(block: Block, executions: dict[str, Future[Any]]) -> None:
    failed = errors(executions["markdown"].result()[block.name])
    assert not failed, f"{block.name} fails:\n{block.code}\n\n" + "\n".join(failed)
