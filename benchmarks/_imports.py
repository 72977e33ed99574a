"""Figure 6: import cost, measured with ``python -X importtime`` in fresh interpreters.

Each measurement is one fresh process that first imports a *prelude* (what is already loaded in
any program that could use the package: its framework, or for the core its own dependencies),
then writes a marker to stderr, then imports the package. The figure is the sum of the top-level
cumulative times after the marker: what the package itself adds.

Bytecode: installed packages come with ``.pyc`` files (pip compiles them), a source checkout gets
them on its first import -- unless ``PYTHONDONTWRITEBYTECODE`` is set, as it is on some CI and
sandbox machines, where every import of r1v4 would pay for compiling its source while its
dependencies would not. So the measuring interpreters run without that variable, after one
warm-up import that writes r1v4's ``__pycache__`` (ignored by git), like a normal first run.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from benchmarks._harness import bytecode_env, error_row
from benchmarks._report import NOT_AVAILABLE, Row, verdict
from benchmarks._sizes import Sizes

_MARK = "@@r1v4-bench-mark@@"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")

# What `import r1v4` must never pull in (the issue: no Pillow, LangChain or LlamaIndex).
FORBIDDEN = ("PIL", "langchain", "langchain_core", "langgraph", "llama_index")


@dataclass(frozen=True)
class ImportCase:
    name: str
    module: str
    prelude: str  # Python statements run before the marker ("" for a cold import)
    prelude_label: str
    peer: str | None = None
    target_ms: float | None = None


# The core's dependencies with the parts r1v4 uses loaded, and pydantic initialised: importing
# the package alone would leave BaseModel's machinery, and the scan of every installed package's
# entry points that pydantic makes for plugins when the first model of a process is built, to be
# charged to r1v4. Any program that uses pydantic for anything else has paid for both already.
CORE_DEPS = (
    "import httpx\nfrom pydantic import BaseModel, Field, SecretStr, TypeAdapter\n"
    "class _Initialised(BaseModel):\n    x: int = 0"
)
LANGCHAIN = "import langchain_core.language_models.chat_models, langchain_core.messages"
LLAMA_INDEX = "import llama_index.core.llms, llama_index.core.base.llms.types"

CASES: tuple[ImportCase, ...] = (
    ImportCase("r1v4 (cold)", "r1v4", "", "nothing"),
    ImportCase("r1v4", "r1v4", CORE_DEPS, "httpx + pydantic (initialised)", target_ms=30.0),
    ImportCase("langchain_r1v4", "langchain_r1v4", LANGCHAIN, "langchain_core", "langchain_openai"),
    ImportCase("langchain_openai", "langchain_openai", LANGCHAIN, "langchain_core"),
    ImportCase(
        "llama_index_r1v4",
        "llama_index_r1v4",
        LLAMA_INDEX,
        "llama_index.core",
        "llama_index.llms.openai_like",
    ),
    ImportCase(
        "llama_index.llms.openai_like",
        "llama_index.llms.openai_like",
        LLAMA_INDEX,
        "llama_index.core",
    ),
)
FRAMEWORKS: dict[str, str] = {
    "httpx + pydantic (initialised)": CORE_DEPS,
    "langchain_core": LANGCHAIN,
    "llama_index.core": LLAMA_INDEX,
}


def warm_bytecode(modules: list[str]) -> None:
    """Import ``modules`` once, unmeasured, so their ``.pyc`` files exist (see module docs)."""
    for module in dict.fromkeys(modules):
        subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            env=bytecode_env(),
            capture_output=True,
            timeout=300,
        )


def _run(prelude: str, module: str) -> tuple[float, dict[str, float]]:
    """One fresh interpreter: ms the import of ``module`` took after ``prelude``, and the
    self time (ms) of each module it loaded."""
    code = f"{prelude}\nimport sys\nsys.stderr.write({_MARK!r} + '\\n')\nsys.stderr.flush()\n" + (
        f"import {module}\n" if module else ""
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=bytecode_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{proc.stderr[-2000:]}")
    _, _, after = proc.stderr.partition(_MARK)
    total = 0
    selfs: dict[str, float] = {}
    for line in after.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        self_us, cumulative_us, indent, name = match.groups()
        selfs[name] = int(self_us) / 1e3
        if not indent:
            total += int(cumulative_us)
    return total / 1e3, selfs


def measure(name: str, prelude: str, module: str, repeats: int) -> dict[str, object]:
    samples: list[float] = []
    heaviest: dict[str, list[float]] = {}
    for _ in range(repeats):
        total, selfs = _run(prelude, module)
        samples.append(total)
        for mod, ms in selfs.items():
            heaviest.setdefault(mod, []).append(ms)
    top = sorted(
        ((mod, statistics.median(v)) for mod, v in heaviest.items()), key=lambda kv: -kv[1]
    )[:8]
    return {
        "name": name,
        "median_ms": statistics.median(samples),
        "samples_ms": samples,
        "heaviest_self_ms": dict(top),
    }


def framework_import(prelude: str, repeats: int) -> float:
    """The framework's own import, cold (what the adapters are measured over)."""
    samples = []
    for _ in range(repeats):
        code = f"import sys\nsys.stderr.write({_MARK!r} + '\\n')\nsys.stderr.flush()\n{prelude}\n"
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            env=bytecode_env(),
        )
        _, _, after = proc.stderr.partition(_MARK)
        samples.append(
            sum(
                int(m.group(2))
                for m in map(_LINE.match, after.splitlines())
                if m is not None and not m.group(3)
            )
            / 1e3
        )
    return statistics.median(samples)


