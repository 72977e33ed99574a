"""Figure 14, run in its own process: what one round of the tool loop costs the client, through
``R1V4Client.stream(builtin_tools=...)``, against bubblewrap's bare start and against
``R1V4Tools.run`` alone.

A scripted local R1V4 server in a process of its own (``python -m benchmarks._loop_round
serve``) answers like a bare inference server: each round it streams stops right after an R1V4
``code`` call, until the request carries as many observations as its prompt asks for; then it
answers. Its records stamp each request on the server's ``time.monotonic()``, which on Linux is
one clock for every process of the machine: ``completed_at`` when the round's last bytes were
handed to the socket, ``received_at`` when the follow-up's whole body had arrived. The
difference, the *gap*, is what the client spent between the round that made the call and the
follow-up it sent: reading the end of the stream, running the call, feeding the observation to
the transcript, building the next request and sending it. On the same clock the client stamps
the start and end of each ``R1V4Tools.run`` (``arun``) and, with an httpx request hook, the
moment each request is handed to httpx (its body built), with this process's CPU time at the
last two. So a round splits into *before the run*, *the run* and *after the run*, and the CPU
from the run's end to the follow-up built is the loop's own work: the observation parsed into
the transcript, the next request and its body, the state copied for the attempt.

14a, interleaved round by round (the order rotating; ratios taken within a round):

* ``bwrap … true``: bubblewrap's bare start (as in figure 13);
* ``R1V4Tools.run``: the round's call alone: crop the 256x256 conversation image, save a PNG,
  print the size (the same tools and image);
* ``loop round, sync`` / ``async``: a one-round reply through ``R1V4Client.stream`` /
  ``AsyncR1V4Client.stream`` (200 characters of reasoning, the call; then the answer; answer
  and events checked): its gap and its parts; the loop's own share is the gap less the run
  inside it.

14b, how the loop's own cost per round grows with the reply: replies of many rounds (each about
2,000 characters of reasoning in 8-character deltas, then the call) through the sync client,
with an executor that answers at once in this process, so the loop is not lost in the sandbox's
noise: the CPU from the run's end to the follow-up built, after round 1, 4 and 16 (the median
over replies, and the median of each reply's ratio to its round 1), with the wall gap and the
follow-up's size beside it. Three kinds of round: reasoning inline in ``<think>`` (each delta
one more piece of the transcript), reasoning as ``reasoning_content`` (the content holds only
the call), and inline with a 64x64 PNG made by each call (the conversation's images grow too).

``python -m benchmarks._loop_round --repeats 15 --rounds 1,4,16 --replies 7`` prints one JSON
object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._harness import ChildServer, bytecode_env, missing_row, run_child
from benchmarks._report import Row
from benchmarks._sandbox import _bare, _image
from benchmarks._server import API_KEY, MODEL
from benchmarks._sizes import Sizes

CROP = "img.crop((0, 0, 64, 64)).save('crop.png')\nprint(img.size)"
ANSWER_TEXT = "An orange corner."
ANSWER = f"<think>The crop is orange.</think><answer>{ANSWER_TEXT}</answer>"
THINK_CHARS = 2000  # each round's reasoning in 14b
CHUNK = 8  # characters per streamed delta
_MARK = re.compile(r"\[rounds (\d+) think (\d+) (inline|split)\]")
KINDS = {
    "inline": "<think> inline",
    "split": "reasoning_content",
    "images": "<think> inline + a PNG per call",
}
NAMES = {
    "floor": "bwrap … true (bare start)",
    "run": "R1V4Tools.run alone (crop + PNG)",
    "sync": "loop round, R1V4Client.stream",
    "async": "loop round, AsyncR1V4Client.stream",
}


def _prompt(rounds: int, think: int, mode: str) -> str:
    return f"[rounds {rounds} think {think} {mode}] What is in the corner?"


# ------------------------------------------------------------------------------ the server


def _reasoning(chars: int) -> str:
    words = "the crop should show the corner of the picture so I look at it closely "
    return (words * (chars // len(words) + 1))[:chars].strip()


def _first_text(messages: Sequence[Any]) -> str:
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _observations(messages: Sequence[Any]) -> int:
    """How many observations the request carries (user messages opening with the tag)."""
    return sum(
        1
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user" and "<observation>" in _first_text([m])
    )


class _Rounds:
    """The server side: a ``code`` call each round until the prompt's count of observations
    came back, then the answer."""

    def __call__(self, record: Any) -> Any:
        from r1v4.testing import Reply, tool_call

        m = _MARK.search(_first_text(record.messages))
        if m is None:
            return Reply(content="not a loop request")
        rounds, think, mode = int(m.group(1)), int(m.group(2)), m.group(3)
        if _observations(record.messages) >= rounds:
            return Reply(content=ANSWER, chunk_size=CHUNK)
        call = tool_call("code", {"code": CROP}).rstrip("\n")
        reasoning = _reasoning(think)
        if mode == "split":
            return Reply(reasoning=reasoning, content=call, chunk_size=CHUNK)
        return Reply(content=f"<think>{reasoning}</think>{call}", chunk_size=CHUNK)


def serve(port: int) -> int:
    """The figure's server. Each line read names how many of the newest requests to report:
    one JSON line answers, ``[received_at, completed_at, body bytes, status]`` for each."""
    from r1v4.testing import LocalR1V4Server

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    rounds = _Rounds()
    with LocalR1V4Server(api_key=API_KEY, port=port, max_records=64) as server:
        server.enqueue(*([rounds] * 1000))
        print(json.dumps({"base_url": server.base_url}), flush=True)
        for line in sys.stdin:
            records = server.requests[-int(line) :]
            for r in records:
                r.wait_finished()
            out = [[r.received_at, r.completed_at, len(r.raw_body), r.status] for r in records]
            print(json.dumps(out), flush=True)
            if server.pending < 500:
                server.enqueue(*([rounds] * 1000))
    return 0


class LoopServer(ChildServer):
    """``python -m benchmarks._loop_round serve`` as a child process, asked for its records."""

    def __init__(self) -> None:
        super().__init__("benchmarks._loop_round")

    def records(self, n: int) -> list[list[Any]]:
        """The newest ``n`` requests: ``[received_at, completed_at, body bytes, status]``."""
        out: list[list[Any]] = self.ask(str(n))
        if len(out) != n or any(r[3] != 200 for r in out):
            raise SystemExit(f"the server saw {out}, not {n} answered requests")
        return out


# ------------------------------------------------------------------------------ the client


def _tools_class() -> Any:
    from r1v4.tools import R1V4Tools

    class StampedTools(R1V4Tools):
        """R1V4's tools, each run's start and end stamped on the servers' clock."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # (start, end) on the servers' clock, and this process's CPU time at the end.
            self.stamps: list[tuple[float, float, float]] = []

        def run(self, call: Any, images: Any = ()) -> Any:
            start = time.monotonic()
            result = super().run(call, images)
            self.stamps.append((start, time.monotonic(), time.process_time()))
            return result

        async def arun(self, call: Any, images: Any = ()) -> Any:
            start = time.monotonic()
            result = await super().arun(call, images)
            self.stamps.append((start, time.monotonic(), time.process_time()))
            return result

    return StampedTools


