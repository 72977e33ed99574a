"""The suite's figures: counted from the parametrisation, rendered for the terminal, the docs
page and the summary block of the reliability guide (docs/guides/reliability-and-security.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reliability.support import matrix
from reliability.support.paths import PATHS

# The parameter names that carry a figure, and how each is named in the figures.
KINDS: dict[str, str] = {
    "path": "paths",
    "fault": "faults",
    "bad_input": "bad inputs",
    "sink": "secret sinks",
    "security_check": "transport-security checks",
    "client_check": "client-side checks",
}

SUMMARY_START = "<!-- reliability:start -->"
SUMMARY_END = "<!-- reliability:end -->"


def declared() -> dict[str, list[str]]:
    """Every value each figure parameter can take, straight from the tables."""
    return {
        "path": list(PATHS),
        "fault": [f.name for f in matrix.FAULTS],
        "bad_input": [b.name for b in matrix.BAD_INPUTS],
        "sink": list(matrix.SINKS),
        "security_check": list(matrix.SECURITY_CHECKS),
        "client_check": list(matrix.CLIENT_CHECKS),
    }


@dataclass
class Tally:
    """Test outcomes by figure parameter."""

    passed: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    failed: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    seen: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    cases_passed: int = 0
    cases_failed: int = 0
    cases_skipped: int = 0

    def add(self, params: Mapping[str, str], outcome: str) -> None:
        if outcome == "passed":
            self.cases_passed += 1
        elif outcome == "skipped":
            self.cases_skipped += 1
        else:
            self.cases_failed += 1
        for kind, value in params.items():
            if kind not in KINDS:
                continue
            self.seen[kind].add(value)
            if outcome == "passed":
                self.passed[kind].add(value)
            elif outcome != "skipped":
                self.failed[kind].add(value)

    def counts(self) -> dict[str, int]:
        """Values with at least one passing test and none failing."""
        return {k: len(self.passed[k] - self.failed[k]) for k in KINDS}

    def complete(self) -> bool:
        """Whether every declared value of every figure was run."""
        return all(set(values) <= self.seen[k] for k, values in declared().items())

    def all_passed(self) -> bool:
        return self.cases_failed == 0 and self.cases_skipped == 0


def declared_counts() -> dict[str, int]:
    return {k: len(v) for k, v in declared().items()}


def summary_line(counts: Mapping[str, int], tally: Tally | None = None) -> str:
    main = ", ".join(f"{counts[k]} {KINDS[k]}" for k in KINDS if k != "path")
    line = f"r1v4 reliability: {main}, on {counts['path']} paths"
    if tally is not None:
        total = tally.cases_passed + tally.cases_failed + tally.cases_skipped
        if tally.all_passed():
            line += f" -- all {total} cases passed"
        else:
            line += (
                f" -- {tally.cases_passed} of {total} cases passed, {tally.cases_failed} "
                f"failed, {tally.cases_skipped} skipped"
            )
    return line


def summary_block(counts: Mapping[str, int]) -> str:
    """The guide's summary block (between the markers), figures in bold."""
    c = {k: f"**{counts[k]} {KINDS[k]}**" for k in KINDS}
    return (
        f"`pytest tests/reliability` proves on every run, over real HTTP on loopback, on all "
        f"{c['path']} (core sync/async create/stream, `ChatR1V4` invoke/stream/ainvoke/astream, "
        f"`R1V4` chat/stream_chat/achat/astream_chat): {c['fault']} survived (a typed error "
        f"keeping the text already streamed, or the recovered reply whole: id, raw content, "
        f"usage and trace of the one attempt that succeeded; with the exact number of "
        f"requests the server saw), "
        f"{c['bad_input']} refused with a typed error before any request, and the API key "
        f"absent from {c['sink']}; plus {c['security_check']} (redirects, TLS, plain http) "
        f"and {c['client_check']} (closing abandoned streams, batches with failures). The "
        f"counts come from the test parametrisation; details in "
        f"[Reliability in detail](../reliability.md)."
    )


