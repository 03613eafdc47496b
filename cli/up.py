"""`llorch up`: start the local stack, wait until orchestratord's /readyz answers 200, print where it
listens and a curl example that works, and stop everything on Ctrl-C or SIGTERM (ORCH-9106).

`--stack auto` (the default) uses pool_managerd when orchestratord serves node registration
(`GET /v1/nodes`), and otherwise serves a llama-server of its own as orchestratord's static replica.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import httpx

from orchestrator_core.errors import NotFound, OrchError
from tools.openapi_client import Client, OrchestratordUnreachable

from . import stack
from .exit_codes import ExitCode
from .output import Output
from .processes import Child

POLL_S = 0.25
ORCHESTRATORD_GRACE_S = 12.0
POOL_MANAGERD_GRACE_S = 15.0
ENGINE_GRACE_S = 5.0
EXAMPLE_PROMPT = "Write a haiku about the sea."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address of every daemon (loopback)")
    parser.add_argument("--port", type=int, default=8080, help="orchestratord port")
    parser.add_argument("--pool-port", type=int, default=9200, help="pool_managerd port")
    parser.add_argument("--stack", choices=("auto", "managed", "static"), default="auto")
    parser.add_argument("--state-dir", type=Path, help="config files and logs (default: a new temp dir)")
    parser.add_argument("--ready-timeout-s", type=float, default=180.0)
    parser.add_argument(
        "--workers", type=int, default=1, help="orchestratord processes on the port, sharing state in Redis"
    )
    parser.add_argument(
        "--redis-url",
        help="the Redis of the workers' shared state (default with --workers: one started here)",
    )


class StackFailed(Exception):
    """A child exited or the stack did not become ready; the message says which and shows its log."""


class _Terminated(BaseException):
    """SIGTERM to `llorch up`: stop the stack like Ctrl-C does."""


def up(args: argparse.Namespace, output: Output) -> int:
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="llorch-up-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    if args.workers < 1:
        output.note(f"llorch up: --workers {args.workers} is not a number of processes (1 or more)")
        return ExitCode.USAGE
    redis_port = stack.free_port(args.host) if args.workers > 1 and args.redis_url is None else None
    redis_url = args.redis_url or (None if redis_port is None else f"redis://{args.host}:{redis_port}/0")
    plan = stack.StackPlan(args.host, args.port, args.pool_port, state_dir.resolve(), args.workers, redis_url)
    for name, port in (("orchestratord", plan.port), ("pool_managerd", plan.pool_port)):
        if not stack.port_is_free(plan.host, port):
            output.note(f"llorch up: {plan.host}:{port} ({name}) is in use; choose --port / --pool-port")
            return ExitCode.USAGE
    children: list[Child] = []
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        if redis_port is not None:
            _start_redis(plan, redis_port, children, output)
        kind = _start(plan, args.stack, children, output)
        _wait_ready(plan, children, args.ready_timeout_s)
        _announce(plan, kind, output)
        _serve(children)
    except StackFailed as failure:
        output.note(f"llorch up: {failure}")
        return ExitCode.INTERNAL
    except OrchError as error:
        output.note(f"llorch up: {error.code}: {error.message}")
        return ExitCode.INTERNAL
    except (KeyboardInterrupt, _Terminated):
        output.note("llorch up: stopping")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan a child
        for child in reversed(children):
            child.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous)
    if output.json:
        output.json_line({"event": "stopped"})
    else:
        output.note("llorch up: stopped")
    return ExitCode.OK


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _start(plan: stack.StackPlan, kind: str, children: list[Child], output: Output) -> stack.StackKind:
    logs = plan.state_dir
    if kind in ("auto", "managed"):
        orchd_config, pool_config = stack.managed_configs(plan)
        output.note(f"llorch up: starting orchestratord on {plan.url} (state in {logs})")
        children.append(
            _child("orchestratord", stack.orchestratord_command(orchd_config, plan.workers), logs)
        )
        _wait_live(plan, children)
        if kind == "managed" or _serves_registration(plan):
            output.note(f"llorch up: starting pool_managerd with {stack.MODEL_REF}")
            children.append(_child("pool_managerd", stack.pool_managerd_command(pool_config), logs))
            return "managed"
        output.note("llorch up: orchestratord does not serve node registration; using a static replica")
        children.pop().stop()
    engine_port = stack.free_port(plan.host)
    output.note(f"llorch up: starting llama-server with {stack.MODEL_REF} on port {engine_port}")
    children.append(_child("llama-server", stack.llama_server_command(plan.host, engine_port), logs))
    config = stack.static_config(plan, engine_port)
    output.note(f"llorch up: starting orchestratord on {plan.url} (state in {logs})")
    children.append(_child("orchestratord", stack.orchestratord_command(config, plan.workers), logs))
    return "static"


def _start_redis(plan: stack.StackPlan, port: int, children: list[Child], output: Output) -> None:
    """A redis-server of this stack for the workers' shared state, answering before they start."""
    output.note(f"llorch up: starting redis-server on {plan.host}:{port} for {plan.workers} workers")
    children.append(
        _child("redis-server", stack.redis_server_command(plan.host, port, plan.state_dir), plan.state_dir)
    )
    deadline = time.monotonic() + 30.0
    while stack.port_is_free(plan.host, port):
        _check_children(children)
        if time.monotonic() > deadline:
            raise StackFailed(f"redis-server did not listen on {plan.host}:{port} within 30 s")
        time.sleep(POLL_S)


