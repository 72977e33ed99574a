"""``r1v4 batch`` and the images the server's tools generate: files beside the results, no
base64 in a line, and a bad image reported as a transcript issue."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

from PIL import Image

from cli.support import read_lines, write_cases
from r1v4.cli import main
from r1v4.testing import (
    LocalR1V4Server,
    Reply,
    answer,
    center_crop,
    make_image,
    observation,
    tool_call,
)


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.mode, image.size, image.tobytes()


def batch(server: LocalR1V4Server, cases: Path, out: Path) -> int:
    return main(["batch", str(cases), "-o", str(out), "--base-url", server.hosted_base_url])


def test_the_agents_crop_is_a_file_with_the_servers_pixels_and_the_line_has_no_base64(
    server: LocalR1V4Server, key_env: str, tmp_path: Path
) -> None:
    photo = make_image("PNG", (90, 60), (10, 120, 230))
    (tmp_path / "photo.png").write_bytes(photo)
    cases = write_cases(
        tmp_path / "cases.jsonl", [{"id": "crop", "image": "photo.png", "question": "What?"}]
    )
    out = tmp_path / "results" / "r.jsonl"
    # Nothing queued: the agent scenario answers, and its code round really crops the input.
    assert batch(server, cases, out) == 0

    line = out.read_text("utf-8")
    assert "base64," not in line and "iVBORw0KGgo" not in line  # no PNG as base64 anywhere
    (record,) = read_lines(out)
    (step,) = record["tool_trace"]
    assert step["name"] == "code"
    (entry,) = record["generated_images"]
    # The observation keeps the core's small reference to the image, which the entry carries.
    assert step["output"]["images"] == [{"type": "image", "id": entry["id"]}]
    saved = (out.parent / entry["path"]).read_bytes()
    assert pixels(saved) == pixels(center_crop(photo))
    assert entry == {
        "path": entry["path"],
        "id": "srvimg_0",
        "mime_type": "image/png",
        "size": len(saved),
        "width": 45,
        "height": 30,
        "tool_call_id": step["id"],
        "index": 0,
        "sha256": hashlib.sha256(saved).hexdigest(),
    }
    assert entry["path"].startswith("r.jsonl.images/") and entry["path"].endswith("/0.png")
    assert "[generated image omitted]" in record["raw_content"]
    assert record["transcript_issues"] == []


def test_a_truncated_image_is_a_transcript_issue_with_no_file(
    server: LocalR1V4Server, key_env: str, tmp_path: Path
) -> None:
    whole = make_image("PNG", (30, 20))
    torn = "data:image/png;base64," + base64.b64encode(whole[: len(whole) // 2]).decode()
    server.enqueue(
        Reply(
            content=tool_call("code", {"code": "crop()"})
            + observation({"result": "saved", "image": torn})
            + answer("Could not see it.")
        )
    )
    cases = write_cases(tmp_path / "cases.jsonl", [{"id": "torn", "question": "What?"}])
    out = tmp_path / "r.jsonl"
    assert batch(server, cases, out) == 0  # a bad image is no failure of the case
    (record,) = read_lines(out)
    assert record["status"] == "ok" and record["answer"] == "Could not see it."
    assert record["generated_images"] == []
    assert not (tmp_path / "r.jsonl.images").exists()
    (issue,) = record["transcript_issues"]
    assert issue["kind"] == "invalid_image" and "cannot be read" in issue["detail"]
    # The core keeps the text of an image it cannot read where it was.
    assert record["tool_trace"][0]["output"]["image"] == torn
