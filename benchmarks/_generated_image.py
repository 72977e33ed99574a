"""Figure 10, run in its own process: a ~5 MB image the server generated, inside a stream.

The transcript a thinking-with-images reply streams (think, code call, an observation whose JSON
holds the image as a PNG data URI, answer) is fed to :class:`r1v4.TranscriptParser` in 16 KiB
content deltas, and the image's bytes are read (``GeneratedImage.data``). The floor is what any
client must do at least: ``base64.b64decode`` of the image's base64 text, already in memory.
Time and peak extra memory (tracemalloc, the result included) are compared.

``python -m benchmarks._generated_image --bytes 5000000 --repeats 7`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
from typing import Any

from benchmarks._harness import run_child
from benchmarks._image import measure, time_and_memory_rows
from benchmarks._report import Row
from benchmarks._sizes import Sizes

_DELTA = 16 * 1024


def make_png(target: int) -> bytes:
    """A PNG of about ``target`` bytes: random pixels, which PNG cannot shrink."""
    from PIL import Image

    side = max(1, int((target / 3) ** 0.5))
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def transcript(b64: str) -> str:
    from r1v4.testing import answer, think, tool_call

    body = json.dumps(
        {"result": "Saved the zoomed region.", "images": [f"data:image/png;base64,{b64}"]}
    )
    return (
        think("The sign is small; I will zoom in.")
        + tool_call("code", {"code": "img.crop(box).resize(size).save('zoom.png')"})
        + f"<observation>{body}</observation>"
        + answer("The sign says OPEN.")
    )


def parse(text: str) -> bytes:
    """What a client does: stream the transcript through the parser, then read the image."""
    from r1v4 import GeneratedImage, TranscriptParser

    parser = TranscriptParser()
    images: list[GeneratedImage] = []
    for i in range(0, len(text), _DELTA):
        images.extend(e for e in parser.feed(text[i : i + _DELTA]) if isinstance(e, GeneratedImage))
    images.extend(e for e in parser.close() if isinstance(e, GeneratedImage))
    [image] = images
    return image.data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._generated_image")
    parser.add_argument("--bytes", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    import r1v4  # noqa: F401  (import cost is figure 6's, not this one's)

    data = make_png(args.bytes)
    b64 = base64.b64encode(data).decode("ascii")
    text = transcript(b64)
    if parse(text) != data or base64.b64decode(b64) != data:  # also warms both paths
        raise SystemExit("the parser gave other bytes than base64 did")
    out: dict[str, Any] = {
        "image_bytes": len(data),
        "transcript_chars": len(text),
        "delta_chars": _DELTA,
    }
    out.update(
        measure({"floor": lambda: base64.b64decode(b64), "r1v4": lambda: parse(text)}, args.repeats)
    )
    memory = out["peak_extra_bytes"]
    out["peak_extra_x_image"] = {name: v / len(data) for name, v in memory.items()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


def rows(s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = run_child(
        [
            "benchmarks._generated_image",
            "--bytes",
            str(s.generated_bytes),
            "--repeats",
            str(s.image_repeats),
        ],
        timeout=300,
    )
    mb = raw["image_bytes"] / 1e6
    figure = f"10 generated image {mb:.1f} MB in a stream"
    # Linear work has bounded ratios; buffering that grows with the square of the size would
    # blow through both targets at 5 MB.
    rows = time_and_memory_rows(
        figure,
        ("floor: base64.b64decode(b64)", "TranscriptParser + image.data"),
        raw["time_ms"],
        raw["time_ratio"],
        5,
        raw["peak_extra_bytes"],
        raw["peak_extra_x_image"],
        ("image", 8),
    )
    return rows, raw


if __name__ == "__main__":
    sys.exit(main())
