"""Figure 5, run in its own process: a ~10 MB photo -> data URI, r1v4 against plain base64.

Where Pillow is installed r1v4 decodes every image to check it, so r1v4's time is judged
against the least a client that does so must do (read, Pillow's decode at 1/8 scale, base64),
with the plain floor (read, base64) beside it. Also measured: Pillow's decode of the photo
alone (in full and at 1/8 scale), and what passing the same data URI again costs (a history
image on every later turn of a conversation): with this process's registry of checked URIs,
and with the registry emptied before each pass. Peak memory is ``tracemalloc``'s, which does
not see Pillow's pixel buffers (its own allocator): 4 bytes a pixel at 1/8 scale. A process of its own so the memory figure is not blurred
by what the other figures left behind.

``python -m benchmarks._image --bytes 10000000 --repeats 7`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import functools
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import run_child
from benchmarks._report import Row, verdict
from benchmarks._sizes import Sizes

# r1v4 refuses images above 10 MiB by default; the photo stays under that.
_LIMIT = 10 * 1024 * 1024


def make_photo(path: Path, target: int) -> int:
    """Write a JPEG of about ``target`` bytes: random pixels, which JPEG cannot shrink, so the
    size follows the pixel count. Returns the size written."""
    from PIL import Image

    side = 64
    probe = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    probe.save(path, "JPEG", quality=92)
    per_pixel = path.stat().st_size / (side * side)
    scale = 0.97
    for _ in range(6):
        pixels = int(target * scale / per_pixel)
        width = int(pixels**0.5 * 4 / 3) or 1
        height = max(1, pixels // width)
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        image.save(path, "JPEG", quality=92)
        size = path.stat().st_size
        if 0.9 * target <= size <= min(1.05 * target, _LIMIT):
            return size
        scale *= target / size
    return path.stat().st_size


def floor(path: Path) -> bytes:
    """The floor named by the issue: read the file, base64 it."""
    with open(path, "rb") as f:
        return base64.b64encode(f.read())


def r1v4_uri(path: Path) -> str:
    import r1v4

    return r1v4.image_to_data_uri(path)


def decode(path: Path, *, draft: bool) -> None:
    """Pillow's strict decode of the photo; ``draft``: at 1/8 scale (every coefficient is still
    read, so truncation is still found, but the pixels are 1/64 as many)."""
    from PIL import Image

    with Image.open(path) as img:
        if draft:
            img.draft(img.mode, (1, 1))
        img.load()


def decode_floor(path: Path) -> bytes:
    """Read, base64 and decode: the least a client that decodes the image to check it does."""
    decode(path, draft=True)
    return floor(path)


def again(uri: str, repeats: int) -> dict[str, float]:
    """Median ms of ``image_to_data_uri`` on a data URI it returned before: the very string,
    an equal string built anew, and either with the registry emptied first (decoded and
    checked in full)."""
    import r1v4
    from r1v4._images._checked import CHECKED

    twin = "".join([uri[:100], uri[100:]])
    cases: dict[str, Callable[[], Any]] = {
        "same str": lambda: r1v4.image_to_data_uri(uri),
        "equal str": lambda: r1v4.image_to_data_uri(twin),
        "registry emptied": lambda: (CHECKED.clear(), r1v4.image_to_data_uri(uri)),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            r1v4.image_to_data_uri(uri)  # registered again, as the previous turn left it
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) * 1e3 for name, v in times.items()}


def peak_extra(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated above the baseline while ``fn`` runs, its result included."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak - base


def measure(contenders: dict[str, Callable[[], Any]], repeats: int) -> dict[str, Any]:
    """Time (interleaved rounds, the order alternating; the r1v4/floor ratio taken within each
    round, and r1v4's ratio to every other contender too) and peak extra memory of a
    ``"floor"``, an ``"r1v4"`` and any other contenders."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: list[float] = []
    ratios_to: dict[str, list[float]] = {name: [] for name in contenders if name != "r1v4"}
    for round_ in range(repeats):
        order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
        took: dict[str, float] = {}
        for name in order:
            gc.collect()
            start = time.perf_counter()
            result = contenders[name]()
            took[name] = time.perf_counter() - start
            del result
            times[name].append(took[name])
        ratios.append(took["r1v4"] / took["floor"])
        for name, r in ratios_to.items():
            r.append(took["r1v4"] / took[name])
    return {
        "repeats": repeats,
        "time_ms": {name: statistics.median(v) * 1e3 for name, v in times.items()},
        "time_samples_ms": {name: [t * 1e3 for t in v] for name, v in times.items()},
        "time_ratio": statistics.median(ratios),
        "time_ratio_to": {name: statistics.median(v) for name, v in ratios_to.items()},
        "peak_extra_bytes": {name: peak_extra(fn) for name, fn in contenders.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._image")
    parser.add_argument("--bytes", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    import r1v4  # noqa: F401  (import cost is figure 6's, not this one's)

    with tempfile.TemporaryDirectory(prefix="r1v4-bench-") as tmp:
        path = Path(tmp) / "photo.jpg"
        size = make_photo(path, args.bytes)
        expected = "data:image/jpeg;base64," + floor(path).decode()
        if r1v4_uri(path) != expected:  # also warms the page cache for both
            raise SystemExit("r1v4.image_to_data_uri gave a different data URI than base64")
        out: dict[str, Any] = {"file_bytes": size}
        contenders = {
            "floor": lambda: floor(path),
            "r1v4": lambda: r1v4_uri(path),
            "decode floor": lambda: decode_floor(path),
        }
        out.update(measure(contenders, args.repeats))
        out["pillow_decode_ms"] = {
            name: statistics.median(
                _timed(functools.partial(decode, path, draft=d)) for _ in range(5)
            )
            * 1e3
            for name, d in (("full", False), ("draft 1/8", True))
        }
        out["again_ms"] = again(r1v4_uri(path), args.repeats)  # the str the registry holds
    memory = out["peak_extra_bytes"]
    out["peak_extra_x_file"] = {name: v / size for name, v in memory.items()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_and_memory_rows(
    figure: str,
    names: tuple[str, str],
    t: dict[str, float],
    time_ratio: float,
    time_target: float,
    m: dict[str, float],
    x: dict[str, float],
    per: tuple[str, float],
) -> list[Row]:
    """The four rows of an image figure: time and peak extra memory, floor beside r1v4, with
    the time target as a ratio to the floor and the memory target as a multiple of ``per[0]``."""
    floor_name, ours = names
    what, memory_target = per
    return [
        Row(f"{figure}: time", floor_name, t["floor"], "ms", f"{t['floor']:.1f} ms"),
        Row(
            f"{figure}: time",
            ours,
            t["r1v4"],
            "ms",
            f"{t['r1v4']:.1f} ms",
            x_floor=time_ratio,
            target=f"≤ {time_target:g}× floor",
            status=verdict(time_ratio <= time_target),
        ),
        Row(
            f"{figure}: peak extra memory",
            floor_name,
            m["floor"] / 1e6,
            "MB",
            f"{m['floor'] / 1e6:.1f} MB ({x['floor']:.2f}× {what})",
        ),
        Row(
            f"{figure}: peak extra memory",
            ours,
            m["r1v4"] / 1e6,
            "MB",
            f"{m['r1v4'] / 1e6:.1f} MB ({x['r1v4']:.2f}× {what})",
            x_floor=m["r1v4"] / m["floor"],
            target=f"≤ {memory_target:g}× {what}",
            status=verdict(x["r1v4"] <= memory_target),
        ),
    ]


def rows(s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = run_child(
        ["benchmarks._image", "--bytes", str(s.image_bytes), "--repeats", str(s.image_repeats)],
        timeout=300,
    )
    mb = raw["file_bytes"] / 1e6
    figure = f"5 image {mb:.1f} MB"
    # Where Pillow is installed r1v4 decodes every image to check it, so its yardstick is the
    # least a client doing that does: read, decode (at 1/8 scale, as r1v4), base64. The plain
    # floor is kept beside it, with r1v4's ratio to it.
    plain = raw["time_ms"]["floor"]
    rows = [
        Row(
            f"{figure}: time",
            "floor: base64.b64encode(read())",
            plain,
            "ms",
            f"{plain:.1f} ms (r1v4 {raw['time_ratio']:.2f}× this)",
        )
    ]
    pick = {"floor": "decode floor", "r1v4": "r1v4"}
    rows += time_and_memory_rows(
        figure,
        ("floor: read + Pillow decode (1/8) + b64encode", "r1v4.image_to_data_uri(path)"),
        {k: raw["time_ms"][v] for k, v in pick.items()},
        raw["time_ratio_to"]["decode floor"],
        1.3,
        {k: raw["peak_extra_bytes"][v] for k, v in pick.items()},
        {k: raw["peak_extra_x_file"][v] for k, v in pick.items()},
        ("file", 2.5),
    )
    for name, ms in raw["again_ms"].items():
        rows.append(Row(f"5b the same {mb:.1f} MB data URI again", name, ms, "ms", f"{ms:.3f} ms"))
    return rows, raw


if __name__ == "__main__":
    sys.exit(main())
