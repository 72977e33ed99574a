"""Figure 13, run in its own process: what one run of R1V4's ``code`` tool costs, against the
bare start of bubblewrap.

Contenders, interleaved round by round (the order rotating; ratios to the bare start taken
within a round):

* ``bwrap … true``: the floor, bubblewrap alone: every namespace, ``/usr`` read-only, then
  ``/usr/bin/true``;
* ``sandbox: pass``: ``R1V4Tools.run`` of a ``code`` call that does nothing, with no image: the
  fixed cost of the whole tool path (working directory, the launcher's interpreter, its limits,
  reading back, the observation);
* ``sandbox: Pillow + numpy + PNG``: the run the issue measured (0.1-0.16 s on this kind of
  machine): with one 256x256 conversation image (preloaded, as by default), the code imports
  numpy, makes an array of the image, and saves a PNG, which comes back as the observation's
  image — what one round of a self-hosted reply costs the client between the model's call and
  the observation it sends;
* ``no sandbox: Pillow + numpy + PNG``: the same call with ``UnsandboxedExecutor``, so the
  sandbox's own share shows.

Each is timed in wall time; the runs also give their CPU time (the code's interpreter, as it
reports it, and the client's own), which a busy shared machine sways less.

The child runs without ``PYTHONDONTWRITEBYTECODE`` (as figure 6 does): building the sandbox then
writes Pillow's and numpy's missing bytecode once, as a first import would, and the runs read
it (the sandbox can write none).

``python -m benchmarks._sandbox --repeats 15`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._harness import bytecode_env, missing_row, run_child
from benchmarks._report import Row
from benchmarks._sizes import Sizes

# The last line reports the CPU time the code's interpreter used (its start and imports
# included), which a busy machine sways less than wall time; it costs an import of `resource`.
_CPU = "import resource\nu = resource.getrusage(resource.RUSAGE_SELF)\nprint(round((u.ru_utime + u.ru_stime) * 1e3, 1))"
CODE = (
    "from PIL import Image\n"
    "import numpy as np\n"
    "a = np.asarray(img)\n"
    "Image.fromarray(255 - a).save('inverted.png')\n" + _CPU
)
NAMES = {
    "floor": "bwrap … true (bare start)",
    "pass": "sandbox: pass (no image)",
    "sandboxed": "sandbox: Pillow + numpy + PNG",
    "unsandboxed": "no sandbox: Pillow + numpy + PNG",
}


def _image() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), "orange").save(buf, "PNG")
    return buf.getvalue()


def _bare(bwrap: str) -> list[str]:
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ("bin", "lib", "lib64"):
        if os.path.islink(f"/{name}"):
            argv += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
    return [*argv, "--", "/usr/bin/true"]


def _cpu() -> float:
    """CPU seconds of this process alone: the client's share of a run (the working directory,
    the images written and read back, the observation). The sandboxed interpreter's share is
    reported by the code itself: bubblewrap's init reaps it, so it never reaches this
    process's children times."""
    return time.process_time()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._sandbox")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    from r1v4.tools import (
        BubblewrapSandbox,
        R1V4Tools,
        SandboxUnavailableError,
        UnsandboxedExecutor,
    )

    try:
        started = time.perf_counter()
        sandbox = BubblewrapSandbox()
        build_s = time.perf_counter() - started
    except SandboxUnavailableError as exc:
        json.dump({"unavailable": str(exc)}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    image = _image()
    sandboxed = R1V4Tools(executor=sandbox)
    unsandboxed = R1V4Tools(executor=UnsandboxedExecutor())
    call = {"name": "code", "arguments": {"code": CODE}}
    nothing = {"name": "code", "arguments": {"code": _CPU}}
    bare = _bare(sandbox.bwrap)

    def check(result: Any, images: int = 1) -> float:
        """The interpreter's CPU ms the run reported, once it is checked."""
        if result.status != "ok" or [i.mime_type for i in result.images] != ["image/png"] * images:
            raise SystemExit(f"the run went wrong: {result.status} {result.observation[:500]}")
        return float(json.loads(result.observation)["result"].splitlines()[-1])

    def floor() -> None:
        subprocess.run(bare, check=True)

    contenders: dict[str, Callable[[], float | None]] = {
        "floor": floor,
        "pass": lambda: check(sandboxed.run(nothing), 0),
        "sandboxed": lambda: check(sandboxed.run(call, [image])),
        "unsandboxed": lambda: check(unsandboxed.run(call, [image])),
    }
    for fn in contenders.values():  # warm-up (and the checks)
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    inside: dict[str, list[float]] = {name: [] for name in contenders}
    client: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: dict[str, list[float]] = {name: [] for name in contenders}
    load_before = os.getloadavg()
    names = list(contenders)
    for round_ in range(args.repeats):
        took: dict[str, float] = {}
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            before = _cpu()
            start = time.perf_counter()
            reported = contenders[name]()
            took[name] = time.perf_counter() - start
            client[name].append(_cpu() - before)
            if reported is not None:
                inside[name].append(reported)
            times[name].append(took[name])
        for name in names:
            ratios[name].append(took[name] / took["floor"])
    out = {
        "repeats": args.repeats,
        "build_s": build_s,
        "time_ms": {n: statistics.median(v) * 1e3 for n, v in times.items()},
        "time_samples_ms": {n: [t * 1e3 for t in v] for n, v in times.items()},
        "interpreter_cpu_ms": {n: statistics.median(v) for n, v in inside.items() if v},
        "client_cpu_ms": {n: statistics.median(v) * 1e3 for n, v in client.items()},
        "x_floor": {n: statistics.median(v) for n, v in ratios.items()},
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "code": CODE,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


def _text(wall: float, interpreter: float | None, client: float) -> str:
    if interpreter is None:
        return f"{wall:.0f} ms"
    return f"{wall:.0f} ms (CPU: code {interpreter:.0f} ms, client {client:.0f} ms)"


def rows(s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = run_child(
        ["benchmarks._sandbox", "--repeats", str(s.sandbox_repeats)], 600, bytecode_env()
    )
    figure = "13 one code-tool run (sandbox start to observation)"
    if "unavailable" in raw:
        return [missing_row(figure, "BubblewrapSandbox", raw["unavailable"], "ms")], raw
    load = raw["load_average"]["before"][0]
    out = []
    for key, name in NAMES.items():
        value = raw["time_ms"][key]
        out.append(
            Row(
                figure,
                name,
                value,
                "ms",
                _text(value, raw["interpreter_cpu_ms"].get(key), raw["client_cpu_ms"][key]),
                x_floor=None if key == "floor" else raw["x_floor"][key],
            )
        )
    out[2].note = (
        f"the issue measured 100-160 ms for this run on this kind of machine; load average "
        f"{load:.1f} when these rounds began"
    )
    return out, raw


if __name__ == "__main__":
    sys.exit(main())
