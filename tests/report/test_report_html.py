"""``r1v4 report`` and ``render_html``: every part shown, everything escaped, nothing fetched."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from r1v4 import R1V4Client
from r1v4.cli import main
from r1v4.report import ReportError, load_run, render_html, render_report
from r1v4.testing import LocalR1V4Server
from report.support.runs import KEY, hostile_reply

SECTIONS = {
    "inputs",
    "question",
    "reasoning",
    "tools",
    "generated",
    "sources",
    "plan",
    "answer",
    "usage",
    "error",
}


class Page(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def assert_inert(page: Page) -> None:
    """No script, no event handler, no link but http(s), nothing to load but data: images."""
    assert page.all("script") == []
    handlers = [(t, a) for t, attrs in page.tags for a in attrs if a.lower().startswith("on")]
    assert handlers == []
    assert {t for t, _ in page.tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "h1",
        "h2",
        "h3",
        "p",
        "main",
        "section",
        "div",
        "b",
        "span",
        "code",
        "br",
        "article",
        "figure",
        "img",
        "figcaption",
        "details",
        "summary",
        "pre",
        "ol",
        "li",
        "a",
        "table",
        "tr",
        "td",
    }
    for attrs in page.all("a"):
        assert re.match(r"https?://", attrs["href"] or ""), attrs
    for attrs in page.all("img"):
        assert (attrs["src"] or "").startswith(
            ("data:image/png;base64,", "data:image/jpeg;base64,")
        )


def test_report_of_two_files_shows_every_case_and_section_escaped(
    run_files: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    assert main(["report", *map(str, run_files), "-o", str(out)]) == 0
    html = out.read_text("utf-8")
    page = Page(html)
    assert_inert(page)
    text = "".join(page.text)
    # The payloads are shown, as text.
    for payload in (
        "<script>window.__pwned='question'",
        "onerror=\\\"window.__pwned='observation'",
        "<script>window.__pwned='answer'",
        "window.__pwned='reasoning'",
        "<script>window.__pwned='source-title'",
        "javascript:window.__pwned='href'",
    ):
        assert payload in text, payload
    articles = page.all("article")
    assert [a["data-case-id"] for a in articles][:3] == ["agent", "deep-research", "planner"]
    assert len(articles) == 6
    assert (
        articles[3]["data-case-id"]
        == '"><img src=x onerror="'
        + "window.__pwned='id';document.documentElement.dataset.pwned='id'"
        + '">'
    )
    sections = [a["data-section"] for a in page.all("section") if a.get("data-section")]
    assert sections.count("summary") == 1
    for name in SECTIONS:
        assert sections.count(name) == 6, name
    assert "content=\"default-src 'none'; img-src data:" in html  # the CSP, behind the escaping
    # Input thumbnails for the cases with a readable image; generated images: the agent's crop of
    # its input and the hostile case's.
    alts = [a["alt"] for a in page.all("img")]
    assert alts.count("input image 1") == 4 and alts.count("generated image 1") == 2
    assert "not readable" in text  # the failing case's missing image says why
    assert "ImageError" in text
    hrefs = [a["href"] for a in page.all("a")]
    assert "https://example.com/safe" in hrefs and "https://example.com/search/1" in hrefs


def test_summary_has_the_vendor_statistics_and_shards_read_as_one_run(
    run_files: list[Path],
) -> None:
    records, meta = load_run([*run_files, run_files[0]])  # a file given twice adds nothing
    assert len(records) == 6 and meta["lines"] == 9
    page = Page(render_report(run_files))
    summary_text = " ".join(t.strip() for t in page.text if t.strip())
    assert (
        "6 cases" in summary_text and "5 succeeded" in summary_text and "1 failed" in summary_text
    )
    assert "ImageError × 1" in summary_text
    tools = re.findall(r"(\w+) × (\d+)", summary_text)
    assert (
        ("code", "2") in tools and ("text_search", "2") in tools and ("web_content", "1") in tools
    )
    total = sum((r.get("usage") or {}).get("total_tokens", 0) for r in records)
    assert total > 0 and f"{total:,} tokens" in summary_text


def test_render_html_of_one_reply_for_notebooks() -> None:
    with (
        LocalR1V4Server(api_key=KEY) as server,
        R1V4Client(api_key=KEY, base_url=server.hosted_base_url) as client,
    ):
        server.enqueue(hostile_reply)
        reply = client.create(
            model="skywork/r1v4-lite", messages=[{"role": "user", "content": "hi"}]
        )
    html = render_html(reply, question="What <b>is</b> it?")
    page = Page(html)
    assert_inert(page)
    text = "".join(page.text)
    assert "What <b>is</b> it?" in text
    assert "<script>window.__pwned='answer'" in text
    assert [a["alt"] for a in page.all("img")] == ["generated image 1"]
    assert [a["data-section"] for a in page.all("section") if a.get("data-section") == "tools"] == [
        "tools"
    ]


def test_report_reads_the_vendor_scripts_results_too(tmp_path: Path) -> None:
    # batch_stream.py's lines: {"image", "question", "response": {"full_response", "raw_events"}}
    # or {"response": {"error"}}; their transcripts go through the core's parser.
    from r1v4.testing import general_transcript, make_image

    (tmp_path / "demo_image").mkdir()
    (tmp_path / "demo_image" / "demo_1.png").write_bytes(make_image("PNG", (30, 20)))
    lines = [
        {
            "image": "./demo_image/demo_1.png",
            "question": "Colour?",
            "response": {
                "full_response": general_transcript("Colour?", "Red.", rounds=2),
                "raw_events": "data: ...",
            },
        },
        {
            "image": "",
            "question": "Who?",
            "response": {"error": "请求失败: 500, <script>x</script>"},
        },
    ]
    path = tmp_path / "result_stream.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    records, _ = load_run([path])
    assert [r["stats"] for r in records] == [
        {"rounds": 2, "tools_used": ["code", "code"], "has_final_answer": True},
        {"rounds": 0, "tools_used": [], "has_final_answer": False},
    ]
    assert records[0]["answer"] == "Red." and "crop" in records[0]["reasoning"]
    page = Page(render_report([path]))
    assert_inert(page)
    text = " ".join(page.text)
    assert "1 failed" in text and "code × 2" in text and "<script>x</script>" in text
    assert [a["alt"] for a in page.all("img")] == ["input image 1"]


def test_wrong_typed_error_stats_usage_and_timings_are_shown_as_absent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[dict[str, Any]] = [
        {"id": "str-error", "status": "failed", "error": "boom <b>bold</b>"},
        {"id": "list-stats", "status": "ok", "stats": [1], "usage": "lots", "timings": 3},
        {"id": "list-error", "status": "failed", "error": ["a"], "stats": "x", "usage": [1]},
        {"id": "ok", "status": "ok", "stats": {"rounds": 2, "tools_used": ["code", "code"]}},
    ]
    path = tmp_path / "hand-written.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    out = tmp_path / "report.html"
    assert main(["report", str(path), "-o", str(out)]) == 0
    assert "4 case(s), 2 failed" in capsys.readouterr().err
    page = Page(out.read_text("utf-8"))
    assert_inert(page)
    text = " ".join(t.strip() for t in page.text if t.strip())
    assert "4 cases" in text and "2 succeeded" in text and "2 failed" in text
    assert "unknown × 2" in text and "code × 2" in text and "2 tool rounds" in text
    assert "boom <b>bold</b>" in text  # a string error is its message, escaped
    assert [a["data-case-id"] for a in page.all("article")] == [r["id"] for r in lines]


@pytest.mark.parametrize(
    "bad",
    [
        {"tool_trace": [1]},
        {"sources": ["https://example.com"]},
        {"plan": [[1, 2]]},
        {"generated_images": ["x.png"]},
        {"images": [3]},
        {"transcript_issues": ["torn"]},
        {"stats": {"rounds": "many"}},
        {"stats": {"tools_used": 5}},
    ],
    ids=lambda bad: next(iter(bad)),
)
def test_any_other_unreadable_record_is_a_clear_error_naming_its_line(
    bad: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.jsonl"
    good = json.dumps({"id": "fine", "status": "ok"})
    path.write_text(f"{good}\n\n{json.dumps({'id': 'odd', 'status': 'ok', **bad})}\n", "utf-8")
    out = tmp_path / "report.html"
    assert main(["report", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    field = next(iter(bad))
    assert err.startswith(f"r1v4 report: error: {path}:3: ")
    assert field in err and "Traceback" not in err
    assert not out.exists()
    with pytest.raises(ReportError, match=f"^{re.escape(str(path))}:3: .*{field}"):
        render_report([path])


def test_images_are_embedded_only_as_the_core_accepts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import sys

    from r1v4 import bytes_to_data_uri
    from r1v4.testing import answer, make_image, observation, tool_call

    whole = make_image("PNG", (20, 10))
    torn = whole[: len(whole) // 2]  # a PNG signature, no end: the core refuses it
    # In a vendor result file, so the core's parser reads the transcript: the torn image is a
    # transcript issue (its text kept), the whole one an image of the second call.
    transcript = (
        tool_call("code", {"code": "a"})
        + observation({"image": "data:image/png;base64," + base64.b64encode(torn).decode()})
        + tool_call("code", {"code": "b"})
        + observation("saved: data:image/png;base64," + base64.b64encode(whole).decode())
        + answer("done")
    )
    vendor = tmp_path / "vendor.jsonl"
    line = {"image": "", "question": "q", "response": {"full_response": transcript}}
    vendor.write_text(json.dumps(line) + "\n", "utf-8")
    ((record, *_), _) = load_run([vendor])
    (found,) = record["generated_images"]
    assert (found["tool_call_id"], found["data_uri"]) == ("srvtool_1", bytes_to_data_uri(whole))
    assert [i["kind"] for i in record["transcript_issues"]] == ["invalid_image"]
    page = Page(render_report([vendor]))
    text = " ".join(page.text)
    assert "invalid_image: an image in the tool trace that cannot be read" in text
    assert "Transcript issues:" in text and "invalid_image × 1" in text
    assert [a["alt"] for a in page.all("img")] == ["generated image 1"]

    # Without Pillow, images are embedded as they are: a torn one is not embedded.
    (tmp_path / "whole.png").write_bytes(whole)
    (tmp_path / "torn.png").write_bytes(torn)
    monkeypatch.setitem(sys.modules, "PIL", None)
    page = Page(
        render_html(
            {"id": "x", "status": "ok"},
            images=[str(tmp_path / "whole.png"), str(tmp_path / "torn.png")],
        )
    )
    assert [a["src"] for a in page.all("img")] == [bytes_to_data_uri(whole)]
    assert "torn.png — cannot be decoded (image bytes: truncated or corrupt PNG" in " ".join(
        page.text
    )


def step_images(html: str) -> list[tuple[str, list[dict[str, str | None]]]]:
    """Each server tool call's name with the images shown inside its step."""
    steps = re.findall(r'<details class="step".*?</details>', html, re.S)
    return [
        (re.search(r'<span class="tool">(.*?)</span>', step, re.S).group(1), Page(step).all("img"))  # type: ignore[union-attr]
        for step in steps
    ]


