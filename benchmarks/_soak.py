"""The soak (``--only soak``): thousands of calls over every path, faults injected at random, at
high concurrency, proving that nothing is lost under load.

Each call takes one of the twelve paths (core, ``ChatR1V4``, ``R1V4``; sync and async; stream and
not) and one fault, both drawn from a seeded random stream, and says which fault in its prompt.
A local R1V4 server in a process of its own (``python -m benchmarks._soak serve``) answers each
request by that name: a reset or a dropped connection mid-stream, a stall past the read timeout,
a 5xx or 429 once (then the answer) or for good, a malformed chunk, a connection held open after
``[DONE]``. Every call must end in its exact answer or in a typed ``R1V4Error``, as its fault
says; none may raise anything else, and none may hang. The calls run in waves: after each, the
client process's RSS is read, and at the end the sockets still open and the pool slots still
held, once every client is closed.

``python -m benchmarks._soak BASE_URL --calls 20000 --concurrency 200`` prints one JSON object;
``rows()`` starts the server, runs that in a child process and turns it into rows. A full run
also writes its figures into docs/reliability.md (between the soak markers).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gc
import json
import random
import re
import resource
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

from benchmarks._conns import install, open_sockets
from benchmarks._harness import ChildServer, run_child
from benchmarks._report import Row, verdict
from benchmarks._server import API_KEY, MODEL

MB = 1024 * 1024
READ_TIMEOUT = 2.0  # the clients' read timeout: a stall fault stalls longer
DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
SOAK_START, SOAK_END = "<!-- soak:start -->", "<!-- soak:end -->"

# ------------------------------------------------------------------------------ the faults


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    # True: must end in the answer; False: must end in a typed error; None: either, by path.
    stream_ok: bool | None
    create_ok: bool | None
    weight: int


FAULTS = {
    f.name: f
    for f in (
        Fault("none", "a plain answer", True, True, 40),
        Fault("503-once", "HTTP 503, then the answer", True, True, 8),
        Fault("429-once", "HTTP 429 with Retry-After: 0.01, then the answer", True, True, 8),
        Fault("500-always", "HTTP 500 on every attempt", False, False, 5),
        Fault("reset", "TCP reset after 3 events (mid-body)", False, False, 8),
        Fault("drop", "connection closed mid-body after 3 events", False, False, 8),
        Fault(
            "stall",
            f"no byte for 4 s after 2 events (read timeout {READ_TIMEOUT} s)",
            False,
            True,
            4,
        ),  # non-stream replies ignore stall_after
        Fault("malformed", "a chunk that is not JSON after 3 events", False, True, 8),
        Fault("hold-after-done", "connection held open 5 s after [DONE]", True, True, 8),
        Fault("finish-empty", 'finish_reason "" on every chunk', True, True, 3),
    )
}


def answer_for(call_id: int) -> str:
    return f"Soak answer {call_id}: all of it, exactly as sent, including the last word."


_MARK = re.compile(r"\[soak (\S+) (\d+)\]")


class _Replies:
    """The server side: the reply a request's prompt names. ``*-once`` faults hit each call's
    first attempt only (its retry gets the answer)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, record: Any) -> Any:
        from r1v4.testing import Reply

        m = _MARK.search(record.last_user_text or "")
        if m is None:
            return Reply(content="not a soak request")
        fault, call_id = m.group(1), int(m.group(2))
        ok = Reply(content=answer_for(call_id), chunk_size=6)
        if fault.endswith("-once"):
            with self._lock:
                first = call_id not in self._seen
                self._seen.add(call_id)
            if not first:
                return ok
            if fault == "503-once":
                return Reply(status=503)
            return Reply(status=429, headers={"Retry-After": "0.01"})
        if fault == "500-always":
            return Reply(status=500)
        if fault == "reset":
            return Reply(content=answer_for(call_id), chunk_size=6, drop_after=3, drop_mode="reset")
        if fault == "drop":
            return Reply(content=answer_for(call_id), chunk_size=6, drop_after=3)
        if fault == "stall":
            return Reply(content=answer_for(call_id), chunk_size=6, stall_after=2, stall_seconds=4)
        if fault == "malformed":
            return Reply(content=answer_for(call_id), chunk_size=6, malformed_after=3)
        if fault == "hold-after-done":
            return Reply(content=answer_for(call_id), chunk_size=6, hold_after_done=5.0)
        if fault == "finish-empty":
            return Reply(content=answer_for(call_id), chunk_size=6, chunk_finish_reason="")
        return ok


