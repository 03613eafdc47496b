"""The load generator process: `python -m bench.loadgen` reads one JSON command per line on stdin and answers
one JSON line on stdout, so the driver can keep it (and its CPU) apart from the processes it measures.

Commands:
- `{"op": "stream", "target": {...}, "concurrency": C, "duration_s": D}`: C workers, each on its own
  keep-alive connection, send requests back to back until D seconds have passed; answers counts, tokens,
  elapsed time, every time to first token and the inter-token gaps. A request still streaming after
  `request_timeout_s` (default 20) is counted as failed.
- `{"op": "post", "target": {...}, "concurrency": C, "count": N | "duration_s": D}`: POST /v1/tasks as fast as
  C connections allow (closed loop), N times or for D seconds; answers the statuses and every latency.
- `{"op": "paced_post", "target": {...}, "concurrency": C, "rate": R, "duration_s": D}`: POST /v1/tasks
  at R requests/s for D seconds (open loop), request i scheduled at i/R and sent on connection i mod C;
  every latency counts from the scheduled time (or the send, if earlier), so a late send (a busy
  connection or a slow client) shows as latency instead of silently lowering the offered rate (no
  coordinated omission). Answers the statuses, every latency and every send lag (actual minus scheduled
  send time).
- `{"op": "quit"}`.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from bench.arms import StreamResult, Target, run_one, task_body
from bench.rawhttp import Connection, HttpError, build_request
from bench.stats import GapSamples

Command = dict[str, Any]
REQUEST_TIMEOUT_S = 20.0


def target_of(command: Command) -> Target:
    spec = command["target"]
    return Target(
        arm=spec["arm"],
        host=spec["host"],
        port=int(spec["port"]),
        max_tokens=int(spec["max_tokens"]),
        model=spec["model"],
        wire=spec.get("wire", "llamacpp"),
    )


async def _open_all(target: Target, concurrency: int) -> list[Connection]:
    """Connections opened before the clock starts, so connection set-up is not counted as latency."""
    conns = [Connection(target.host, target.port) for _ in range(concurrency)]
    # A refused connection is retried (and counted) by the request that needs it.
    await asyncio.gather(*(conn.connect() for conn in conns), return_exceptions=True)
    return conns


async def stream_load(command: Command) -> dict[str, Any]:
    target = target_of(command)
    concurrency = int(command["concurrency"])
    conns = await _open_all(target, concurrency)
    seeds = itertools.count(1)
    ttfts: list[float] = []
    gaps = GapSamples()
    errors: Counter[str] = Counter()
    totals = {"requests": 0, "failed": 0, "tokens": 0}
    started = time.perf_counter()
    deadline = started + float(command["duration_s"])

    timeout_s = float(command.get("request_timeout_s", REQUEST_TIMEOUT_S))

    async def worker(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            try:
                async with asyncio.timeout(timeout_s):
                    result = await run_one(conn, target, next(seeds))
            except TimeoutError:
                # A stream that never ends must not stall the benchmark; the connection is unusable now.
                await conn.close()
                result = StreamResult(ok=False, error=f"no end of stream within {timeout_s:g} s")
            totals["requests"] += 1
            totals["tokens"] += result.tokens
            gaps.merge(result.gaps)
            if result.ttft_ms is not None:
                ttfts.append(result.ttft_ms)
            if not result.ok:
                totals["failed"] += 1
                errors[result.error or "unknown"] += 1
                await asyncio.sleep(0.01)  # a failing server must not turn the client into a busy loop

    await asyncio.gather(*(worker(conn) for conn in conns))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(conn.close() for conn in conns))
    return {
        **totals,
        "elapsed_s": elapsed,
        "errors": dict(errors.most_common(5)),
        "ttft_ms": [round(t, 3) for t in ttfts],
        "gaps_us": gaps.to_json(),
    }


async def _post(conn: Connection, request: bytes) -> int:
    """The status of one request whose body is read and dropped; 0 when the connection broke."""
    try:
        head = await conn.send(request)
        await conn.body(head)
    except HttpError:
        return 0
    return head.status


async def post_load(command: Command) -> dict[str, Any]:
    """POST /v1/tasks from C connections, `count` times or for `duration_s` seconds."""
    target = target_of(command)
    concurrency = int(command["concurrency"])
    conns = await _open_all(target, concurrency)
    host = f"{target.host}:{target.port}"
    count = command.get("count")
    remaining = itertools.count() if count is None else iter(range(int(count)))
    statuses: Counter[int] = Counter()
    latencies: dict[int, list[float]] = {}
    started = time.perf_counter()
    deadline = started + float(command.get("duration_s") or 1e9)
    body = build_request("POST", host, "/v1/tasks", task_body(target, 1))

    async def worker(conn: Connection) -> None:
        for _ in remaining:
            if time.perf_counter() >= deadline:
                return
            sent = time.perf_counter()
            status = await _post(conn, body)
            latencies.setdefault(status, []).append((time.perf_counter() - sent) * 1000.0)
            statuses[status] += 1

    await asyncio.gather(*(worker(conn) for conn in conns))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(conn.close() for conn in conns))
    return {
        "elapsed_s": elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
        "latency_ms": {str(k): [round(t, 4) for t in v] for k, v in latencies.items()},
    }


async def paced_post_load(command: Command) -> dict[str, Any]:
    """POST /v1/tasks at a fixed offered rate from C connections, latency from the scheduled send time."""
    target = target_of(command)
    concurrency = int(command["concurrency"])
    rate = float(command["rate"])
    total = max(1, round(rate * float(command["duration_s"])))
    conns = await _open_all(target, concurrency)
    body = build_request("POST", f"{target.host}:{target.port}", "/v1/tasks", task_body(target, 1))
    statuses: Counter[int] = Counter()
    latencies: dict[int, list[float]] = {}
    lags: list[float] = []
    # Every worker is asleep before the first scheduled send.
    start = time.perf_counter() + 0.05

    async def worker(first: int, conn: Connection) -> None:
        for index in range(first, total, concurrency):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            status = await _post(conn, body)
            done = time.perf_counter()
            lags.append((sent - scheduled) * 1000.0)
            # A timer may wake a little early: then the latency counts from the actual send.
            latencies.setdefault(status, []).append((done - min(scheduled, sent)) * 1000.0)
            statuses[status] += 1

    await asyncio.gather(*(worker(first, conn) for first, conn in enumerate(conns)))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(conn.close() for conn in conns))
    return {
        "elapsed_s": elapsed,
        "offered_per_s": rate,
        "statuses": {str(k): v for k, v in statuses.items()},
        "latency_ms": {str(k): [round(t, 4) for t in v] for k, v in latencies.items()},
        "send_lag_ms": [round(t, 4) for t in lags],
    }


HANDLERS: dict[str, Callable[[Command], Coroutine[Any, Any, dict[str, Any]]]] = {
    "stream": stream_load,
    "post": post_load,
    "paced_post": paced_post_load,
}


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it is, as uvicorn's extra): the cheaper the client, the fairer the figures."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main() -> int:
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        sys.stdout.write(orjson.dumps({"ready": True}).decode() + "\n")
        sys.stdout.flush()
        for line in sys.stdin:
            command: Command = orjson.loads(line)
            op = command.get("op")
            if op == "quit":
                return 0
            handler = HANDLERS.get(str(op))
            if handler is None:
                answer: dict[str, Any] = {"error": f"unknown op {op!r}"}
            else:
                answer = runner.run(handler(command))
            sys.stdout.write(orjson.dumps(answer).decode() + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
