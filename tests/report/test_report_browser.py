"""The report in a real browser: headless Chromium loads it and the DOM is checked.

Marked ``browser``; Chromium comes from the Debian package (``apt-get install -y chromium``) and
its absence fails these tests. The screenshot is kept under ``tests/artifacts/`` (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from r1v4.cli import main
from report.support.cdp import Browser

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SECTIONS = [
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
]

CHECKS = """(() => {
  const cases = [...document.querySelectorAll('article.case')];
  return {
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    pwnedAttr: document.documentElement.getAttribute('data-pwned'),
    scripts: document.scripts.length,
    summary: !!document.querySelector('#summary[data-section=summary]'),
    cases: cases.map(c => ({
      id: c.dataset.caseId,
      sections: [...c.querySelectorAll(':scope > section[data-section]')].map(s => s.dataset.section),
      reasoningOpen: c.querySelector('details.reasoning').open,
      images: [...c.querySelectorAll('img')].map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
        step: i.closest('details.step')?.querySelector('.tool')?.textContent ?? null})),
      links: [...c.querySelectorAll('a')].map(a => a.href),
      text: c.innerText,
    })),
  };
})()"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(tmp_path / "chromium-profile")
    yield b
    b.close()


def test_report_renders_every_section_decodes_images_and_runs_no_script(
    run_files: list[Path], tmp_path: Path, browser: Browser
) -> None:
    report = tmp_path / "report.html"
    assert (
        main(["report", *map(str, run_files), "-o", str(report), "--title", "R1V4 batch report"])
        == 0
    )
    # Without the page's CSP too, so the escaping alone is what keeps every payload inert.
    no_csp = tmp_path / "report-no-csp.html"
    no_csp.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report.read_text())
    )
    assert "Content-Security-Policy" not in no_csp.read_text()

    for page in (report, no_csp):
        browser.load(page)
        state = browser.evaluate(CHECKS)
        assert state["pwned"] is None and state["pwnedAttr"] is None, page
        assert state["scripts"] == 0
        assert state["summary"]
        cases = {c["id"]: c for c in state["cases"]}
        assert len(cases) == 6
        for case in cases.values():
            assert case["sections"] == SECTIONS, case["id"]
            assert case["reasoningOpen"] is False  # reasoning is collapsed
            for image in case["images"]:
                assert image["complete"] and image["w"] > 0 and image["h"] > 0, (case["id"], image)
            assert all(link.startswith(("http://", "https://")) for link in case["links"])
        # The scenarios: agent (code), deep research (sources), planner (plan), input thumbnails.
        # The agent's code tool cropped the 64-px input: its crop is a generated image.
        assert "code" in cases["agent"]["text"]
        assert [(i["alt"], i["w"]) for i in cases["agent"]["images"]] == [
            ("input image 1", 64),
            ("generated image 1", 32),
        ]
        # ... shown inside the step of the code call that made it, at its own size.
        assert [(i["step"], i["w"], i["h"]) for i in cases["agent"]["images"]] == [
            (None, 64, 48),
            ("code", 32, 24),
        ]
        assert "https://example.com/search/1" in cases["deep-research"]["links"]
        assert "text_search" in cases["deep-research"]["text"]
        assert "PLAN (3 STEPS)" in cases["planner"]["text"].upper()  # headings are upper case
        hostile = next(c for i, c in cases.items() if i.startswith('"><img'))
        assert [(i["alt"], i["w"]) for i in hostile["images"]] == [
            ("input image 1", 80),
            ("generated image 1", 48),
        ]
        assert [i["step"] for i in hostile["images"]] == [None, "code"]
        assert "<script>window.__pwned='answer'" in hostile["text"]  # shown as text
        # Nothing was fetched but the page itself and its inline images.
        assert all(u.startswith(("file://", "data:")) for u in browser.requested_urls())

    browser.load(report)
    height = int(
        browser.evaluate(
            "document.querySelector('article.case:nth-of-type(2)').getBoundingClientRect().bottom"
        )
    )
    shot = browser.screenshot(ARTIFACTS / "report.png", full_height=min(height + 10, 2400))
    print(f"\nreport screenshot: {shot}")
    assert shot.stat().st_size > 10_000


def test_a_missing_chromium_fails_loudly_not_skips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from report.support.cdp import INSTALL, chromium_path

    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no chromium anywhere
    with pytest.raises(pytest.fail.Exception, match="absent") as info:
        chromium_path()
    assert INSTALL in str(info.value)
