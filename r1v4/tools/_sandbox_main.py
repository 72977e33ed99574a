"""The program that runs the model's code: limits first, then the images, then the code.

It is run as ``python -I -S -B -u -X utf8 -c <this source>`` in the code's working directory
(inside the sandbox, for :class:`~r1v4.tools.BubblewrapSandbox`) and reads its job on
standard input (:func:`~r1v4.tools.launcher_input`, a ``marshal`` dict, since ``json`` would
cost this program more than all the rest of its start): ``code``, ``images`` (file names),
``preload``, ``path`` (directories put first on ``sys.path``) and ``limits`` (resource names
without ``RLIMIT_`` -> values; ``None`` leaves one alone). Standard input is then empty for the
code. It imports nothing outside the standard library until the code (or the preload) does.

The code runs as a notebook cell does: as ``__main__``, its last line's value displayed when it
is an expression (its ``repr`` printed; a Pillow image is also saved as ``output_<n>.png``, so
``img.crop(box)`` alone gives the crop back as an image). An exception prints its traceback,
from the code's own frames (``File "<code>"``), and the exit status is 1.

Python 3.10+ and the standard library only: it runs on whatever interpreter the sandbox has.
Its own start is a good part of every run, so it imports what the interpreter has loaded anyway
and ``_ast`` (not ``ast``, which brings ``enum`` and ``contextlib``); ``traceback`` and
``linecache`` only when the code raised.
"""

from __future__ import annotations

import _ast
import builtins
import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_FILENAME = "<code>"


def _limit(limits: dict[str, int | None]) -> None:
    try:
        import resource
    except ImportError:  # not a POSIX system: no limits to set here
        return
    for name, value in limits.items():
        if value is None:
            continue
        which = getattr(resource, f"RLIMIT_{name}", None)
        if which is None:
            continue
        # CPU: SIGXCPU at the soft limit, SIGKILL a second later should the code catch it.
        soft, hard = value, value + 1 if name == "CPU" else value
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:  # never above what this process may set
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (soft, hard))


def _preload(names: list[str], namespace: dict[str, Any]) -> None:
    try:
        from PIL import Image

        opened = [Image.open(name) for name in names]
    except Exception as exc:  # the code can still open the files itself
        print(f"(the images could not be preloaded: {type(exc).__name__}: {exc})", file=sys.stderr)
        return
    namespace["images"] = opened
    namespace["img"] = opened[0]


def _display(value: Any) -> None:
    if value is None:
        return
    if type(value).__module__.startswith("PIL.") and hasattr(value, "save"):
        n = 0
        while os.path.exists(f"output_{n}.png"):
            n += 1
        value.save(f"output_{n}.png")
    print(repr(value))


def _report(code: str, exc: BaseException, skip_frame: bool) -> None:
    """Print the traceback of ``exc`` with the code's lines in it."""
    import linecache
    import traceback

    linecache.cache[_FILENAME] = (len(code), None, code.splitlines(True), _FILENAME)
    tb = exc.__traceback__
    if skip_frame and tb is not None:
        tb = tb.tb_next  # this program's own frame says nothing to the model
    traceback.print_exception(type(exc), exc, tb)


def _run(code: str, namespace: dict[str, Any]) -> int:
    try:
        tree = compile(code, _FILENAME, "exec", _ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError) as exc:
        _report(code, exc, skip_frame=False)
        return 1
    assert isinstance(tree, _ast.Module)
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = _ast.Expression(tree.body[-1].value)
        del tree.body[-1]
    try:
        exec(compile(tree, _FILENAME, "exec"), namespace)
        if last is not None:
            _display(eval(compile(last, _FILENAME, "eval"), namespace))
    except SystemExit:
        raise
    except BaseException as exc:
        _report(code, exc, skip_frame=True)
        return 1
    return 0


def main() -> int:
    job = marshal.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for entry in reversed(job["path"]):
        sys.path.insert(0, entry)
    _limit(job["limits"])
    names: list[str] = job["images"]
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    namespace["image_paths"] = list(names)
    if names and job["preload"]:
        _preload(names, namespace)
    try:
        return _run(job["code"], namespace)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