def decoded(src: str | None) -> tuple[str, tuple[int, int], bytes]:
    import base64
    import io

    from PIL import Image

    assert src is not None and src.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(src.partition(",")[2]))) as image:
        return image.mode, image.size, image.tobytes()


def test_the_agents_crop_is_shown_beside_its_code_call_from_the_saved_file(
    run_files: list[Path], tmp_path: Path
) -> None:
    from r1v4.testing import center_crop

    (record,) = [r for r in load_run(run_files[:1])[0] if r["id"] == "agent"]
    (entry,) = record["generated_images"]
    saved = run_files[0].parent / entry["path"]
    photo = (run_files[0].parent / "photo.png").read_bytes()
    html = render_report(run_files[:1])
    (article,) = re.findall(r'<article[^>]*data-case-id="agent".*?</article>', html, re.S)
    ((tool, (img,)),) = step_images(article)
    assert tool == "code" and img["alt"] == "generated image 1"
    # Embedded from the saved file, pixel for pixel the server's crop of the input.
    assert decoded(img["src"]) == decoded("data:image/png;base64," + b64(saved.read_bytes()))
    assert decoded(img["src"]) == decoded("data:image/png;base64," + b64(center_crop(photo)))
    text = "".join(Page(article).text)
    assert '"id": "srvimg_0"' in text  # the observation's reference, as text
    assert "(image/png, 32×24 px" in text
    # The file is what is shown: without it, the report says so.
    moved = tmp_path / "moved.png"
    saved.rename(moved)
    try:
        text = " ".join(Page(render_report(run_files[:1])).text)
        assert re.search(re.escape(entry["path"]) + r" \([^)]*\) — not readable", text)
    finally:
        moved.rename(saved)


