"""``python -m r1v4.testing``: run the local R1V4 API server in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._server import LocalR1V4Server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m r1v4.testing", description="Run a local R1V4 API server (for tests)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--api-key", default="test-key", help="accepted Bearer key")
    parser.add_argument("--no-auth", action="store_true", help="accept any or no key")
    parser.add_argument(
        "--no-native-tools",
        action="store_true",
        help="refuse `tools` and the tool role like vLLM without --enable-auto-tool-choice",
    )
    parser.add_argument("--scenario", choices=("echo", "agent", "self_hosted"), default="echo")
    parser.add_argument(
        "--model", action="append", default=[], help="accept this extra model name (repeatable)"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = LocalR1V4Server(
        api_key=None if args.no_auth else args.api_key,
        native_tools=not args.no_native_tools,
        scenario=args.scenario,
        host=args.host,
        port=args.port,
        extra_models=args.model,
    )
    with server:
        print(
            f"R1V4 local server on {server.url}  base_url={server.base_url}  "
            f"hosted_base_url={server.hosted_base_url}  (Ctrl-C stops it)",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