_FIGURE = re.compile(r"\*\*(\d+) ([a-z -]+?)\*\*")


def figures_in(text: str) -> dict[str, int]:
    """The bold ``**N what**`` figures of a summary block, by kind."""
    by_label = {label: kind for kind, label in KINDS.items()}
    out: dict[str, int] = {}
    for number, label in _FIGURE.findall(text):
        if label in by_label:
            out[by_label[label]] = int(number)
    return out


def summary_section(page: str) -> str | None:
    start, end = page.find(SUMMARY_START), page.find(SUMMARY_END)
    if start < 0 or end < start:
        return None
    return page[start + len(SUMMARY_START) : end].strip()


# ------------------------------------------------------------------------------ the page


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(header)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


SOAK_START = "<!-- soak:start -->"
SOAK_END = "<!-- soak:end -->"


def kept_soak_block(old: str) -> str:
    """The soak's section of the page (written by ``python -m benchmarks --only soak``), which a
    rewrite of the page keeps as it is."""
    start, end = old.find(SOAK_START), old.find(SOAK_END)
    if start < 0 or end < start:
        return ""
    return old[start : end + len(SOAK_END)] + "\n"


def markdown(tally: Tally) -> str:
    counts = tally.counts()
    lines = [
        "# Reliability and security",
        "",
        "<!-- Generated by `pytest tests/reliability` (tests/reliability/support/figures.py); do not "
        "edit. -->",
        "",
        summary_line(counts, tally) + ".",
        "",
        "Every case runs over real HTTP on loopback against `r1v4.testing.LocalR1V4Server`, "
        "which scripts each fault; the expectations below are asserted on every path they "
        "name, together with the exact number of requests the server saw.",
        "",
        "## Paths",
        "",
        ", ".join(p.label for p in PATHS.values()) + ".",
        "",
        "## Faults",
        "",
        "Retries use `max_retries=2` unless stated. Stream paths: the six `stream`, "
        "`astream`, `stream_chat` and `astream_chat` ones; non-stream paths: the other six.",
        "",
        "Exactly one attempt: a call that recovers ends with the whole result of the attempt "
        "that succeeded (core: the completion, accumulated on stream paths; LangChain: the "
        "message, its chunks summed; LlamaIndex: the last response), equal to what the same "
        "path returns when that attempt is the only one (raw content, usage, trace), carrying "
        'its id in every place (LangChain\'s message id is its `response_metadata["id"]`), '
        "and every chunk the caller was handed carries that id too. A call that fails hands "
        "over nothing unless text was delivered, and then only that attempt's.",
        "",
    ]
    rows: list[tuple[str, ...]] = []
    for f in matrix.FAULTS:
        stream = f.stream.expect.describe()
        create = f.create.expect.describe() if f.create else "n/a"
        if f.create_note:
            create += f" ({f.create_note})"
        rows.append((f"`{f.name}`", f.title, stream, create))
    lines += _table(("fault", "what", "stream paths", "non-stream paths"), rows)
    lines += [
        "",
        "## Bad input",
        "",
        "Each is refused with a typed error before any request (the server sees nothing), in "
        "the framework's own input form on the adapter paths.",
        "",
    ]
    rows = []
    for b in matrix.BAD_INPUTS:
        err = f"`r1v4.{b.error.__name__}`"
        if b.note:
            err += f"; {b.note}"
        rows.append((f"`{b.name}`", b.title, err))
    lines += _table(("input", "what", "error"), rows)
    lines += ["", "## Secrets", "", "The API key (a distinctive value) appears in none of:", ""]
    lines += [f"- {desc}" for desc in matrix.SINKS.values()]
    lines += ["", "## Transport security", ""]
    lines += [f"- {desc}" for desc in matrix.SECURITY_CHECKS.values()]
    lines += ["", "## Client side", ""]
    lines += [f"- {desc}" for desc in matrix.CLIENT_CHECKS.values()]
    lines += ["", "## Known gaps", ""]
    lines += [f"- {gap}" for gap in matrix.KNOWN_GAPS]
    lines.append("")
    return "\n".join(lines)
