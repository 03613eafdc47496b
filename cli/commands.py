"""The request/answer commands: status, cancel, session get|delete, capabilities, pools, nodes
(ORCH-9105). Each prints a table (or `--json` one document) and returns the exit code."""

from __future__ import annotations

import argparse

from contracts.api_types.control import PoolHealth, PoolList
from contracts.api_types.data import Capabilities, SessionInfo, TaskStatus
from tools.openapi_client import Client

from .exit_codes import ExitCode
from .output import Output, fields, table


def status(client: Client, args: argparse.Namespace, output: Output) -> ExitCode:
    task = client.status(args.task_id)
    if output.json:
        output.document(task)
    else:
        output.text(describe_task(task))
    return ExitCode.OK


def describe_task(task: TaskStatus) -> str:
    replay = task.replay
    timings = task.timings
    rows: list[tuple[str, object]] = [
        ("task", task.task_id),
        ("state", task.state),
        ("model", task.model_ref),
        ("priority", task.priority),
        ("session", task.session_id),
        ("queue position", task.queue_position),
        ("tokens in", task.tokens_in),
        ("tokens out", task.tokens_out),
        ("stop reason", task.stop_reason),
        ("error", None if task.error is None else f"{task.error.code}: {task.error.message}"),
        ("seed", task.seed),
        ("queue wait ms", timings.queue_wait_ms),
        ("decode time ms", timings.decode_time_ms),
    ]
    if replay is not None:
        rows += [
            ("pool", replay.pool_id),
            ("replica", replay.replica_id),
            ("engine", f"{replay.engine} {replay.engine_version}"),
            ("model digest", replay.model_digest),
            ("sampler profile", replay.sampler_profile_version),
        ]
    return fields(rows)


def cancel(client: Client, args: argparse.Namespace, output: Output) -> ExitCode:
    client.cancel(args.task_id)
    if output.json:
        output.document({"task_id": args.task_id, "canceled": True})
    else:
        output.text(f"canceled task {args.task_id}")
    return ExitCode.OK


def session(client: Client, args: argparse.Namespace, output: Output) -> ExitCode:
    if args.session_action == "delete":
        client.delete_session(args.session_id)
        if output.json:
            output.document({"session_id": args.session_id, "deleted": True})
        else:
            output.text(f"deleted session {args.session_id}")
        return ExitCode.OK
    info = client.session(args.session_id)
    if output.json:
        output.document(info)
    else:
        output.text(describe_session(info))
    return ExitCode.OK


def describe_session(info: SessionInfo) -> str:
    return fields(
        [
            ("session", info.session_id),
            ("ttl ms remaining", info.ttl_ms_remaining),
            ("turns", f"{info.turns} of {info.max_turns}"),
            ("kv bytes", info.kv_bytes),
            ("kv warm", info.kv_warmth),
            ("tokens budget left", info.tokens_budget_remaining),
            ("time budget left ms", info.time_budget_remaining_ms),
        ]
    )


def capabilities(client: Client, args: argparse.Namespace, output: Output) -> ExitCode:
    caps = client.capabilities()
    if output.json:
        output.document(caps)
    else:
        output.text(describe_capabilities(caps))
    return ExitCode.OK


def describe_capabilities(caps: Capabilities) -> str:
    limits = caps.limits
    engines = table(
        ["engine", "version", "determinism", "ctx max", "max tokens out", "slots", "workloads"],
        [
            [
                e.engine,
                e.engine_version,
                e.determinism,
                e.ctx_max,
                e.max_tokens_out,
                e.slots_total,
                e.workloads,
            ]
            for e in caps.engines
        ],
    )
    limit_rows = fields(
        [
            ("api version", caps.api_version),
            ("body max bytes", limits.body_max_bytes),
            ("prompt max bytes", limits.prompt_max_bytes),
            ("max_tokens max", limits.max_tokens_max),
            ("stop strings max", f"{limits.stop_max_count} of {limits.stop_max_chars} chars"),
        ]
    )
    return f"{limit_rows}\n\n{engines}"


def pools(client: Client, args: argparse.Namespace, output: Output) -> ExitCode:
    action = args.pool_action
    if action == "health":
        health = client.pool_health(args.pool_id)
        output.document(health) if output.json else output.text(describe_pool_health(health))
    elif action == "drain":
        drained = client.drain(args.pool_id, args.deadline_ms)
        if output.json:
            output.document(drained)
        else:
            output.text(f"draining pool {drained.pool_id} (deadline {drained.deadline_ms} ms)")
    elif action == "reload":
        reloaded = client.reload(args.pool_id, args.model_ref)
        if output.json:
            output.document(reloaded)
        else:
            output.text(
                f"pool {reloaded.pool_id} now serves {reloaded.model_ref} "
                f"({reloaded.model_digest}, engine {reloaded.engine_version}, "
                f"{reloaded.replicas_ready} replica(s) ready)"
            )
    else:
        listing = client.pools()
        output.document(listing) if output.json else output.text(describe_pools(listing))
    return ExitCode.OK


def describe_pools(listing: PoolList) -> str:
    return table(
        ["pool", "node", "engine", "model", "ready", "draining", "replicas", "slots", "last error"],
        [
            [
                p.pool_id,
                p.node_id,
                p.engine,
                p.model_ref,
                p.ready,
                p.draining,
                f"{p.replicas_ready}/{p.replicas_total}",
                p.slots_total,
                p.last_error,
            ]
            for p in listing.pools
        ],
    )


def describe_pool_health(health: PoolHealth) -> str:
    head = fields(
        [
            ("pool", health.pool_id),
            ("live", health.live),
            ("ready", health.ready),
            ("draining", health.draining),
            ("last error", health.last_error),
        ]
    )
    replicas = table(
        ["replica", "state", "ready", "endpoint", "engine", "slots", "restarts", "last error"],
        [
            [
                r.replica_id,
                r.state,
                r.ready,
                r.endpoint,
                f"{r.engine} {r.engine_version or '?'}",
                r.slots_total,
                r.restarts,
                r.last_error,
            ]
            for r in health.replicas
        ],
    )
    return f"{head}\n\n{replicas}"


def nodes(client: Client, args: argparse.Namespace, output: Output) -> ExitCode:
    listing = client.nodes()
    if output.json:
        output.document(listing)
        return ExitCode.OK
    output.text(
        table(
            ["node", "api url", "live", "last heartbeat ms ago", "lease left ms", "pools", "replicas"],
            [
                [
                    n.node_id,
                    n.api_url,
                    n.live,
                    n.last_heartbeat_ms_ago,
                    n.lease_expires_in_ms,
                    n.pools,
                    f"{n.replicas_ready}/{n.replicas_total}",
                ]
                for n in listing.nodes
            ],
        )
    )
    return ExitCode.OK