def serve(port: int) -> int:
    """The soak's server: the local server, its queue kept full of :class:`_Replies`."""
    from r1v4.testing import LocalR1V4Server

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    replies = _Replies()
    with LocalR1V4Server(api_key=API_KEY, port=port, max_records=100) as server:
        print(json.dumps({"base_url": server.base_url}), flush=True)
        while not stop.wait(0.05):
            if server.pending < 2000:
                server.enqueue(*([replies] * 2000))
    return 0


class SoakServer(ChildServer):
    """``python -m benchmarks._soak serve`` as a child process."""

    def __init__(self) -> None:
        super().__init__("benchmarks._soak")


# ------------------------------------------------------------------------------ the client


class Clients:
    """One object per framework and kind, shared by every call, as an application shares it."""

    def __init__(self, base_url: str) -> None:
        from langchain_r1v4 import ChatR1V4
        from llama_index_r1v4 import R1V4
        from r1v4 import AsyncR1V4Client, R1V4Client

        settings: dict[str, Any] = {"api_key": API_KEY, "base_url": base_url, "max_retries": 2}
        self.core = R1V4Client(timeout=READ_TIMEOUT, backoff=0.01, **settings)
        self.acore = AsyncR1V4Client(timeout=READ_TIMEOUT, backoff=0.01, **settings)
        self.lc = ChatR1V4(model=MODEL, timeout=READ_TIMEOUT, **settings)
        self.li = R1V4(model=MODEL, timeout=READ_TIMEOUT, **settings)

    async def aclose(self) -> None:
        self.core.close()
        await self.acore.aclose()
        self.lc.client.close()
        await self.lc.async_client.aclose()
        self.li.close()
        await self.li.aclose()

    async def http_clients(self) -> list[Any]:
        """Every pool the calls used (the async ones of this loop)."""
        return [
            self.core.http_client,
            self.lc.client.http_client,
            self.li.client.http_client,
            await self.acore.http_client(),
            await self.lc.async_client.http_client(),
            await self.li.async_client.http_client(),
        ]


