"""The notebooks that show a real model's tokens (``docs/notebooks/llama_cpp.ipynb``), run
against the real llama.cpp server and compared with what they are saved with.

Their words differ between CPUs, so a ``model-output`` cell is held to what holds for any words
(it runs, and shows the same kinds of output); every other cell prints exactly what
it is saved with (see ``tests/notebooks.py``). The notebook forces with a grammar whatever shape
an exact cell relies on.
"""

from __future__ import annotations

from collections.abc import Iterator

import nbformat
import pytest
from notebooks import REAL_NOTEBOOKS, ROOT, differences, run
from real_notebooks import served, variables
from real_server import LlamaServer, RealFiles

NAMES = [str(path.relative_to(ROOT)) for path in REAL_NOTEBOOKS]


@pytest.fixture(scope="module")
def notebook_llama(real_files: RealFiles, real_key: str) -> Iterator[LlamaServer]:
    """The server ``make notebooks`` saves them against (``real_notebooks.served``)."""
    with served(real_files, real_key) as llama:
        yield llama


@pytest.fixture(scope="module")
def own_template_llama(real_files: RealFiles, real_key: str) -> Iterator[LlamaServer]:
    """The same model with its own chat template: other prompts, other words."""
    with served(real_files, real_key, own_template=True) as llama:
        yield llama


@pytest.mark.parametrize("name", NAMES)
def test_shows_what_it_is_saved_with_on_a_real_server(
    name: str, notebook_llama: LlamaServer, real_key: str
) -> None:
    now = run(ROOT / name, variables(notebook_llama, real_key))
    differ = differences(nbformat.read(ROOT / name, as_version=4), now)
    assert not differ, (
        f"{name} against llama.cpp no longer shows what it is saved with (after checking the "
        "change, save it again with `make notebooks`):\n\n" + "\n\n".join(differ)
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_same_on_another_prompt_format(
    name: str, own_template_llama: LlamaServer, real_key: str
) -> None:
    """Against SmolLM2's own chat template the model reads other prompts and writes other
    words; every cell not tagged ``model-output`` still prints what it is saved with (an
    untagged cell that showed the model's words would fail on another CPU)."""
    now = run(ROOT / name, variables(own_template_llama, real_key))
    assert not differences(nbformat.read(ROOT / name, as_version=4), now)
