"""``r1v4 batch``: every case of a cases file through R1V4, concurrently on one event loop.

Each case streams through :class:`r1v4.AsyncR1V4Client` (its ``max_retries`` is the only retry
layer), and its record is appended to the results file the moment it ends. SIGINT or SIGTERM
cancels the cases in flight (they run again on the next start) and returns with everything
finished already on disk; rerunning the same command resumes.
"""

from __future__ import annotations

import asyncio
import collections
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from r1v4 import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    AsyncR1V4Client,
    AuthenticationError,
    ChatCompletionChunk,
    ChunkAccumulator,
    GeneratedImage,
    PermissionDeniedError,
    build_request,
)
from r1v4._integrations import HOSTED_HOST, is_hosted, resolve_api_key, resolve_base_url
from r1v4.report.records import (
    FORMAT,
    error_record,
    generated_images,
    image_record,
    reply_fields,
)
from r1v4.tools import R1V4Tools

from .cases import Case, Shard, load_cases
from .progress import Progress, make_progress
from .results import ResultStore

__all__ = ["BatchOptions", "BatchOutcome", "check_option", "run_batch"]

DEFAULT_CONCURRENCY = 4
EXIT_FAILURES = 1
EXIT_REFUSED = 2
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}
# Refusals of the key (or of what it may do): the same for every case, so they end the run.
_REFUSALS = (AuthenticationError, PermissionDeniedError)


def check_option(name: str, value: float) -> None:
    """Raise ``ValueError`` (saying what is allowed) when option ``name`` is out of range."""
    if name == "timeout":
        if not 0 < value < math.inf:
            raise ValueError("must be a number of seconds above 0")
    elif name in ("concurrency", "max_retries"):
        least = 1 if name == "concurrency" else 0
        if value < least:
            raise ValueError(f"must be at least {least}")
    else:
        raise KeyError(name)


@dataclass
class BatchOptions:
    """What ``r1v4 batch`` was asked to do (its command-line options)."""

    cases: Path
    output: Path
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout: float = DEFAULT_TIMEOUT
    shard: Shard | None = None
    retry_failed: bool = False
    enable_search: bool | None = None
    builtin_tools: bool = False
    """Run R1V4's own tools on the client (``R1V4Tools()``: code in the bubblewrap sandbox,
    no search backends), for a self-hosted server."""

    def __post_init__(self) -> None:
        for name in ("concurrency", "max_retries", "timeout"):
            value = getattr(self, name)
            try:
                check_option(name, value)
            except ValueError as exc:
                raise ValueError(f"--{name.replace('_', '-')} {exc}, not {value!r}") from None


@dataclass
class BatchOutcome:
    """What a run did: counts of this run, and the signal that stopped it, if any."""

    skipped: int = 0
    ok: int = 0
    failed: int = 0
    interrupted_by: str | None = None
    failed_in_file: int = 0
    pending: list[str] = field(default_factory=list)
    refused: str | None = None
    """Why the server refused the key, when it did (the run stopped there)."""

    @property
    def exit_code(self) -> int:
        if self.refused is not None:
            return EXIT_REFUSED
        if self.interrupted_by is not None:
            return _SIGNAL_EXIT.get(self.interrupted_by, 130)
        return EXIT_FAILURES if self.failed_in_file else 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _question(case: Case) -> str:
    if case.question:
        return case.question
    for message in reversed(case.data.get("messages") or ()):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    p.get("text", "") for p in content if isinstance(p, dict) and "text" in p
                )
    return ""


def _has_output(chunk: ChatCompletionChunk) -> bool:
    # Not merely a chunk: the first is a role-only delta (the client hands it over with the
    # first output, but that is the client's business, not this timing's).
    return any(c.delta.content or c.delta.reasoning or c.delta.events for c in chunk.choices)


async def run_case(
    client: AsyncR1V4Client,
    case: Case,
    options: BatchOptions,
    builtin_tools: R1V4Tools | None = None,
) -> tuple[dict[str, Any], list[GeneratedImage]]:
    """Run one case to its record and the images R1V4's tools generated (those of a failed
    call too, up to where it failed); the record lists no image yet.

    A failed call is a record; a refused key (:class:`r1v4.AuthenticationError`,
    :class:`r1v4.PermissionDeniedError`) raises, as does cancellation. With ``builtin_tools``
    the client runs R1V4's tool calls and continues the reply (one record for the whole
    trajectory, as from the hosted API).
    """
    model = case.data.get("model") or options.model
    enable_search = case.data.get("enable_search", options.enable_search)
    started_at, t0 = _now(), time.monotonic()
    first_token: float | None = None
    acc = ChunkAccumulator()
    error: dict[str, Any] | None = None
    try:
        settings = client.settings
        messages = await case.request_messages(
            max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
        )
        request = build_request(
            model=model, messages=messages, stream=True, enable_search=enable_search
        )
        async for chunk in client.stream(request, builtin_tools=builtin_tools):
            if first_token is None and _has_output(chunk):
                first_token = time.monotonic() - t0
            acc.add(chunk)
    except _REFUSALS:
        raise
    except Exception as exc:  # a failed case is a record, never the end of the run
        error = error_record(exc)
    reply = acc.completion()
    fields = reply_fields(reply)
    if error is not None and not fields["answer"]:
        fields["answer"] = error["partial_content"]
        fields["reasoning"] = fields["reasoning"] or error["partial_reasoning"] or None
    record: dict[str, Any] = {
        "format": FORMAT,
        "id": case.id,
        "line": case.line,
        "status": "ok" if error is None else "failed",
        "case": case.data,
        "question": _question(case),
        "images": case.images,
        "model": model,
        "enable_search": enable_search,
        "builtin_tools": builtin_tools is not None,
        **fields,
        "timings": {
            "started_at": started_at,
            "finished_at": _now(),
            "seconds": round(time.monotonic() - t0, 3),
            "first_token_seconds": None if first_token is None else round(first_token, 3),
        },
        "error": error,
        "generated_images": [],
    }
    return record, generated_images(reply)


