"""The ```python blocks of the README and of every page under docs/, as tests/docs runs them.

The blocks run in order in one Jupyter kernel, document after document, as a reader pastes
them into a session: a later block may use what an earlier one defined, and top-level
``await`` works.
``SKYWORK_API_KEY`` and ``SKYWORK_BASE_URL`` point at a local server (agent scenario: every
reply is an R1V4 transcript with its tool trace), and the working folder is a fresh one.

What a block takes as given, as its reader would have it (see ``SETUP``):
``question_with_a_picture`` (a LangChain ``HumanMessage`` with a picture), ``png_bytes`` (a
picture) and ``photo.jpg``; ``_self_hosted`` is the local server in its self-hosted mode, for the
blocks that show a self-hosted server (``docs-test`` swaps their URL for its ``base_url``).

A block that cannot run as written here (it needs the internet or the hosted API) says which
part to swap for a local equivalent in a comment right above it, e.g.
``<!-- docs-test: replace https://example.com/photo.jpg with a picture -->``; the test runs it
with that text replaced by the ``SUBSTITUTES`` entry named, so no block is ever skipped.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from notebooks import ROOT, execute

from r1v4.testing import make_image_data_uri

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

SUBSTITUTES = {
    "a picture": make_image_data_uri("PNG", (64, 48), (30, 120, 200)),
    # A bare inference server, as vLLM serving the open weights is: the local server's
    # self-hosted mode, started by SETUP.
    "a self-hosted server": "_self_hosted.base_url",
}

SETUP = """
import os, base64
from r1v4.testing import LocalR1V4Server, make_image
from langchain_core.messages import HumanMessage

_server = LocalR1V4Server(api_key="docs-key", scenario="agent").start()
_self_hosted = LocalR1V4Server(api_key="docs-key", scenario="self_hosted").start()
os.environ["SKYWORK_API_KEY"] = "docs-key"
os.environ["SKYWORK_BASE_URL"] = _server.hosted_base_url
open("photo.jpg", "wb").write(make_image("JPEG", (64, 48), (200, 120, 30)))
png_bytes = make_image("PNG", (96, 72), (30, 160, 90))
question_with_a_picture = HumanMessage(content=[
    {"type": "text", "text": "What is in this picture?"},
    {"type": "image", "base64": base64.b64encode(make_image("PNG", (64, 48))).decode(),
     "mime_type": "image/png"},
])
"""

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_MARKER = re.compile(r"<!--\s*docs-test:\s*replace\s+(\S+)\s+with\s+(.+?)\s*-->")


@dataclass
class Block:
    """One ```python block: where it is, and its code as the test runs it."""

    path: Path
    line: int
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a markdown file, each with its ``docs-test`` swaps made."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    fence: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(lines, 1):
        match = _FENCE.match(line)
        if fence is None:
            if match and match[3].strip().split(" ")[0] in ("python", "py"):
                fence, start, body = match[2], number, []
            continue
        if match and match[2].startswith(fence) and not match[3].strip():
            code = "\n".join(body)
            for old, name in _swaps(lines, start):
                assert old in code, f"{path.name}:{start}: the block has no {old!r} to replace"
                code = code.replace(old, SUBSTITUTES[name])
            blocks.append(Block(path, start, code))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"{path.name}:{start}: a code block is never closed"
    return blocks


def _swaps(lines: list[str], fence_line: int) -> list[tuple[str, str]]:
    """The ``docs-test: replace`` comments right above the block on line ``fence_line``."""
    swaps = []
    index = fence_line - 2
    while index >= 0 and (found := _MARKER.search(lines[index])):
        assert found[2] in SUBSTITUTES, f"unknown substitute {found[2]!r}: see SUBSTITUTES"
        swaps.append((found[1], found[2]))
        index -= 1
    return swaps


BLOCKS = [block for path in DOCUMENTS for block in python_blocks(path)]


def run_blocks() -> dict[str, list[Any]]:
    """Each block's outputs, after running every block in one kernel (see the docstring)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)]
    nb.cells += [nbformat.v4.new_code_cell(block.code) for block in BLOCKS]
    with tempfile.TemporaryDirectory(prefix="r1v4-docs-") as workdir:
        execute(nb, Path(workdir), allow_errors=True)
    setup, *cells = nb.cells
    if errors(setup.outputs):
        raise RuntimeError("the set-up of the blocks failed:\n" + "\n".join(errors(setup.outputs)))
    return {block.name: cell.outputs for block, cell in zip(BLOCKS, cells, strict=True)}


def errors(outputs: list[Any]) -> list[str]:
    """The errors a cell raised: name, message and the last frames, without terminal colours."""
    return [
        _COLOUR.sub("", "\n".join([f"{out['ename']}: {out['evalue']}", *out["traceback"][-3:]]))
        for out in outputs
        if out["output_type"] == "error"
    ]
