"""Notebooks run as a reader runs them: in a Jupyter kernel, in a folder of their own.

The tests execute every notebook and compare what it prints and shows with the outputs it is
saved with (:func:`differences`), after :func:`normalise` has taken out what differs from run
to run (ids, ports, times, temporary paths, memory addresses) and what differs between library
versions without meaning anything (the exact bytes of a PNG, warnings on stderr).

Two kinds of notebook:

- :data:`NOTEBOOKS` run against the local R1V4 server (tests/docs, in every run of the suite):
  no notebook reaches the hosted API here, ``SKYWORK_*`` variables are removed from the
  kernel's environment, so each starts the local server in its first cell. Their answers are
  canned, so every output is compared exactly.
- :data:`REAL_NOTEBOOKS` (notebook metadata ``"r1v4": {"server": "llama.cpp"}``) show a real
  model's tokens: tests/real runs them against the real llama.cpp server, whose
  ``SKYWORK_BASE_URL`` and ``SKYWORK_API_KEY`` the kernel gets. Greedy tokens differ between
  CPUs (and llama.cpp samples), so a cell tagged ``model-output`` (its outputs are the model's
  words) is compared by what holds for any words: it ran without error and shows the same
  kinds of output (a stream that printed nothing is missing). Every other cell of theirs is
  compared exactly, as in any notebook. The tag means nothing in :data:`NOTEBOOKS` (a test
  keeps it out of them).

To save new outputs after changing a notebook or the library::

    make notebooks       # or: python tests/notebooks.py docs/notebooks/x.ipynb ...
    make notebooks-real  # or: PYTHONPATH=tests python tests/real/real_notebooks.py
"""

from __future__ import annotations

import difflib
import json
import os
import pprint
import re
import struct
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "r1v4-docs"
CELL_TIMEOUT = 120
# A real model's cell may generate a few hundred tokens, which on a loaded 2-core machine
# llama.cpp writes at about one a second (see tests/real/conftest.py).
REAL_CELL_TIMEOUT = 600
# A cell whose outputs are a real model's words (see the module's docstring).
MODEL_OUTPUT = "model-output"


def _real(path: Path) -> bool:
    """Whether the notebook at ``path`` runs against a real llama.cpp server."""
    metadata = nbformat.read(path, as_version=4).metadata
    return bool(metadata.get("r1v4", {}).get("server") == "llama.cpp")


_ALL = sorted([*ROOT.glob("docs/notebooks/*.ipynb"), *ROOT.glob("docs/integrations/*.ipynb")])
NOTEBOOKS = [path for path in _ALL if not _real(path)]
REAL_NOTEBOOKS = [path for path in _ALL if _real(path)]

# What differs from run to run, and what stands in for it.
_VOLATILE = [
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0x…"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b(chatcmpl|run|lc_run|req|call)[-_][-A-Za-z0-9]{6,}"), r"\1-…"),
    (re.compile(r"(https?://(?:127\.0\.0\.1|localhost|\[::1\])):\d+"), r"\1:PORT"),
    (re.compile(r"\b\d+(?:\.\d+)?(\s?)(ms|s|seconds|cases/s)\b"), r"N\1\2"),
    (re.compile(r"ETA (?:\?|N s)"), "ETA …"),
    (re.compile(r"\b\d+ tokens so far"), "N tokens so far"),
    (re.compile(r"(?:/private)?/(?:tmp|var/folders)/[^\s'\"<>)]+"), "<tmp>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "<time>"),
    # PNG and JPEG bytes differ between Pillow and zlib versions; what they show does not.
    (re.compile(r"data:image/([a-z+]+);base64,[A-Za-z0-9+/=]+"), r"data:image/\1;base64,…"),
    (re.compile(r"\b\d[\d,]* bytes\b"), "N bytes"),
]


def normalise_text(text: str) -> str:
    """``text`` with every volatile value replaced by a placeholder."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _png_size(data: str) -> str:
    import base64

    raw = base64.b64decode(data)
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG"
    width, height = struct.unpack(">II", raw[16:24])
    return f"{width}x{height}"


# A Python warning on stderr (its line, then the source line it quotes): libraries add and
# drop them from version to version; they are not what a notebook shows.
_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")
# The batch command's per-case lines: cases end in whatever order the server answers them.
_PROGRESS = re.compile(r"\[\d+/(\d+)\] ")


def _stream_text(text: str) -> str:
    lines: list[str] = []
    in_warning = False
    run: list[str] = []  # consecutive per-case progress lines, compared in sorted order
    for line in text.splitlines(keepends=True):
        if _WARNING.match(line):
            in_warning = True
            continue
        if in_warning and line.startswith(" "):
            continue
        in_warning = False
        if _PROGRESS.search(line):
            run.append(_PROGRESS.sub(r"[…/\1] ", line))
            continue
        lines += sorted(run)
        run = []
        lines.append(line)
    return normalise_text("".join(lines + sorted(run)))


def normalise(nb: Any) -> list[list[Any]]:
    """Per code cell, its outputs as they should read on every run: each stream joined (a
    kernel may split one print across messages), images as their type and size, text with
    volatile values replaced and Python warnings left out (and a stream that printed only
    whitespace). A ``model-output`` cell's outputs are what holds for any words: their kinds."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs: list[Any] = []
        streams: dict[str, str] = {}
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            if kind == "stream":
                streams[out["name"]] = streams.get(out["name"], "") + out["text"]
            elif kind in ("display_data", "execute_result"):
                shown = {}
                for mime, value in out["data"].items():
                    value = "".join(value) if isinstance(value, list) else value
                    if mime == "image/png":
                        shown[mime] = _png_size(value)
                    elif isinstance(value, str):
                        shown[mime] = normalise_text(value)
                    else:
                        shown[mime] = normalise_text(json.dumps(value, sort_keys=True))
                outputs.append((kind, shown))
            elif kind == "error":
                outputs.append(("error", out["ename"], normalise_text(out["evalue"])))
        # Each stream as one text: how a kernel interleaves and splits them varies from run to
        # run, what each says does not.
        for name, text in sorted(streams.items()):
            if _stream_text(text).strip():
                outputs.append((name, _stream_text(text)))
        if MODEL_OUTPUT in cell.metadata.get("tags", ()):
            outputs = [_shown_at_all(output) for output in outputs]
        cells.append([cell.source, outputs])
    return cells