def b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_records_of_the_stop_gap_version_still_show_their_images(tmp_path: Path) -> None:
    # Before the core's image events, a record kept each image inline in its observation and
    # listed the saved file with "bytes" and "sha256".
    from r1v4.testing import make_image

    crop = make_image("PNG", (12, 8), (250, 200, 0))
    (tmp_path / "r.jsonl.images" / "old-0123456789").mkdir(parents=True)
    (tmp_path / "r.jsonl.images" / "old-0123456789" / "0.png").write_bytes(crop)
    record = {
        "format": "r1v4.batch/1",
        "id": "old",
        "status": "ok",
        "question": "What?",
        "tool_trace": [
            {
                "id": "srvtool_0",
                "name": "code",
                "tag": "tool_call",
                "args": {"code": "crop()"},
                "output": {"result": "Saved", "image": "data:image/png;base64," + b64(crop)},
                "sources": [],
            }
        ],
        "generated_images": [
            {
                "path": "r.jsonl.images/old-0123456789/0.png",
                "mime_type": "image/png",
                "bytes": len(crop),
                "sha256": "0" * 64,
                "tool_call_id": "srvtool_0",
            }
        ],
        "answer": "Yellow.",
    }
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record) + "\n", "utf-8")
    html = render_report([path])
    assert_inert(Page(html))
    ((tool, (img,)),) = step_images(html)
    assert tool == "code" and decoded(img["src"]) == decoded("data:image/png;base64," + b64(crop))
    text = " ".join(Page(html).text)
    assert f"[image data, {len('data:image/png;base64,' + b64(crop))} chars]" in text
    assert b64(crop) not in text.replace(" ", "")  # the inline copy is not shown as text
    assert f"{len(crop):,} bytes" in text