def _messages(prompt: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": prompt}]


def _core_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def run_sync(c: Clients, path: str, prompt: str, parts: list[str]) -> str:
    from langchain_core.messages import HumanMessage
    from llama_index.core.llms import ChatMessage

    if path == "core-create":
        return c.core.create(model=MODEL, messages=_messages(prompt)).message.content
    if path == "core-stream":
        for chunk in c.core.stream(model=MODEL, messages=_messages(prompt)):
            parts.extend(ch.delta.content for ch in chunk.choices if ch.delta.content)
        return "".join(parts)
    if path == "lc-invoke":
        return str(c.lc.invoke([HumanMessage(prompt)]).content)
    if path == "lc-stream":
        for piece in c.lc.stream([HumanMessage(prompt)]):
            if piece.content:
                parts.append(str(piece.content))
        return "".join(parts)
    if path == "li-chat":
        return c.li.chat([ChatMessage(role="user", content=prompt)]).message.content or ""
    if path == "li-stream_chat":
        for r in c.li.stream_chat([ChatMessage(role="user", content=prompt)]):
            if r.delta:
                parts.append(r.delta)
        return "".join(parts)
    raise ValueError(path)


async def run_async(c: Clients, path: str, prompt: str, parts: list[str]) -> str:
    from langchain_core.messages import HumanMessage
    from llama_index.core.llms import ChatMessage

    if path == "core-acreate":
        return (await c.acore.create(model=MODEL, messages=_messages(prompt))).message.content
    if path == "core-astream":
        async for chunk in c.acore.stream(model=MODEL, messages=_messages(prompt)):
            parts.extend(ch.delta.content for ch in chunk.choices if ch.delta.content)
        return "".join(parts)
    if path == "lc-ainvoke":
        return str((await c.lc.ainvoke([HumanMessage(prompt)])).content)
    if path == "lc-astream":
        async for piece in c.lc.astream([HumanMessage(prompt)]):
            if piece.content:
                parts.append(str(piece.content))
        return "".join(parts)
    if path == "li-achat":
        msg = [ChatMessage(role="user", content=prompt)]
        return (await c.li.achat(msg)).message.content or ""
    if path == "li-astream_chat":
        async for r in await c.li.astream_chat([ChatMessage(role="user", content=prompt)]):
            if r.delta:
                parts.append(r.delta)
        return "".join(parts)
    raise ValueError(path)


SYNC_PATHS = ("core-create", "core-stream", "lc-invoke", "lc-stream", "li-chat", "li-stream_chat")
ASYNC_PATHS = (
    "core-acreate",
    "core-astream",
    "lc-ainvoke",
    "lc-astream",
    "li-achat",
    "li-astream_chat",
)
PATHS = SYNC_PATHS + ASYNC_PATHS


def _is_stream(path: str) -> bool:
    return "stream" in path


@dataclass
class Tally:
    outcomes: Counter[str]
    unexpected: list[str]
    untyped: list[str]


def judge(path: str, fault: Fault, call_id: int, text: str | None, exc: BaseException | None,
          parts: list[str], tally: Tally) -> None:  # fmt: skip
    from r1v4 import APITimeoutError, R1V4Error

    want = fault.stream_ok if _is_stream(path) else fault.create_ok
    where = f"call {call_id} {path} {fault.name}"
    if exc is None:
        tally.outcomes["answer"] += 1
        if text != answer_for(call_id):
            tally.unexpected.append(f"{where}: wrong answer {text!r}")
        elif want is False:
            tally.unexpected.append(f"{where}: answered, expected a typed error")
        return
    if not isinstance(exc, R1V4Error):
        tally.untyped.append(f"{where}: {type(exc).__name__}: {exc}")
        return
    tally.outcomes[type(exc).__name__] += 1
    if want is True:
        tally.unexpected.append(f"{where}: {type(exc).__name__}: {exc}")
    elif isinstance(exc, APITimeoutError) and fault.name != "stall":
        tally.unexpected.append(f"{where}: timed out: {exc}")
    elif not exc.partial_content.startswith("".join(parts)):
        tally.unexpected.append(f"{where}: partial_content lost text the caller saw")


async def soak(
    base_url: str, calls: int, concurrency: int, waves: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    names = list(FAULTS)
    weights = [FAULTS[n].weight for n in names]
    plan = [(i, rng.choice(PATHS), FAULTS[rng.choices(names, weights)[0]]) for i in range(calls)]
    clients = Clients(base_url)
    tally = Tally(Counter(), [], [])
    gate = asyncio.Semaphore(concurrency)
    threads = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency)
    loop = asyncio.get_running_loop()
    proc = psutil.Process()

    async def one(call_id: int, path: str, fault: Fault) -> None:
        prompt = f"[soak {fault.name} {call_id}] Say the soak answer."
        parts: list[str] = []
        text: str | None = None
        exc: BaseException | None = None
        async with gate:
            try:
                if path in SYNC_PATHS:
                    text = await loop.run_in_executor(
                        threads, run_sync, clients, path, prompt, parts
                    )
                else:
                    text = await run_async(clients, path, prompt, parts)
            except Exception as e:  # judged below: typed or not
                exc = e
        judge(path, fault, call_id, text, exc, parts, tally)

    rss: list[float] = []
    per_wave = -(-calls // waves)
    start = time.perf_counter()
    for w in range(waves):
        batch = plan[w * per_wave : (w + 1) * per_wave]
        await asyncio.wait_for(asyncio.gather(*(one(*p) for p in batch)), timeout=900)
        gc.collect()
        rss.append(proc.memory_info().rss / MB)
    wall = time.perf_counter() - start
    leaked = sum(_pool_in_use(h) for h in await clients.http_clients())
    await clients.aclose()
    threads.shutdown(wait=True)
    return {
        "calls": calls,
        "concurrency": concurrency,
        "waves": waves,
        "seed": seed,
        "wall_s": wall,
        "faults": dict(Counter(f.name for _, _, f in plan)),
        "paths": dict(Counter(p for _, p, _ in plan)),
        "outcomes": dict(tally.outcomes),
        "unexpected": len(tally.unexpected),
        "unexpected_samples": tally.unexpected[:5],
        "untyped": len(tally.untyped),
        "untyped_samples": tally.untyped[:5],
        "pool_slots_leaked": leaked,
        "rss_mb_by_wave": rss,
    }


def _pool_in_use(http: httpx.Client | httpx.AsyncClient) -> int:
    """Requests still holding a connection of httpcore's pool (read, never changed)."""
    pool = getattr(getattr(http, "_transport", None), "_pool", None)
    requests = getattr(pool, "_requests", None) or []
    return sum(1 for r in requests if getattr(r, "connection", None) is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._soak")
    sub = parser.add_subparsers(dest="command")
    srv = sub.add_parser("serve")
    srv.add_argument("--port", type=int, default=0)
    run = sub.add_parser("run")
    run.add_argument("base_url")
    run.add_argument("--calls", type=int, default=20_000)
    run.add_argument("--concurrency", type=int, default=200)
    run.add_argument("--waves", type=int, default=10)
    run.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, 8 * args.concurrency + 256))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    install()
    result = asyncio.run(soak(args.base_url, args.calls, args.concurrency, args.waves, args.seed))
    result["sockets_left"] = open_sockets(httpx.URL(args.base_url).port or 0)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


# ------------------------------------------------------------------------------ the figure


def rss_growth(rss: list[float]) -> float:
    """RSS growth after warm-up (the first fifth of the waves, at least one): the highest
    reading after it, over the reading at its end."""
    warm = max(1, len(rss) // 5)
    return max(rss[warm - 1 :]) - rss[warm - 1]


def rows(calls: int, concurrency: int, full: bool) -> tuple[list[Row], dict[str, Any]]:
    waves = 10 if calls >= 1000 else 2
    with SoakServer() as server:
        raw = run_child(
            ["benchmarks._soak", "run", server.base_url, "--calls", str(calls),
             "--concurrency", str(concurrency), "--waves", str(waves)],
            timeout=3600,
        )  # fmt: skip
    who = "all 12 paths"
    title = f"11 soak: {calls:,} calls, concurrency {concurrency}"
    growth = rss_growth(raw["rss_mb_by_wave"])
    # Each must be zero; the first two name a sample or two of what went wrong.
    zeros = (
        ("wrong outcomes", "unexpected", "calls"),
        ("untyped exceptions", "untyped", "calls"),
        ("sockets left", "sockets_left", "sockets"),
        ("pool slots leaked", "pool_slots_leaked", "slots"),
    )
    out = [
        Row(f"{title}: wall", who, raw["wall_s"], "s", f"{raw['wall_s']:.1f} s"),
        *(
            Row(
                f"{title}: {label}",
                who,
                raw[key],
                unit,
                str(raw[key]),
                target="= 0",
                status=verdict(raw[key] == 0),
                note="; ".join(raw.get(f"{key}_samples", [])[:2]),
            )
            for label, key, unit in zeros
        ),
        Row(
            f"{title}: RSS growth after warm-up",
            who,
            growth,
            "MB",
            f"{growth:.1f} MB (waves: "
            + ", ".join(f"{r:.0f}" for r in raw["rss_mb_by_wave"])
            + ")",
            target="≤ 20 MB",
            status=verdict(growth <= 20),
        ),
    ]
    if full:
        write_doc(raw, growth)
    return out, raw


def write_doc(raw: dict[str, Any], growth: float) -> None:
    """The soak's section of docs/reliability.md (kept there by the page's generator)."""
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(raw["outcomes"].items()))
    lines = [
        SOAK_START,
        "## Under load: the soak",
        "",
        "<!-- Written by `python -m benchmarks --only soak` (benchmarks/_soak.py). -->",
        "",
        f"{raw['calls']:,} calls at concurrency {raw['concurrency']}, over all 12 paths "
        f"(drawn at random, seed {raw['seed']}), each with a fault drawn at random, against the "
        f"local server in another process; {raw['wall_s']:.0f} s on this machine.",
        "",
        "| fault | what | calls |",
        "|---|---|---|",
        *(
            f"| `{name}` | {FAULTS[name].what} | {raw['faults'].get(name, 0):,} |"
            for name in FAULTS
        ),
        "",
        f"- Every call ended as its fault says (the exact answer, or a typed `R1V4Error` keeping "
        f"the text already streamed): **{raw['unexpected']}** did not, **{raw['untyped']}** "
        f"raised anything else. Outcomes: {outcomes}.",
        f"- Sockets left open once the clients closed: **{raw['sockets_left']}**; pool slots "
        f"still held: **{raw['pool_slots_leaked']}**.",
        f"- RSS after each of {raw['waves']} waves (MB): "
        + ", ".join(f"{r:.0f}" for r in raw["rss_mb_by_wave"])
        + f"; growth after warm-up **{growth:.1f} MB**.",
        SOAK_END,
        "",
    ]
    block = "\n".join(lines)
    text = DOC.read_text() if DOC.exists() else ""
    start, end = text.find(SOAK_START), text.find(SOAK_END)
    if start >= 0 and end > start:
        text = text[:start] + block + text[end + len(SOAK_END) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOC.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
