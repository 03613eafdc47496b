"""A short, bounded load against a running stack, with periodic scrapes of both daemons' /metrics.

The load is shaped to exercise every family the spec lets a load reach on a CPU-only host: two tenants,
both priority classes, two pools, a burst beyond the queue capacity (429 ADMISSION_REJECT), cancels of
queued tasks, an invalid body (INVALID_PARAMS), a model no pool serves (POOL_UNAVAILABLE), an OpenAI
facade request, and SSE readers for every admitted task. Each scrape is written to `scrapes/` with its
time in `scrapes/index.jsonl`, the input of `tools.panel_render`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tools.metrics_lint.stack import NODE_TOKEN, LocalStack

LOAD_TIMEOUT_S = 45.0


@dataclass
class LoadReport:
    """What the load did; the stack test compares it with the counters it scraped."""

    admitted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    ended: Counter[str] = field(default_factory=Counter)
    scrapes: int = 0


@dataclass(frozen=True)
class LoadPlan:
    """How many tasks, in which bursts; every number is bounded so the run stays short."""

    bursts: int = 3
    tasks_per_burst: int = 18
    cancels_per_burst: int = 1
    max_tokens: int = 10
    scrape_interval_s: float = 0.2


class _Scraper:
    """Scrapes both daemons every interval into numbered files until stopped."""

    def __init__(self, stack: LocalStack, out: Path, interval_s: float) -> None:
        self.stack, self.out, self.interval_s = stack, out, interval_s
        out.mkdir(parents=True, exist_ok=True)
        self.index = (out / "index.jsonl").open("w", encoding="utf-8")
        self.count = 0
        self.t0 = time.monotonic()

    async def scrape_once(self, client: httpx.AsyncClient) -> None:
        now = time.monotonic() - self.t0
        targets = {
            "orchestratord": f"{self.stack.orchd_url}/metrics",
            "pool_managerd": f"{self.stack.poolmgr_url}/metrics",
        }
        headers = {"Authorization": f"Bearer {NODE_TOKEN}"}
        for daemon, url in targets.items():
            answer = await client.get(url, headers=headers if daemon == "pool_managerd" else None)
            answer.raise_for_status()
            name = f"{daemon}-{self.count:04d}.prom"
            (self.out / name).write_text(answer.text, encoding="utf-8")
            self.index.write(json.dumps({"t": round(now, 3), "daemon": daemon, "file": name}) + "\n")
        self.count += 1

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.scrape_once(client)
            try:
                await asyncio.wait_for(stop.wait(), self.interval_s)
            except TimeoutError:
                pass
        await self.scrape_once(client)
        self.index.close()


async def _follow(client: httpx.AsyncClient, stack: LocalStack, task_id: str, tenant: str) -> str:
    """Reads the task's SSE stream to its terminal event; returns `end` or the error code."""
    url = f"{stack.orchd_url}/v1/tasks/{task_id}/stream"
    event = ""
    async with client.stream("GET", url, headers=stack.headers(tenant)) as answer:
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event in ("end", "error"):
                data = json.loads(line.removeprefix("data: "))
                return "end" if event == "end" else str(data.get("code"))
    return "no terminal event"


async def _submit(
    client: httpx.AsyncClient, stack: LocalStack, body: dict[str, object], tenant: str, report: LoadReport
) -> str | None:
    answer = await client.post(f"{stack.orchd_url}/v1/tasks", json=body, headers=stack.headers(tenant))
    if answer.status_code == 202:
        report.admitted[f"{body.get('priority', 'interactive')}"] += 1
        task_id: str = answer.json()["task_id"]
        return task_id
    report.refused[str(answer.json().get("code"))] += 1
    return None


async def _burst(client: httpx.AsyncClient, stack: LocalStack, plan: LoadPlan, report: LoadReport) -> None:
    bodies = []
    for n in range(plan.tasks_per_burst):
        tenant = "acme" if n % 3 else "globex"
        pool = "pool-a" if n % 4 else "pool-b"
        priority = "batch" if n % 2 else "interactive"
        body = {"model_ref": stack.models[pool], "prompt": f"task {n}", "max_tokens": plan.max_tokens}
        bodies.append(({**body, "priority": priority}, tenant))
    submitted = await asyncio.gather(*(_submit(client, stack, b, t, report) for b, t in bodies))
    admitted = [(task_id, tenant) for task_id, (_, tenant) in zip(submitted, bodies, strict=True) if task_id]
    for task_id, tenant in admitted[-plan.cancels_per_burst :]:
        await client.post(f"{stack.orchd_url}/v1/tasks/{task_id}/cancel", headers=stack.headers(tenant))
    outcomes = await asyncio.gather(*(_follow(client, stack, t, tenant) for t, tenant in admitted))
    report.ended.update(outcomes)


async def _odd_requests(client: httpx.AsyncClient, stack: LocalStack, report: LoadReport) -> None:
    """Requests that refuse or take the facade path, so their label values appear."""
    await _submit(
        client, stack, {"model_ref": stack.models["pool-a"], "prompt": "x", "max_tokens": "1"}, "acme", report
    )
    await _submit(
        client, stack, {"model_ref": "/no/such/model.gguf", "prompt": "x", "max_tokens": 4}, "acme", report
    )
    chat = {"model": stack.models["pool-a"], "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    answer = await client.post(
        f"{stack.orchd_url}/v1/chat/completions", json=chat, headers=stack.headers("globex")
    )
    report.ended["openai " + str(answer.status_code)] += 1


async def _engine_faults(
    client: httpx.AsyncClient, stack: LocalStack, pool_id: str, faults: dict[str, object] | None
) -> None:
    """Sets (or, with None, resets) the mock faults of the pool's first replica."""
    headers = {"Authorization": f"Bearer {NODE_TOKEN}"}
    health = await client.get(f"{stack.poolmgr_url}/v1/pools/{pool_id}/health", headers=headers)
    health.raise_for_status()
    endpoint = health.json()["replicas"][0]["endpoint"]
    if faults is None:
        (await client.post(f"{endpoint}/admin/faults/reset")).raise_for_status()
    else:
        (await client.post(f"{endpoint}/admin/faults", json=faults)).raise_for_status()


async def run_load(stack: LocalStack, out: Path, plan: LoadPlan | None = None) -> LoadReport:
    """Runs the plan against `stack`, scraping into `out`; bounded by LOAD_TIMEOUT_S."""
    plan = plan or LoadPlan()
    report = LoadReport()
    scraper = _Scraper(stack, out, plan.scrape_interval_s)
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=httpx.Timeout(20.0), trust_env=False) as client:
        scraping = asyncio.create_task(scraper.run(client, stop))
        try:
            async with asyncio.timeout(LOAD_TIMEOUT_S):
                await _odd_requests(client, stack, report)
                for burst in range(plan.bursts):
                    if burst == plan.bursts - 1:
                        # Last burst: pool-b fails after a token (failed), one pool-a replica before
                        # the first token (re-queued onto the other replica).
                        await _engine_faults(client, stack, "pool-b", {"error_at": 1})
                        await _engine_faults(client, stack, "pool-a", {"fail_at": 0})
                    await _burst(client, stack, plan, report)
                # A few idle scrapes so the plots show the queue drained.
                await asyncio.sleep(4 * plan.scrape_interval_s)
        finally:
            stop.set()
            await scraping
    report.scrapes = scraper.count
    return report