class _Instant:
    """An executor that answers at once, in this process (14b: the loop without the sandbox)."""

    def __init__(self, image: bytes | None) -> None:
        from r1v4.tools import CodeOutcome, ToolImage

        images = () if image is None else (ToolImage.from_bytes("crop.png", image),)
        self.outcome = CodeOutcome(output="(256, 256)\n", images=images)

    def run(self, job: Any) -> Any:
        return self.outcome


def _png(size: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), "orange").save(buf, "PNG")
    return buf.getvalue()


def _messages(prompt: str, image: bytes) -> list[dict[str, Any]]:
    uri = "data:image/png;base64," + base64.b64encode(image).decode("ascii")
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": prompt},
                {"type": "image_url", "image_url": {"url": uri}},
            ],
        }
    ]


def _check(reply: Any, rounds: int) -> None:
    kinds = [type(e).__name__ for e in reply.message.events]
    if reply.message.content != ANSWER_TEXT or kinds.count("ServerToolResult") != rounds:
        raise SystemExit(f"the reply went wrong: {reply.message.content!r} {kinds}")


class Rounds:
    """Replies through one sync and one async client (each made once, as an application does),
    and what the server saw of their rounds."""

    def __init__(self, server: LoopServer) -> None:
        import httpx

        from r1v4 import AsyncR1V4Client, R1V4Client

        self.server = server
        self.loop = asyncio.new_event_loop()
        # Each request stamped as httpx is about to send it (its body built): wall time on the
        # server's clock, and this process's CPU time.
        self.sent: list[tuple[float, float]] = []
        self.bodies: list[bytes] = []

        def stamp(request: httpx.Request) -> None:
            self.sent.append((time.monotonic(), time.process_time()))
            self.bodies.append(request.content)

        async def astamp(request: httpx.Request) -> None:
            stamp(request)

        self._http = httpx.Client(timeout=60, event_hooks={"request": [stamp]})
        self.sync = R1V4Client(base_url=server.base_url, api_key=API_KEY, http_client=self._http)

        async def aclient() -> httpx.AsyncClient:
            return httpx.AsyncClient(timeout=60, event_hooks={"request": [astamp]})

        self._ahttp = self.loop.run_until_complete(aclient())
        self.aio = AsyncR1V4Client(
            base_url=server.base_url, api_key=API_KEY, http_async_client=self._ahttp
        )

    def reply(self, tools: Any, messages: list[dict[str, Any]], rounds: int, aio: bool) -> Any:
        from r1v4 import accumulate

        gc.collect()  # not on this reply's clock: the garbage of what ran before

        fields: dict[str, Any] = {"model": MODEL, "messages": messages, "builtin_tools": tools}
        if aio:

            async def go() -> list[Any]:
                return [chunk async for chunk in self.aio.stream(**fields)]

            chunks = self.loop.run_until_complete(go())
        else:
            chunks = list(self.sync.stream(**fields))
        reply = accumulate(chunks)
        _check(reply, rounds)
        return reply

    def gaps(self, tools: Any, rounds: int) -> list[dict[str, float]]:
        """Each round of the last reply: the gap (round sent -> follow-up received) and its
        parts, in ms, with the follow-up body's size."""
        records = self.server.records(rounds + 1)  # the reply's requests, oldest first
        stamps = tools.stamps[-rounds:]
        follow_ups = self.sent[-rounds:]
        bodies = self.bodies[-rounds:]
        del self.sent[:-1], self.bodies[:-1]
        out = []
        for i in range(rounds):
            sent, received, size = records[i][1], records[i + 1][0], records[i + 1][2]
            start, end, cpu = stamps[i]
            built, built_cpu = follow_ups[i]
            if len(bodies[i]) != size:
                raise SystemExit(f"the server got {size} bytes, the client sent {len(bodies[i])}")
            out.append(
                {
                    "gap": (received - sent) * 1e3,
                    "before": (start - sent) * 1e3,
                    "run": (end - start) * 1e3,
                    "after": (received - end) * 1e3,
                    "built": (built - end) * 1e3,
                    "built_cpu": (built_cpu - cpu) * 1e3,
                    "body_bytes": size,
                    "encode_cpu": _encode_cpu(bodies[i]),
                }
            )
        return out

    def close(self) -> None:
        self._http.close()
        self.loop.run_until_complete(self._ahttp.aclose())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def _encode_cpu(body: bytes) -> float:
    """CPU ms to encode ``body``'s JSON from Python objects as the client does: the least any
    client spends on building that request (the best of three)."""
    obj = json.loads(body)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        best = min(best, time.process_time() - start)
    return best * 1e3


