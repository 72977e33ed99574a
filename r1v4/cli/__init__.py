"""The ``r1v4`` command: ``r1v4 batch`` runs a dataset, ``r1v4 report`` shows the results.

Installed with the ``cli`` extra (``pip install "r1v4[cli]"``); ``import r1v4`` never loads it.
The API key comes from ``SKYWORK_API_KEY`` only: a key on a command line is visible to every
user of the machine, and r1v4 writes it to no file.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]


def _checked(name: str, convert: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse ``type`` for option ``name``: converted, then range-checked by the batch."""

    def parse(text: str) -> float:
        from .batch import check_option

        try:
            value = convert(text)
        except ValueError:
            kind = "a whole number" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {kind}, not {text!r}") from None
        try:
            check_option(name, value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{exc}, not {text!r}") from None
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    from r1v4 import DEFAULT_MAX_RETRIES, DEFAULT_MODEL, DEFAULT_TIMEOUT

    from .batch import DEFAULT_CONCURRENCY

    parser = argparse.ArgumentParser(prog="r1v4", description="Skywork R1V4 from the shell.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    batch = commands.add_parser(
        "batch",
        help="run every case of a JSON Lines file; rerun to resume",
        description=(
            'Run every case of CASES (JSON Lines: {"image", "question"} plus optional id, '
            "model, enable_search, images, messages; any other field is carried into the "
            "case's result) and append one result line per case to RESULTS as it ends. "
            "Rerunning skips cases already done; Ctrl-C stops cleanly. "
            "The key is read from SKYWORK_API_KEY."
        ),
    )
    batch.add_argument("cases", type=Path, metavar="CASES.jsonl")
    batch.add_argument("-o", "--output", type=Path, required=True, metavar="RESULTS.jsonl")
    batch.add_argument("--model", default=DEFAULT_MODEL, help="default: %(default)s")
    batch.add_argument(
        "--base-url", default=None, help="default: SKYWORK_BASE_URL, else the hosted API"
    )
    batch.add_argument(
        "--concurrency",
        type=_checked("concurrency", int),
        default=DEFAULT_CONCURRENCY,
        help="default: %(default)s",
    )
    batch.add_argument(
        "--max-retries",
        type=_checked("max_retries", int),
        default=DEFAULT_MAX_RETRIES,
        help="default: %(default)s",
    )
    batch.add_argument(
        "--timeout",
        type=_checked("timeout", float),
        default=DEFAULT_TIMEOUT,
        help="read timeout, seconds (%(default)s)",
    )
    batch.add_argument(
        "--shard", default=None, metavar="I/N", help="run only shard I of N (1 <= I <= N)"
    )
    batch.add_argument(
        "--retry-failed", action="store_true", help="run the cases that failed before again"
    )
    batch.add_argument(
        "--enable-search",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="deep-research mode for cases that do not say (default: the server's)",
    )
    batch.add_argument(
        "--builtin-tools",
        action="store_true",
        help=(
            "run R1V4's own tools on this machine, for a self-hosted server that stops at each "
            "tool call: code in a bubblewrap sandbox (Linux); the search tools answer that "
            "they are unavailable"
        ),
    )

    report = commands.add_parser(
        "report",
        help="one static HTML page of one or more results files",
        description="Render results files (several shards read as one run) as one HTML file.",
    )
    report.add_argument("results", type=Path, nargs="+", metavar="RESULTS.jsonl")
    report.add_argument("-o", "--output", type=Path, required=True, metavar="report.html")
    report.add_argument("--title", default=None)
    return parser


def _batch(args: argparse.Namespace) -> int:
    from r1v4.tools import SandboxUnavailableError

    from .batch import BatchOptions, run_batch
    from .cases import CaseError, parse_shard
    from .results import StoreError

    try:
        shard = parse_shard(args.shard) if args.shard else None
        options = BatchOptions(
            cases=args.cases,
            output=args.output,
            model=args.model,
            base_url=args.base_url,
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            timeout=args.timeout,
            shard=shard,
            retry_failed=args.retry_failed,
            enable_search=args.enable_search,
            builtin_tools=args.builtin_tools,
        )
        outcome = run_batch(options)
    except (CaseError, StoreError, ValueError) as exc:
        print(f"r1v4 batch: error: {exc}", file=sys.stderr)
        return 2
    except SandboxUnavailableError as exc:
        print(f"r1v4 batch: error: {exc}; or run without --builtin-tools", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the run's own handler was installed, or on Windows
        print("r1v4 batch: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if outcome.refused:
        print(
            f"r1v4 batch: error: the server refused the key ({outcome.refused}); check "
            f"SKYWORK_API_KEY. {len(outcome.pending)} case(s) not run: run the same command "
            "again once the key is right",
            file=sys.stderr,
        )
        return outcome.exit_code
    summary = (
        f"r1v4 batch: {outcome.ok} ok, {outcome.failed} failed in this run, "
        f"{outcome.skipped} already done; {outcome.failed_in_file} failed in {args.output}"
    )
    if outcome.interrupted_by:
        summary += (
            f"; stopped by {outcome.interrupted_by} with {len(outcome.pending)} case(s) "
            "not run: run the same command again to resume"
        )
    elif outcome.failed_in_file:
        summary += " (--retry-failed runs them again)"
    print(summary, file=sys.stderr)
    return outcome.exit_code


def _report(args: argparse.Namespace) -> int:
    from r1v4.report import ReportError, write_report

    try:
        summary = write_report(args.results, args.output, title=args.title)
    except (OSError, ReportError) as exc:
        print(f"r1v4 report: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"r1v4 report: {summary['cases']} case(s), {summary['failed']} failed -> {args.output}",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``r1v4`` console script."""
    logging.basicConfig(level=logging.WARNING, format="r1v4: %(message)s")
    args = _parser().parse_args(argv)
    if args.command == "batch":
        return _batch(args)
    return _report(args)
