"""Helpers of the batch tests: cases files, results lines, the console script, and faults.

``Faults`` replies per case: a marker in the question picks a fault.

``[5xx]`` always HTTP 500, ``[5xx-once]`` 503 on the first attempt, ``[reset]`` always a TCP reset
right after the headers, ``[reset-once]`` a reset on the first attempt only; everything else gets
the transcript its request asks for (planner, deep research, or general with a generated image).
``healed = True`` ends the permanent faults (for ``--retry-failed``). ``hold`` picks questions
whose request the server holds (no byte of a reply for longer than any test runs, until the
client goes away), so a test can stop a batch while exactly those cases are in flight; ``held``
counts the requests being held, ``hold = None`` ends it.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from r1v4.testing import (
    LocalR1V4Server,
    RecordedRequest,
    Reply,
    answer,
    deep_research_transcript,
    make_image_data_uri,
    observation,
    planner_transcript,
    think,
    tool_call,
)

KEY = "sk-r1v4-batch-test-NEVER-WRITTEN-7f3a9c"
HELD_FOR = 600.0  # seconds: past the test timeout, so a held case ends only when its client leaves
GENERATED = make_image_data_uri("PNG", (24, 16), (0, 128, 255))


def general_with_image(question: str) -> str:
    """A general-mode transcript whose code observation carries the image the code produced."""
    return (
        think(f"The question is: {question} I will crop the region with code.")
        + tool_call("code", {"code": "img.crop((0, 0, 24, 16)).save('crop.png')"})
        + observation({"result": "Saved crop.png", "type": "code", "image": GENERATED})
        + think("The crop shows what I need.")
        + answer(f"The answer to: {question}")
    )


def transcript_for(request: RecordedRequest) -> str:
    body = request.body if isinstance(request.body, dict) else {}
    question = request.last_user_text
    if "planner" in str(body.get("model", "")):
        return planner_transcript(question)
    if body.get("enable_search"):
        return deep_research_transcript(question, f"Researched: {question}", image=None)
    return general_with_image(question)


class Faults:
    def __init__(self, chunk_delay: float = 0.0, hold: Callable[[str], bool] | None = None) -> None:
        self.chunk_delay = chunk_delay
        self.hold = hold
        self.held = 0
        self.healed = False
        self.attempts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        question = request.last_user_text
        with self._lock:
            self.attempts[question] += 1
            first = self.attempts[question] == 1
            if self.hold is not None and self.hold(question):
                self.held += 1
                return Reply(content=transcript_for(request), first_byte_delay=HELD_FOR)
        if "[5xx]" in question and not self.healed:
            return Reply(status=500)
        if "[5xx-once]" in question and first:
            return Reply(status=503)
        if ("[reset]" in question and not self.healed) or ("[reset-once]" in question and first):
            return Reply(content="x", drop_after=0, drop_mode="reset")
        return Reply(content=transcript_for(request), chunk_delay=self.chunk_delay)

    def install(self, server: LocalR1V4Server, requests: int = 2000) -> Faults:
        # The server takes one queued entry per request; a factory serves one request.
        server.enqueue(*([self] * requests))
        return self


def write_cases(path: Path, cases: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), "utf-8")
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a results file, each of which must be whole JSON."""
    text = path.read_text("utf-8")
    assert text == "" or text.endswith("\n"), "the results file ends with a torn line"
    # Split on "\n" alone, as the store does: a line may hold U+2028 and the like raw.
    return [json.loads(line) for line in text.split("\n")[:-1]]


def r1v4_script() -> str:
    """The installed console script (the pyproject entry point), beside this interpreter."""
    script = Path(sys.executable).with_name("r1v4")
    assert script.exists(), f"console script {script} missing: is the project installed?"
    return str(script)
