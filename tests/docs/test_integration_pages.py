"""The integration pages (docs/integrations) claim only what a test proves, and name the test.

Every ``tests/<file>.py::<name>`` a page's text names must exist (a test function, or a
test class and one of its tests, those it inherits from langchain-tests' standard suites
included), and LangChain's page marks each feature of its "Model features" table with the
tests that prove it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests
from notebooks import ROOT

PAGES = sorted((ROOT / "docs" / "integrations").glob("*.ipynb"))
STANDARD = {
    "ChatModelIntegrationTests": ChatModelIntegrationTests,
    "ChatModelUnitTests": ChatModelUnitTests,
}
# LangChain's chat-model page: the features its table must mark, each with its proof.
FEATURES = [
    "Tool calling",
    "Structured output",
    "JSON mode",
    "Image input",
    "Token-level streaming",
    "Native async",
    "Token usage",
    "Reasoning output",
]
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)`")


def _text(page: Path) -> str:
    nb = nbformat.read(page, as_version=4)
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def _exists(file: str, name: str) -> bool:
    """Whether ``file`` defines test ``name`` (``test_x`` or ``TestClass::test_x``)."""
    path = ROOT / file
    if not path.is_file():
        return False
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    first, _, method = name.partition("::")
    node = top.get(first)
    if not method:
        return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    if not isinstance(node, ast.ClassDef):
        return False
    if any(getattr(item, "name", None) == method for item in node.body):
        return True
    bases = [base.id for base in node.bases if isinstance(base, ast.Name)]
    return any(hasattr(STANDARD[b], method) for b in bases if b in STANDARD)


def test_there_are_pages_for_both_ecosystems() -> None:
    assert {page.name for page in PAGES} >= {"langchain.ipynb", "llama_index.ipynb"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_test_a_page_names_exists(page: Path) -> None:
    named = _REFERENCE.findall(_text(page))
    assert len(named) >= 8, "a page that names no test proves nothing"
    missing = [f"{file}::{name}" for file, name in named if not _exists(file, name)]
    assert not missing, f"{page.name} names tests that do not exist: {missing}"


def test_the_checker_finds_what_is_missing() -> None:
    assert _exists("tests/langchain/test_langchain_tools.py", "test_json_mode")
    assert _exists(
        "tests/langchain/test_standard_integration.py", "TestChatR1V4Integration::test_stream"
    )
    assert not _exists("tests/langchain/test_langchain_tools.py", "test_no_such_test")
    assert not _exists(
        "tests/langchain/test_standard_integration.py", "TestChatR1V4Integration::test_nothing"
    )


def test_langchain_features_table_marks_each_feature_with_its_proof() -> None:
    text = _text(ROOT / "docs" / "integrations" / "langchain.ipynb")
    header, _, row = text.split("### Model features", 1)[1].strip().splitlines()[:3]
    columns = [re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", c).strip() for c in header.split("|")]
    assert [c for c in columns if c] == FEATURES
    marks = [mark.strip() for mark in row.split("|") if mark.strip()]
    assert len(marks) == len(FEATURES)
    for feature, mark in zip(FEATURES, marks, strict=True):
        assert mark[0] in "✅❌", (feature, mark)
        if mark.startswith("✅"):
            proof = re.search(rf"^- \*\*{re.escape(feature)}\*\*: (.+)$", text, re.M)
            assert proof, f"{feature} is marked supported with no proof listed"
            assert _REFERENCE.search(proof[1]), f"{feature}: the proof names no test"
