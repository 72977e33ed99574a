"""``import r1v4`` stays light, and the CLI and report use only the core's public API (its
public subpackages included, and ``r1v4._integrations``, what they share with the adapters)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import r1v4

ROOT = Path(r1v4.__file__).parent


def test_import_r1v4_loads_neither_the_cli_nor_the_report_nor_their_dependencies() -> None:
    code = (
        "import sys, r1v4\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('jinja2', 'tqdm', 'markupsafe', 'PIL')"
        " or m.startswith(('r1v4.cli', 'r1v4.report')))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    # The check itself works: importing the report does load them.
    code = code.replace("import sys, r1v4", "import sys, r1v4, r1v4.report._html, r1v4.cli.batch")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "jinja2" in out.stdout and "r1v4.report._html" in out.stdout
    assert "r1v4.cli.batch" in out.stdout


def _private_core_imports(source: str) -> list[str]:
    """The modules of the core ``source`` imports that are not its public API: a private
    module at any depth (``r1v4._client``, ``r1v4.tools._bwrap``), except what the adapters,
    the CLI and the report share (``r1v4._integrations``). Their own modules (``r1v4.cli``,
    ``r1v4.report``) and public subpackages (``r1v4.tools``: R1V4's own tools, for
    ``--builtin-tools``) are fine."""
    offenders = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "r1v4" or parts[1:2] in (["cli"], ["report"]):
                continue
            if name != "r1v4._integrations" and any(p.startswith("_") for p in parts[1:]):
                offenders.append(name)
    return offenders


def test_cli_and_report_import_only_the_public_core() -> None:
    # import-linter holds the same rule; this reads it off the source.
    offenders = [
        f"{path.name}: {name}"
        for path in [*ROOT.joinpath("cli").rglob("*.py"), *ROOT.joinpath("report").rglob("*.py")]
        for name in _private_core_imports(path.read_text())
    ]
    assert offenders == []
    assert len(list(ROOT.joinpath("cli").rglob("*.py"))) >= 5  # the walk saw the modules
    # The rule catches what it is for.
    assert _private_core_imports(
        "import r1v4._client\nfrom r1v4.tools._bwrap import x\nfrom r1v4 import R1V4Client\n"
        "from r1v4.tools import R1V4Tools\nfrom r1v4._integrations import y\nimport httpx"
    ) == ["r1v4._client", "r1v4.tools._bwrap"]