def one_round(rounds: Rounds, sandbox: Any, repeats: int) -> dict[str, Any]:
    """14a: bare bwrap, ``R1V4Tools.run`` alone and one loop round (sync and async),
    interleaved."""
    image = _image()
    tools = _tools_class()(executor=sandbox)
    messages = _messages(_prompt(1, 200, "inline"), image)
    call = {"name": "code", "arguments": {"code": CROP}}
    bare = _bare(sandbox.bwrap)

    def floor() -> dict[str, float]:
        start = time.perf_counter()
        subprocess.run(bare, check=True)
        return {"gap": (time.perf_counter() - start) * 1e3}

    def run() -> dict[str, float]:
        gc.collect()
        start = time.perf_counter()
        result = tools.run(call, [image])
        took = (time.perf_counter() - start) * 1e3
        if result.status != "ok" or len(result.images) != 1:
            raise SystemExit(f"the run went wrong: {result.status} {result.observation[:500]}")
        return {"gap": took}

    def loop_round(aio: bool) -> Callable[[], dict[str, float]]:
        def measure() -> dict[str, float]:
            rounds.reply(tools, messages, 1, aio)
            (out,) = rounds.gaps(tools, 1)
            out["run_to_sent"] = out["run"] + out["after"]
            return out

        return measure

    contenders: dict[str, Callable[[], dict[str, float]]] = {
        "floor": floor,
        "run": run,
        "sync": loop_round(False),
        "async": loop_round(True),
    }
    for fn in contenders.values():  # warm-up (and the checks)
        fn()
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(contenders[name]())

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    def ratio(name: str, other: str, key: str = "gap") -> float:
        pairs = zip(samples[name], samples[other], strict=True)
        return statistics.median(a[key] / b["gap"] for a, b in pairs)

    out: dict[str, Any] = {
        "time_ms": {n: median(n, "gap") for n in names},
        "x_floor": {n: ratio(n, "floor") for n in names},
        "x_run": {n: ratio(n, "run") for n in names},
        "samples_ms": samples,
    }
    for name in ("sync", "async"):
        parts = {k: median(name, k) for k in ("before", "run", "after", "built_cpu")}
        parts["own"] = statistics.median(s["gap"] - s["run"] for s in samples[name])
        parts["run_to_sent"] = median(name, "run_to_sent")
        parts["run_to_sent_x_floor"] = ratio(name, "floor", "run_to_sent")
        out[name] = parts
    return out


