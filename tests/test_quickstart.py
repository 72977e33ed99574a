"""The quickstart (what `make quickstart` runs) works on a machine with no API key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def test_quickstart_runs_against_the_local_server_and_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYWORK_")}
    proc = subprocess.run(
        [sys.executable, str(QUICKSTART)], capture_output=True, text=True, env=env, timeout=90
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "SKYWORK_API_KEY is not set: started a local R1V4 server" in out
    thinking = out.split("thinking: ", 1)[1].split("answer:", 1)[0]
    answer = out.split("answer:", 1)[1].split("\n", 1)[0]
    assert thinking.strip() and answer.strip()
    assert "<" not in answer  # the answer carries no transcript tags
    assert "server ran: code(" in out
    assert "tokens:   {'input_tokens'" in out
