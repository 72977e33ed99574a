"""Notebooks run as a reader runs them: in a Jupyter kernel, in a folder of their own.

The tests (tests/docs) execute every notebook and compare what it prints and shows with the
outputs it is saved with, after :func:`normalise` has taken out what differs from run to run
(ids, ports, times, temporary paths, memory addresses) and what differs between library
versions without meaning anything (the exact bytes of a PNG, warnings on stderr). To save new
outputs after changing a notebook or the library::

    make notebooks          # or: python tests/docs/executed.py docs/notebooks/x.ipynb ...

No notebook reaches the hosted API here: ``SKYWORK_*`` variables are removed from the kernel's
environment, so each notebook starts the local R1V4 server in its first cell.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted([*ROOT.glob("docs/notebooks/*.ipynb"), *ROOT.glob("docs/integrations/*.ipynb")])
KERNEL = "r1v4-docs"
CELL_TIMEOUT = 120

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
    volatile values replaced and Python warnings left out."""
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
        cells.append([cell.source, outputs])
    return cells


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


def kernel_env() -> dict[str, str]:
    """The kernel's environment: no key for the hosted API, and this interpreter's scripts
    (the ``r1v4`` command) first on PATH, as in a reader's activated environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYWORK_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's warning about frozen modules
    env.pop("COLUMNS", None)
    return env


def execute(nb: Any, workdir: Path, *, allow_errors: bool = False) -> Any:
    """Run every cell of ``nb`` (in place) in a fresh kernel whose working folder is
    ``workdir``; with ``allow_errors`` a failing cell does not stop the rest."""
    with _kernel() as manager:
        client = NotebookClient(
            nb,
            km=manager,
            timeout=CELL_TIMEOUT,
            kernel_name=KERNEL,
            allow_errors=allow_errors,
            record_timing=False,
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute(env=kernel_env(), cleanup_kc=True)
    return nb


def run(path: Path) -> Any:
    """The notebook at ``path``, executed afresh in a folder that is then removed."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="r1v4-notebook-") as workdir:
        execute(nb, Path(workdir))
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


def save(path: Path) -> None:
    """Execute the notebook at ``path`` and save it with its new outputs."""
    nb = run(path)
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
        print(f"executing {name}", flush=True)
        save(Path(name))