def test_a_vendor_results_crop_is_read_by_the_cores_parser_and_shown_beside_its_call(
    tmp_path: Path,
) -> None:
    from r1v4.testing import center_crop, data_uri, general_transcript, make_image

    crops = [center_crop(make_image("PNG", (40, 40), (9, 9, 9 * n))) for n in (1, 2)]
    transcript = general_transcript("Q?", "A.", rounds=3, crops=[data_uri(c) for c in crops])
    line = {"image": "", "question": "Q?", "response": {"full_response": transcript}}
    path = tmp_path / "result_stream.jsonl"
    path.write_text(json.dumps(line) + "\n", "utf-8")
    ((record,), _) = load_run([path])
    assert [(i["id"], i["tool_call_id"]) for i in record["generated_images"]] == [
        ("srvimg_0", "srvtool_0"),
        ("srvimg_1", "srvtool_1"),
    ]
    assert "base64," not in json.dumps(record["tool_trace"])
    html = render_report([path])
    steps = step_images(html)
    assert [(tool, [i["alt"] for i in imgs]) for tool, imgs in steps] == [
        ("code", ["generated image 1"]),
        ("code", ["generated image 2"]),
        ("code", []),
    ]
    for (_, (img,)), crop in zip(steps, crops, strict=False):
        assert decoded(img["src"]) == decoded("data:image/png;base64," + b64(crop))
    assert "2 shown above, beside the tool call that generated each" in " ".join(Page(html).text)


def test_an_image_of_no_tool_call_is_shown_in_the_generated_section(tmp_path: Path) -> None:
    from r1v4.testing import answer, make_image_data_uri, observation

    # An observation that answers no call: its image has no tool_call_id.
    transcript = observation({"image": make_image_data_uri("PNG", (6, 4))}) + answer("A.")
    line = {"image": "", "question": "Q?", "response": {"full_response": transcript}}
    path = tmp_path / "result_stream.jsonl"
    path.write_text(json.dumps(line) + "\n", "utf-8")
    ((record,), _) = load_run([path])
    assert [i["tool_call_id"] for i in record["generated_images"]] == [None]
    html = render_report([path])
    assert step_images(html) == []
    (generated,) = re.findall(r'<section class="generated".*?</section>', html, re.S)
    assert [a["alt"] for a in Page(generated).all("img")] == ["generated image 1"]
    assert "shown above" not in generated