def _save_images(store: ResultStore, record: dict[str, Any], images: list[GeneratedImage]) -> None:
    """Write each image to its file and list it in the record (by path: no base64 in a line)."""
    for image in images:
        data = image.data  # decoded once, for the file and its hash
        path = store.write_image(record["id"], image.index, data, image.mime_type)
        record["generated_images"].append(image_record(image, path=path, data=data))


def _install_signals(on_signal: Callable[[str], None]) -> Callable[[], None]:
    """Route SIGINT/SIGTERM to ``on_signal`` on the running loop; returns the undo."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass

    def undo() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return undo


@dataclass
class _Stop:
    signal: str | None = None
    refused: str | None = None


async def _run(
    options: BatchOptions,
    store: ResultStore,
    todo: list[Case],
    progress: Progress,
    tools: R1V4Tools | None,
) -> _Stop:
    queue = collections.deque(todo)
    interrupted: list[str] = []

    async with AsyncR1V4Client(
        base_url=options.base_url, max_retries=options.max_retries, timeout=options.timeout
    ) as client:

        async def worker() -> None:
            while queue and not interrupted:
                case = queue.popleft()
                record, images = await run_case(client, case, options, tools)
                # From here to the end of the loop body nothing awaits, so a cancellation
                # cannot split a record from its images or tear its line.
                _save_images(store, record, images)
                store.append(record)
                progress.record(record)

        count = min(options.concurrency, len(todo))
        workers = [asyncio.create_task(worker()) for _ in range(count)]

        def on_signal(name: str) -> None:
            if not interrupted:
                progress.note(f"{name}: stopping; cases in flight will run again on resume")
            interrupted.append(name)
            for task in workers:
                task.cancel()

        undo = _install_signals(on_signal)
        try:
            if workers:
                await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in workers:
                task.cancel()
            results = await asyncio.gather(*workers, return_exceptions=True)
            undo()
        stop = _Stop(signal=interrupted[0] if interrupted else None)
        for result in results:
            if isinstance(result, _REFUSALS):
                stop.refused = stop.refused or f"{type(result).__name__}: {result}"
            elif isinstance(result, Exception):  # e.g. the disk is full: stop, loudly
                raise result
    return stop


def _check_key(options: BatchOptions) -> None:
    if resolve_api_key(None) is not None:
        return
    if is_hosted(resolve_base_url(options.base_url)):
        raise ValueError(
            f"SKYWORK_API_KEY is not set, and the hosted API ({HOSTED_HOST}) needs it: export it, "
            "or give --base-url of a server that takes no key"
        )


def _check_builtin_tools(options: BatchOptions) -> None:
    """Refuse ``--builtin-tools`` against the hosted API: it runs R1V4's tools itself, and a
    call it left unanswered is its fault to report, not code to run here and a second paid
    request to send."""
    if options.builtin_tools and is_hosted(resolve_base_url(options.base_url)):
        raise ValueError(
            f"--builtin-tools is for a self-hosted server: the hosted API ({HOSTED_HOST}) runs "
            "R1V4's tools itself; give --base-url of your own server"
        )


def _check_output(options: BatchOptions) -> None:
    """Refuse results that would be appended to the cases file itself (the same path, another
    path to it, a symbolic or hard link): the run would write into its own input."""
    cases, output = options.cases, options.output
    try:
        same = os.path.samefile(cases, output)
    except OSError:  # one of them does not exist (yet): compare where they would be
        try:
            same = cases.resolve() == output.resolve()
        except (OSError, RuntimeError):  # a symbolic link loop: no file either way
            same = False
    if same:
        raise ValueError(
            f"-o {output} is the cases file {cases}: results go to a file of their own"
        )


def run_batch(options: BatchOptions, stream: IO[str] | None = None) -> BatchOutcome:
    """Run (or resume) a batch; the outcome's ``exit_code`` is what ``r1v4 batch`` exits with.

    Progress goes to ``stream`` (default: standard error). Memory grows with the cases file,
    not with the results file: the store keeps each case's status, never a record.
    """
    _check_output(options)
    _check_key(options)
    _check_builtin_tools(options)
    # Built (and the sandbox checked) before any case runs: without bubblewrap the run stops
    # here with SandboxUnavailableError saying what to install, rather than fail every case.
    tools = R1V4Tools() if options.builtin_tools else None
    cases = load_cases(options.cases)
    if options.shard is not None:
        cases = options.shard.select(cases)
    outcome = BatchOutcome()
    with ResultStore(options.output) as store:
        if options.retry_failed:
            store.drop_failed(case.id for case in cases)
        todo = [c for c in cases if not store.done(c.id, retry_failed=options.retry_failed)]
        outcome.skipped = len(cases) - len(todo)
        with make_progress(len(todo), outcome.skipped, stream or sys.stderr) as progress:
            stop = asyncio.run(_run(options, store, todo, progress, tools))
        outcome.interrupted_by, outcome.refused = stop.signal, stop.refused
        outcome.ok, outcome.failed = progress.ok, progress.failed
        statuses = {c.id: store.status(c.id) for c in cases}
        outcome.pending = [case_id for case_id, status in statuses.items() if status is None]
        outcome.failed_in_file = sum(status == "failed" for status in statuses.values())
    return outcome
