"""A two-file run for the report tests: the local server's agent scenarios, and hostile text.

``scenario_run`` runs ``r1v4 batch`` against a server in the agent scenario with nothing queued
(its own general, deep-research and planner transcripts); ``hostile_run`` against replies whose
every field carries script payloads (questions, reasoning, tool arguments, observations, source
titles and URLs, answers, ids). A payload that runs sets ``window.__pwned`` and the
``data-pwned`` attribute of ``<html>``, so both JavaScript and the DOM show it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from r1v4.cli import main
from r1v4.testing import (
    LocalR1V4Server,
    RecordedRequest,
    Reply,
    answer,
    make_image,
    make_image_data_uri,
    observation,
    think,
    tool_call,
)

KEY = "test-key"
GENERATED = make_image_data_uri("PNG", (48, 32), (0, 160, 90))


def pwn(where: str) -> str:
    return f"window.__pwned='{where}';document.documentElement.dataset.pwned='{where}'"


def script(where: str) -> str:
    return f"<script>{pwn(where)}</script>"


def img(where: str) -> str:
    return f'<img src=x onerror="{pwn(where)}">'


BREAKOUT = '</pre></details></section><svg onload="{}">'


def write_cases(path: Path, cases: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), "utf-8")
    return path


def hostile_reply(request: RecordedRequest) -> Reply:
    body = request.body if isinstance(request.body, dict) else {}
    if body.get("enable_search"):
        content = (
            think("Search " + script("research-reasoning"))
            + f"<text_search>{img('query')}</text_search>\n"
            + observation(
                [
                    {
                        "title": script("source-title"),
                        "url": "javascript:" + pwn("href"),
                        "snippet": img("snippet"),
                    },
                    {"title": "A safe page", "url": "https://example.com/safe", "snippet": "fine"},
                ]
            )
            + answer("Found " + BREAKOUT.format(pwn("research-answer")))
        )
    else:
        content = (
            think("Thinking " + script("reasoning") + img("reasoning-img"))
            + tool_call("code", {"code": BREAKOUT.format(pwn("args")) + script("args")})
            + observation(
                {
                    "result": img("observation") + script("observation"),
                    "type": "code",
                    "image": GENERATED,
                }
            )
            + think("Done.")
            + answer(script("answer") + img("answer-img") + BREAKOUT.format(pwn("answer-svg")))
        )
    return Reply(content=content)


def scenario_run(server: LocalR1V4Server, root: Path) -> Path:
    """Results of the server's own agent, deep-research and planner scenarios."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "photo.png").write_bytes(make_image("PNG", (64, 48), (200, 40, 40)))
    cases = write_cases(
        root / "scenario_cases.jsonl",
        [
            {"id": "agent", "image": "photo.png", "question": "What is in the photo?"},
            {
                "id": "deep-research",
                "image": "photo.png",
                "question": "Where is this?",
                "enable_search": True,
            },
            {
                "id": "planner",
                "image": "photo.png",
                "question": "Plan it",
                "model": "skywork/r1v4-vl-planner-lite",
            },
        ],
    )
    out = root / "scenarios.jsonl"
    server.reset()
    assert main(["batch", str(cases), "-o", str(out), "--base-url", server.hosted_base_url]) == 0
    return out


def hostile_run(server: LocalR1V4Server, root: Path) -> Path:
    """Results whose every text field carries a payload, plus one failed case."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "photo.png").write_bytes(make_image("JPEG", (80, 60), (30, 60, 200)))
    cases = write_cases(
        root / "hostile_cases.jsonl",
        [
            {
                "id": '"><img src=x onerror="' + pwn("id") + '">',
                "image": "photo.png",
                "question": "Q " + script("question") + img("question-img"),
            },
            {
                "id": "research-" + script("id2"),
                "question": "R " + img("question2"),
                "enable_search": True,
            },
            {
                "id": "failing",
                "question": "F " + script("failing"),
                "image": "missing " + script("path") + ".png",
            },
        ],
    )
    out = root / "hostile.jsonl"
    server.reset()
    server.enqueue(*([hostile_reply] * 4))
    main(["batch", str(cases), "-o", str(out), "--base-url", server.hosted_base_url])
    return out