def _child(name: str, argv: list[str], logs: Path) -> Child:
    grace = {"orchestratord": ORCHESTRATORD_GRACE_S, "pool_managerd": POOL_MANAGERD_GRACE_S}
    return Child(name, argv, logs / f"{name}.log", grace.get(name, ENGINE_GRACE_S))


@contextlib.contextmanager
def _client(plan: stack.StackPlan) -> Iterator[Client]:
    with Client(plan.url, "", timeout_s=2.0) as client:
        yield client


def _check_children(children: list[Child]) -> None:
    for child in children:
        status = child.exited()
        if status is not None:
            raise StackFailed(
                f"{child.name} exited with status {status}; end of {child.log_path}:\n{child.log_tail()}"
            )


def _wait_live(plan: stack.StackPlan, children: list[Child], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    with _client(plan) as client:
        while time.monotonic() < deadline:
            _check_children(children)
            try:
                client.liveness()
                return
            except OrchestratordUnreachable:
                time.sleep(POLL_S)
    raise StackFailed(f"orchestratord did not answer on {plan.url} within {timeout_s:.0f} s")


def _serves_registration(plan: stack.StackPlan) -> bool:
    with _client(plan) as client:
        try:
            client.nodes()
        except NotFound:
            return False
    return True


def _wait_ready(plan: stack.StackPlan, children: list[Child], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    with _client(plan) as client:
        while time.monotonic() < deadline:
            _check_children(children)
            try:
                client.readiness()
                if _every_worker_ready(plan):
                    return
                last = "not every worker is ready"
            except (OrchError, OrchestratordUnreachable) as exc:
                last = str(exc)
            time.sleep(POLL_S)
    raise StackFailed(f"not ready after {timeout_s:.0f} s (last: {last}); logs in {plan.state_dir}")


def _every_worker_ready(plan: stack.StackPlan) -> bool:
    """With several workers: each answered /readyz 200 (new connections reach any of them)."""
    if plan.workers == 1:
        return True
    ready: set[str] = set()
    for _ in range(8 * plan.workers):
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(f"{plan.url}/readyz", timeout=2.0, trust_env=False)
            if answer.status_code == 200:
                ready.add(str(answer.json().get("instance_id")))
    return len(ready) >= plan.workers


def curl_example(url: str, task_id: str) -> str:
    """Two chained curl calls: admit a task with a fixed id, then follow its stream."""
    body = json.dumps(
        {
            "task_id": task_id,
            "model_ref": stack.MODEL_REF,
            "prompt": EXAMPLE_PROMPT,
            "max_tokens": 48,
            "seed": 1,
        },
        separators=(",", ":"),
    )
    post = f"curl -s {url}/v1/tasks -H 'Content-Type: application/json' -d {shlex.quote(body)}"
    return f"{post} && echo && curl -sN {url}/v1/tasks/{task_id}/stream"


def _announce(plan: stack.StackPlan, kind: stack.StackKind, output: Output) -> None:
    curl = curl_example(plan.url, str(uuid.uuid4()))
    described = {"managed": "pool_managerd + orchestratord", "static": "orchestratord + its own llama-server"}
    if output.json:
        output.json_line(
            {
                "event": "ready",
                "stack": kind,
                "url": plan.url,
                "pool_managerd_url": f"http://{plan.host}:{plan.pool_port}" if kind == "managed" else None,
                "model_ref": stack.MODEL_REF,
                "state_dir": str(plan.state_dir),
                "curl": curl,
                **({"workers": plan.workers, "redis_url": plan.redis_url} if plan.workers > 1 else {}),
            }
        )
        return
    lines = [
        f"OrchQueue is ready ({described[kind]}, {stack.MODEL_REF} on llama.cpp, strict determinism)",
        f"  orchestratord  {plan.url}",
    ]
    if plan.workers > 1:
        lines.append(f"  workers        {plan.workers}, sharing {plan.redis_url}")
    if kind == "managed":
        lines.append(f"  pool_managerd  http://{plan.host}:{plan.pool_port}")
    lines += [
        f"  logs           {plan.state_dir}",
        "",
        "Try it:",
        f"  {curl}",
        f'  llorch submit "{EXAMPLE_PROMPT}" --seed 1 --url {plan.url}',
        "",
        "Press Ctrl-C to stop.",
    ]
    output.text("\n".join(lines))


def _serve(children: list[Child]) -> None:
    while True:
        _check_children(children)
        time.sleep(POLL_S)
