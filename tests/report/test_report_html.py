"""``r1v4 report`` and ``render_html``: every part shown, everything escaped, nothing fetched."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from report_helpers import KEY, hostile_reply

from r1v4 import R1V4Client
from r1v4.cli import main
from r1v4.report import load_run, render_html, render_report
from r1v4.testing import LocalR1V4Server

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
