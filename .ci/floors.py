"""The floors of r1v4's direct dependencies, read from pyproject.toml.

    python .ci/floors.py                  # prints "name==floor" constraints (make lock uses them)
    python .ci/floors.py --check FILE     # fails unless FILE pins each one at exactly its floor
    python .ci/floors.py --released       # when the newest of the floors was uploaded (UTC)

One copy of each floor: pyproject.toml. The lowest CI run installs .ci/lowest.txt, compiled by
`make lock` with these constraints; --check proves the two have not drifted apart.

The rest of the lowest set (test tools, transitive dependencies) is resolved as the registry stood
when the newest floor was released (uv's --exclude-newer): a transitive package released later
may assume a newer floor than it declares (langgraph-checkpoint 4.3 calls langchain-core 1.3's
Reviver(allowed_objects=...) while admitting 1.1), and that is not a range of ours to prove.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
# The libraries users install beside r1v4; the test tools' floors are not a promise to users.
# The index uv resolves from (uv's own setting first), for the floors' upload times.
INDEX = os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
DIRECT = (
    "httpx",
    "pydantic",
    "langchain-core",
    "llama-index-core",
    "pillow",
    "uvicorn",
    "jinja2",
    "tqdm",
    "filelock",
    "numpy",
)
EXTRAS = ("langchain", "llama-index", "images", "testing", "cli", "tools")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    """'1.0' and '1.0.0' are one release (PEP 440 pads with zeros)."""
    parts = [int(p) for p in re.findall(r"\d+", version.split("+")[0])]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in EXTRAS:
        specs += project["optional-dependencies"][extra]
    found: dict[str, str] = {}
    for spec in specs:
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[[^]]*\])?\s*(.*)", spec)
        if not match or _norm(match[1]) not in DIRECT:
            continue
        low = re.search(r">=\s*([0-9][^,;\s]*)", match[2])
        if low:
            found[_norm(match[1])] = low[1]
    missing = sorted(set(DIRECT) - set(found))
    if missing:
        sys.exit(f"floors.py: no '>=' floor in pyproject.toml for {', '.join(missing)}")
    return found


def check(path: Path) -> None:
    pins = {
        _norm(m[1]): m[2]
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", path.read_text(), re.M)
    }
    wrong = [
        f"{name}: pyproject floor {low}, {path.name} has {pins.get(name, 'nothing')}"
        for name, low in floors().items()
        if name not in pins or _release(pins[name]) != _release(low)
    ]
    if wrong:
        sys.exit("the lowest lock is stale (run `make lock`):\n  " + "\n  ".join(wrong))


def released() -> str:
    """A day after the newest floor was uploaded (from the registry's JSON simple API, PEP 691)."""
    times = []
    for name, low in floors().items():
        request = urllib.request.Request(
            f"{INDEX.rstrip('/')}/{name}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.load(response)["files"]
        uploads = [
            f["upload-time"]
            for f in files
            if f.get("upload-time")
            and _release(re.split(r"-|\.tar|\.zip", f["filename"])[1]) == _release(low)
        ]
        if not uploads:
            sys.exit(f"floors.py: {name} {low} has no upload time on the registry")
        times.append(min(uploads))
    # A day's margin: uv excludes a file uploaded at the very instant given, and a floor's
    # companion releases (the same project's other packages) come out within hours.
    newest = datetime.fromisoformat(max(times).replace("Z", "+00:00")) + timedelta(days=1)
    return newest.strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["--released"]:
        print(released())
    else:
        print("\n".join(f"{name}=={low}" for name, low in floors().items()))
