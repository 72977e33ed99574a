"""Every notebook (docs/notebooks, docs/integrations) runs against the local R1V4 server, and
shows what it is saved with: a notebook whose saved outputs no longer match what it produces
fails, until ``make notebooks`` saves it again (after reading what changed)."""

from __future__ import annotations

import difflib
import json
import pprint
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import nbformat
import pytest
from executed import NOTEBOOKS, ROOT, normalise

NAMES = [str(path.relative_to(ROOT)) for path in NOTEBOOKS]

pytestmark = pytest.mark.timeout(900)  # they run once, in the background (conftest.py)


def test_the_notebooks_are_there() -> None:
    assert {Path(name).name for name in NAMES} >= {
        "langchain.ipynb",
        "llama_index.ipynb",
        "batch_and_report.ipynb",
        "self_hosting.ipynb",
    }
    assert sum(name.startswith("docs/integrations/") for name in NAMES) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_saved_with_outputs_and_starting_its_own_server(name: str) -> None:
    saved = nbformat.read(ROOT / name, as_version=4)
    code = [cell for cell in saved.cells if cell.cell_type == "code"]
    # Saved executed (they render on GitHub and in the site as they ran) ...
    assert all(cell.execution_count for cell in code), "saved without running every cell"
    assert sum(len(cell.outputs) for cell in code) >= len(code) // 2
    # ... with a first cell that starts the local server unless SKYWORK_API_KEY is set (for
    # the self-hosting notebook: unless SKYWORK_BASE_URL names a server of yours).
    setup = next(cell for cell in code if "SKYWORK_API_KEY" in cell.source).source
    assert "LocalR1V4Server" in setup
    chooser = "SKYWORK_BASE_URL" if name.endswith("self_hosting.ipynb") else "SKYWORK_API_KEY"
    assert f'if not os.environ.get("{chooser}")' in setup


@pytest.mark.parametrize("name", NAMES)
def test_shows_what_it_is_saved_with(name: str, executions: dict[str, Future[Any]]) -> None:
    saved = normalise(nbformat.read(ROOT / name, as_version=4))
    now = normalise(executions[name].result())
    assert [source for source, _ in now] == [source for source, _ in saved]
    differ = [
        f"cell {number} ({source.splitlines()[0] if source else ''}):\n"
        + "\n".join(
            difflib.unified_diff(
                _lines(outputs), _lines(now[number][1]), "saved", "produced", lineterm=""
            )
        )
        for number, (source, outputs) in enumerate(saved)
        if outputs != now[number][1]
    ]
    assert not differ, (
        f"{name} no longer shows what it is saved with (after checking the change, save it "
        "again with `make notebooks`):\n\n" + "\n\n".join(differ)
    )


def _lines(outputs: list[Any]) -> list[str]:
    return pprint.pformat(json.loads(json.dumps(outputs)), width=100).splitlines()
