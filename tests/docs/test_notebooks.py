"""Every notebook (docs/notebooks, docs/integrations) but the one of a real model runs against
the local R1V4 server, and shows what it is saved with: a notebook whose saved outputs no longer
match what it produces fails, until ``make notebooks`` saves it again (after reading what
changed). The real model's notebook runs in tests/real; here, how it is saved and how the
comparison treats its model's words."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebooks import MODEL_OUTPUT, NOTEBOOKS, REAL_NOTEBOOKS, ROOT, differences

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
    differ = differences(nbformat.read(ROOT / name, as_version=4), executions[name].result())
    assert not differ, (
        f"{name} no longer shows what it is saved with (after checking the change, save it "
        "again with `make notebooks`):\n\n" + "\n\n".join(differ)
    )


REAL_NAMES = [str(path.relative_to(ROOT)) for path in REAL_NOTEBOOKS]


def test_a_notebook_shows_a_real_model() -> None:
    assert "docs/notebooks/llama_cpp.ipynb" in REAL_NAMES
    assert not set(REAL_NAMES) & set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_canned_notebook_compares_every_output(name: str) -> None:
    """The local server's answers are canned: no cell of its notebooks may be compared only
    by the kinds of its outputs."""
    cells = nbformat.read(ROOT / name, as_version=4).cells
    assert not [cell for cell in cells if MODEL_OUTPUT in cell.metadata.get("tags", ())]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_a_real_model_s_notebook_is_saved_with_its_words(name: str) -> None:
    """Saved as it ran against llama.cpp (tests/real runs it there), without an error, its
    model's words in cells tagged ``model-output``, and after them cells compared exactly that
    show what holds for any words (one for each part: the core client, LangChain, R1V4's tags,
    structured output, LlamaIndex, the tool loop)."""
    saved = nbformat.read(ROOT / name, as_version=4)
    code = [cell for cell in saved.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "saved without running every cell"
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]
    words = [cell for cell in code if MODEL_OUTPUT in cell.metadata.get("tags", ())]
    exact = [cell for cell in code if cell.outputs and cell not in words]
    assert words and all(cell.outputs for cell in words)
    assert len(exact) >= 6
    # It reaches the server SKYWORK_BASE_URL names, and starts no local one.
    setup = code[0].source
    assert 'os.environ.get("SKYWORK_BASE_URL"' in setup
    assert "LocalR1V4Server" not in "".join(cell.source for cell in code)


def _notebook(*cells: tuple[str, str, bool]) -> Any:
    """A notebook of code cells ``(source, printed, tagged model-output)``."""
    nb = nbformat.v4.new_notebook()
    for source, printed, tagged in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        if tagged:
            cell.metadata["tags"] = [MODEL_OUTPUT]
        nb.cells.append(cell)
    return nb


def _words_then_check(words: str, check: str, source: str = "print(words)") -> Any:
    """A cell tagged ``model-output`` printing ``words``, then an untagged one printing
    ``check``."""
    return _notebook((source, words, True), ("print(ok)", check, False))


def test_a_tagged_cell_may_show_other_words_and_nothing_else() -> None:
    saved = _words_then_check("a rainbow\n", "ok: True\n")
    assert differences(saved, _words_then_check("the sea\n", "ok: True\n")) == []
    # Other words in an untagged cell, or nothing in a tagged one, are a difference each.
    assert len(differences(saved, _words_then_check("\n", "ok: False\n"))) == 2
    # An error is compared whole, as the kind of output it is.
    failed = _words_then_check("", "ok: True\n")
    failed.cells[0].outputs = [
        nbformat.v4.new_output("error", ename="ServerError", evalue="500", traceback=[])
    ]
    assert len(differences(saved, failed)) == 1
    # A cell changed in the notebook is never compared as if it were the same cell.
    changed = _words_then_check("a rainbow\n", "ok: True\n", source="print(other)")
    [differ] = differences(saved, changed)
    assert differ.startswith("the code cells differ") and "+print(other)" in differ