def forbidden_after_core_import() -> list[str]:
    """Top-level packages from ``FORBIDDEN`` present in ``sys.modules`` after ``import r1v4``."""
    code = (
        "import json, sys\nimport r1v4\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FORBIDDEN)!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=bytecode_env(),
    )
    found: list[str] = json.loads(proc.stdout)
    return found


def rows(s: Sizes, missing_modules: dict[str, str]) -> tuple[list[Row], dict[str, Any]]:
    raw: dict[str, Any] = {"repeats": s.import_repeats, "cases": {}, "frameworks": {}}
    measured: dict[str, float] = {}
    out: list[Row] = []
    quick = s.import_repeats < 2
    # Quick runs skip the peers: each is seconds of framework import in a fresh interpreter.
    cases = [c for c in CASES if not quick or "r1v4" in c.module]
    warm_bytecode(
        [c.module for c in cases if "r1v4" in c.module and c.module not in missing_modules]
    )
    for case in cases:
        figure = f"6 import over {case.prelude_label}"
        if case.module in missing_modules:
            out.append(
                Row(
                    figure,
                    case.name,
                    None,
                    "ms",
                    "—",
                    status=NOT_AVAILABLE,
                    note=missing_modules[case.module],
                )
            )
            continue
        try:
            result = measure(case.name, case.prelude, case.module, s.import_repeats)
        except Exception as exc:
            out.append(error_row(figure, case.name, f"{type(exc).__name__}: {exc}", "ms"))
            continue
        raw["cases"][case.name] = result
        value = float(result["median_ms"])  # type: ignore[arg-type]
        measured[case.module] = value
        row = Row(figure, case.name, value, "ms", f"{value:.1f} ms")
        if case.target_ms is not None:
            row.target = f"≤ {case.target_ms:.0f} ms"
            row.status = verdict(value <= case.target_ms)
            if value > case.target_ms:
                heavy = ", ".join(
                    f"{k} {v:.0f}"
                    for k, v in result["heaviest_self_ms"].items()  # type: ignore[attr-defined]
                )
                row.note = f"heaviest modules (self ms): {heavy}"
        out.append(row)
    for row, case in zip(list(out), cases, strict=True):
        if case.peer and case.peer in measured and row.value is not None:
            row.x_peer = row.value / measured[case.peer]
    for label, prelude in FRAMEWORKS.items():
        if quick and label != "httpx + pydantic (initialised)":
            continue
        value = framework_import(prelude, s.import_repeats)
        raw["frameworks"][label] = value
        out.append(Row(f"6 import, cold: {label} itself", label, value, "ms", f"{value:.0f} ms"))
    found = forbidden_after_core_import()
    raw["forbidden_loaded_by_import_r1v4"] = found
    out.append(
        Row(
            "6 `import r1v4` loads",
            "r1v4",
            float(len(found)),
            "packages",
            ", ".join(found) if found else "none of them",
            target="no PIL, langchain*, llama_index",
            status=verdict(not found),
        )
    )
    return out, raw