def _shown_at_all(output: tuple[Any, ...]) -> tuple[Any, ...]:
    """A normalised output reduced to what holds for any model's words: its kind (the
    stream's name; the output type and its MIME types). An error stays whole. (A stream that
    printed only whitespace is already left out by :func:`normalise`.)"""
    kind = output[0]
    if kind == "error":
        return output
    if kind in ("display_data", "execute_result"):
        return (kind, dict.fromkeys(output[1], "<shown>"))
    return (kind, "<text>")


def differences(saved: Any, now: Any) -> list[str]:
    """Each code cell of ``now`` (the notebook executed afresh) whose normalised outputs are
    not those of ``saved`` (the notebook as committed), as a readable diff."""
    before, after = normalise(saved), normalise(now)
    sources = [source for source, _ in before], [source for source, _ in after]
    if sources[0] != sources[1]:
        return [
            "the code cells differ:\n"
            + "\n".join(difflib.unified_diff(*sources, "saved", "executed", lineterm=""))
        ]
    return [
        f"cell {number} ({source.splitlines()[0] if source else ''}):\n"
        + "\n".join(
            difflib.unified_diff(
                _lines(outputs), _lines(after[number][1]), "saved", "produced", lineterm=""
            )
        )
        for number, (source, outputs) in enumerate(before)
        if outputs != after[number][1]
    ]


def _lines(outputs: list[Any]) -> list[str]:
    return pprint.pformat(json.loads(json.dumps(outputs)), width=100).splitlines()


@contextmanager
def _kernel() -> Iterator[KernelManager]:
    """A kernel manager for this interpreter (whatever python3 kernels the machine has),
    talking to its kernel over Unix sockets in a folder of its own rather than over TCP."""
    with tempfile.TemporaryDirectory(prefix="r1v4-kernel-") as home:
        spec = Path(home) / "kernels" / KERNEL
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": "r1v4 docs", "language": "python"})
        )
        manager = KernelManager(
            kernel_name=KERNEL,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(Path(home) / "kernels")]),
            transport="ipc",
            ip=str(Path(home) / "ipc"),
        )
        yield manager


def kernel_env(server: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: no key for the hosted API (only ``server``'s variables, for
    a real server), and this interpreter's scripts (the ``r1v4`` command) first on PATH, as
    in a reader's activated environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYWORK_")}
    env.update(server or {})
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's warning about frozen modules
    env.pop("COLUMNS", None)
    return env


def execute(
    nb: Any,
    workdir: Path,
    *,
    allow_errors: bool = False,
    server: Mapping[str, str] | None = None,
) -> Any:
    """Run every cell of ``nb`` (in place) in a fresh kernel whose working folder is
    ``workdir``; with ``allow_errors`` a failing cell does not stop the rest. ``server``:
    the ``SKYWORK_*`` variables naming a real server, for :data:`REAL_NOTEBOOKS`, whose
    cells get :data:`REAL_CELL_TIMEOUT`."""
    with _kernel() as manager:
        client = NotebookClient(
            nb,
            km=manager,
            timeout=CELL_TIMEOUT if server is None else REAL_CELL_TIMEOUT,
            kernel_name=KERNEL,
            allow_errors=allow_errors,
            record_timing=False,
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute(env=kernel_env(server), cleanup_kc=True)
    return nb


def run(path: Path, server: Mapping[str, str] | None = None) -> Any:
    """The notebook at ``path``, executed afresh in a folder that is then removed."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="r1v4-notebook-") as workdir:
        execute(nb, Path(workdir), server=server)
    return nb


def _joined_streams(outputs: list[Any]) -> list[Any]:
    """Consecutive pieces of one stream as one output (a kernel sends a line in pieces; each
    piece would show as a block of its own)."""
    joined: list[Any] = []
    for out in outputs:
        last = joined[-1] if joined else None
        if (
            last is not None
            and out["output_type"] == last["output_type"] == "stream"
            and out["name"] == last["name"]
        ):
            last["text"] += out["text"]
        else:
            joined.append(out)
    return joined


def save(path: Path, server: Mapping[str, str] | None = None) -> None:
    """Execute the notebook at ``path`` and save it with its new outputs."""
    nb = run(path, server)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _joined_streams(cell.outputs)
    nbformat.validate(nb)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for name in sys.argv[1:] or [str(p) for p in NOTEBOOKS]:
        if Path(name).resolve() in REAL_NOTEBOOKS:
            sys.exit(f"{name}: PYTHONPATH=tests python tests/real/real_notebooks.py (llama.cpp)")
        print(f"executing {name}", flush=True)
        save(Path(name))
