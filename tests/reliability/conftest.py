"""Fixtures of the reliability suite, and the plugin that turns its parametrisation into figures.

Fixtures:
    server: a local R1V4 server whose key is the distinctive :data:`SECRET` (session-wide,
        reset per test), so every test also proves the key does not leak.
    redirect_target: a second local server on another host (127.0.0.2) that accepts the key.
    image_host: a stdlib HTTP server for image URLs (404, an HTML page).
    retries: what the client decided after each failed attempt (error type, delay or None).
    fast_backoff (autouse): the core's default retry backoff shortened to 10 ms (the shared
        fixture of tests/conftest.py), for core clients a test builds itself; the paths give
        every client, adapters included, the ``backoff`` of their ``Settings``.
    no_secret_in_logs (autouse): every log record of every logger at DEBUG, for every test here,
        must not contain the key.

Figures: each test is parametrised by name over the tables in ``support/matrix.py`` (parameters
``path``, ``fault``, ``bad_input``, ``sink``, ``security_check``, ``client_check``). The hooks
below count the values whose tests ran and passed, print the summary line in the terminal
summary, and, when the whole matrix ran and passed, write docs/reliability.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from r1v4 import ClientSettings
from r1v4.testing import FileHost, LocalR1V4Server
from reliability.support import figures
from reliability.support.leakcheck import SECRET, assert_no_secret

_HERE = Path(__file__).parent


# ------------------------------------------------------------------------------ servers


@pytest.fixture(scope="session")
def _secret_server() -> Iterator[LocalR1V4Server]:
    with LocalR1V4Server(api_key=SECRET) as server:
        yield server


@pytest.fixture
def server(_secret_server: LocalR1V4Server) -> Iterator[LocalR1V4Server]:
    _secret_server.reset()
    yield _secret_server
    _secret_server.reset()


@pytest.fixture(scope="session")
def _redirect_target() -> Iterator[LocalR1V4Server]:
    with LocalR1V4Server(api_key=SECRET, host="127.0.0.2") as target:
        yield target


@pytest.fixture
def redirect_target(_redirect_target: LocalR1V4Server) -> Iterator[LocalR1V4Server]:
    _redirect_target.reset()
    yield _redirect_target
    _redirect_target.reset()


@pytest.fixture(scope="session")
def image_host() -> Iterator[FileHost]:
    """``/page.png`` is an HTML page despite its name; any other path answers 404."""
    with FileHost() as host:
        host.add(
            "/page.png",
            b"<!doctype html><html><head><title>Not found</title></head>"
            b"<body><p>This is a web page, not a picture.</p></body></html>",
            "text/html; charset=utf-8",
        )
        yield host


# ------------------------------------------------------------------------------ client spies


@pytest.fixture(autouse=True)
def fast_backoff(fast_backoff: None) -> None:
    """The shared one (tests/conftest.py), for every test here."""


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float | None]]:
    """Each failed attempt's retry decision: ``(error class, delay)``; delay None = final."""
    seen: list[tuple[str, float | None]] = []
    original = ClientSettings.retry_delay

    def spy(self: ClientSettings, exc: Any, attempt: int, headers: Any) -> float | None:
        delay = original(self, exc, attempt, headers)
        seen.append((type(exc).__name__, delay))
        return delay

    monkeypatch.setattr(ClientSettings, "retry_delay", spy)
    return seen


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        out = []
        for record in self.records:
            out.append(self.format(record))  # message, exception and stack text
            out.append(repr(record.args))
            out.append(repr({k: v for k, v in vars(record).items() if k not in ("args", "msg")}))
        return out


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[_Collect]:
    """Every logger at DEBUG; those that do not propagate get the handler directly."""
    handler = _Collect()
    root = logging.getLogger()
    touched: list[tuple[logging.Logger, int]] = [(root, root.level)]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    extra: list[logging.Logger] = []
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            touched.append((logger, logger.level))
            if logger.level > logging.DEBUG and not logger.name.startswith("uvicorn"):
                logger.setLevel(logging.DEBUG)
            if not logger.propagate:
                logger.addHandler(handler)
                extra.append(logger)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger in extra:
            logger.removeHandler(handler)
        for logger, level in touched:
            logger.setLevel(level)
    for text in handler.texts():
        assert_no_secret(text, "a log record")


# ------------------------------------------------------------------------------ figures

_KEY = "r1v4_reliability"


def _in_suite(item: pytest.Item) -> bool:
    return _HERE in Path(str(item.path)).parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if not _in_suite(item) or callspec is None:
            continue
        params = {k: v for k, v in callspec.params.items() if k in figures.KINDS}
        if params:
            # user_properties travel with every report (also from xdist workers).
            item.user_properties.append((_KEY, params))


class _Figures:
    def __init__(self) -> None:
        self.outcomes: dict[str, tuple[dict[str, str], str]] = {}

    def add(self, report: pytest.TestReport) -> None:
        params = next((v for k, v in report.user_properties if k == _KEY), None)
        if params is None:
            return
        assert isinstance(params, dict)  # as pytest_collection_modifyitems stored them
        previous = self.outcomes.get(report.nodeid, (params, "passed"))[1]
        if report.when == "call":
            outcome = report.outcome
        elif report.failed:
            outcome = "failed"
        elif report.skipped:
            outcome = "skipped"
        else:
            if report.nodeid not in self.outcomes:
                self.outcomes[report.nodeid] = (params, "pending")
            return
        if previous == "failed":
            outcome = "failed"
        self.outcomes[report.nodeid] = (params, outcome)

    def tally(self) -> figures.Tally:
        tally = figures.Tally()
        for params, outcome in self.outcomes.values():
            tally.add(params, "failed" if outcome == "pending" else outcome)
        return tally


_figures = _Figures()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _figures.add(report)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if hasattr(config, "workerinput") or not _figures.outcomes:
        return
    tally = _figures.tally()
    line = figures.summary_line(tally.counts(), tally)
    terminalreporter.write_sep("-", "reliability figures")
    terminalreporter.write_line(line)
    if tally.complete() and tally.all_passed():
        page = config.rootpath / "docs" / "reliability.md"
        old = page.read_text() if page.exists() else ""
        text = figures.markdown(tally)
        soak = figures.kept_soak_block(old)
        if soak:
            text += "\n" + soak
        if old != text:
            page.parent.mkdir(exist_ok=True)
            page.write_text(text)
            terminalreporter.write_line(f"wrote {page.relative_to(config.rootpath)}")
    else:
        terminalreporter.write_line(
            "(docs/reliability.md is written only by a run of the whole matrix that passes)"
        )