def growth(rounds: Rounds, counts: Sequence[int], replies: int) -> dict[str, Any]:
    """14b: the gap after each round of a reply of ``max(counts)`` rounds, for each kind of
    round, the sandbox replaced by an executor that answers at once."""
    image = _png(256)
    most = max(counts)
    out: dict[str, Any] = {}
    for kind in KINDS:
        tools = _tools_class()(
            executor=_Instant(_png(64) if kind == "images" else None), max_tool_rounds=most
        )
        mode = "split" if kind == "split" else "inline"
        messages = _messages(_prompt(most, THINK_CHARS, mode), image)
        rounds.reply(tools, messages, most, False)  # warm-up (and the check)
        rounds.gaps(tools, most)
        per_reply = []
        for _ in range(replies):
            rounds.reply(tools, messages, most, False)
            per_reply.append(rounds.gaps(tools, most))
        out[kind] = {
            str(n): {
                key: statistics.median(r[n - 1][key] for r in per_reply)
                for key in (
                    "gap",
                    "before",
                    "run",
                    "after",
                    "built",
                    "built_cpu",
                    "body_bytes",
                    "encode_cpu",
                )
            }
            for n in counts
        }
        for n in counts:
            for key in ("gap", "after", "built_cpu"):
                out[kind][str(n)][f"{key}_x_first"] = statistics.median(
                    r[n - 1][key] / r[0][key] for r in per_reply
                )

            def rest(r: dict[str, float]) -> float:
                return r["built_cpu"] - r["encode_cpu"]

            # The loop's CPU less the body's encoding, against round 1's: what grows besides
            # the request the round must send.
            out[kind][str(n)]["rest_x_first"] = statistics.median(
                rest(r[n - 1]) / rest(r[0]) for r in per_reply
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._loop_round")
    sub = parser.add_subparsers(dest="command")
    srv = sub.add_parser("serve")
    srv.add_argument("--port", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", default="1,4,16")
    parser.add_argument("--replies", type=int, default=7)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.port)
    from r1v4.tools import BubblewrapSandbox, SandboxUnavailableError

    try:
        sandbox = BubblewrapSandbox()
    except SandboxUnavailableError as exc:
        json.dump({"unavailable": str(exc)}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    counts = [int(n) for n in args.rounds.split(",")]
    load_before = os.getloadavg()
    with LoopServer() as server:
        rounds = Rounds(server)
        try:
            out: dict[str, Any] = {
                "repeats": args.repeats,
                "replies": args.replies,
                "one_round": one_round(rounds, sandbox, args.repeats),
                "growth": growth(rounds, counts, args.replies),
                "rounds": counts,
                "think_chars": THINK_CHARS,
                "chunk_chars": CHUNK,
                "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
                "code": CROP,
            }
        finally:
            rounds.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


def rows(s: Sizes) -> tuple[list[Row], dict[str, Any]]:
    args = ["benchmarks._loop_round", "--repeats", str(s.loop_repeats)]
    args += ["--rounds", ",".join(map(str, s.loop_rounds)), "--replies", str(s.loop_replies)]
    # As figure 13: the sandbox's bytecode written once.
    raw = run_child(args, 600, bytecode_env())
    figure = "14 one tool-loop round (round sent to follow-up received)"
    if "unavailable" in raw:
        return [missing_row(figure, "BubblewrapSandbox", raw["unavailable"], "ms")], raw
    one = raw["one_round"]
    out = []
    for key, name in NAMES.items():
        value = one["time_ms"][key]
        text = f"{value:.1f} ms"
        if key in ("sync", "async"):
            text += f", {one['x_run'][key]:.2f}× the run alone"
            p = one[key]
            text += (
                f" (before the run {p['before']:.1f}, run {p['run']:.1f}, "
                f"after {p['after']:.1f} ms)"
            )
        row = Row(
            figure,
            name,
            value,
            "ms",
            text,
            x_floor=None if key == "floor" else one["x_floor"][key],
        )
        out.append(row)
    for key in ("sync", "async"):
        p = one[key]
        out.append(
            Row(
                figure,
                f"  the loop's own share, {key} (gap − its run)",
                p["own"],
                "ms",
                f"{p['own']:.2f} ms (CPU, run end to follow-up built: {p['built_cpu']:.2f} ms)",
            )
        )
    load = raw["load_average"]["before"][0]
    out[2].note = (
        f"sandbox start to follow-up received: {one['sync']['run_to_sent']:.1f} ms, "
        f"{one['sync']['run_to_sent_x_floor']:.1f}× the bare bwrap start; load average "
        f"{load:.1f} when these rounds began"
    )
    growth_figure = "14b the loop's own CPU per round (run end to follow-up built)"
    first = len(out)
    for kind, label in KINDS.items():
        for n in raw["rounds"]:
            g = raw["growth"][kind][str(n)]
            out.append(
                Row(
                    growth_figure,
                    f"after round {n}, {label}",
                    g["built_cpu"],
                    "ms",
                    f"{g['built_cpu']:.2f} ms, {g['built_cpu_x_first']:.2f}× round 1; "
                    f"less the body's JSON ({g['body_bytes'] / 1024:.0f} KB, "
                    f"{g['encode_cpu']:.2f} ms) {g['rest_x_first']:.2f}×; gap {g['gap']:.1f} ms",
                )
            )
    out[first].note = (
        f"replies of {max(raw['rounds'])} rounds through R1V4Client.stream, each round "
        f"{raw['think_chars']:,} characters of reasoning in {raw['chunk_chars']}-character "
        f"deltas then the call, run by an executor that answers at once; medians over "
        f"{raw['replies']} replies"
    )
    return out, raw


if __name__ == "__main__":
    sys.exit(main())
