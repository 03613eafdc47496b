"""GET /v1/capabilities: the contract version, engines of the live replicas with the determinism mode they
run in, and the request limits (ORCH-1050, ORCH-3506, ORCH-1003)."""

from __future__ import annotations

import functools
from importlib import resources

import yaml
from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse

from contracts.api_types.data import RequestLimits
from contracts.config_schema.orchestratord import Limits
from worker_adapters.features import engine_features

from ..http.security import Authenticator, Principal, Role
from ..services.replicas import Replica, ReplicaRegistry


@functools.cache
def contract_version() -> str:
    """`info.version` of the data-plane contract shipped in `contracts/openapi/data.yaml`.

    Only the `info` block is parsed: the whole document takes a noticeable time to load.
    """
    text = resources.files("contracts").joinpath("openapi/data.yaml").read_text(encoding="utf-8")
    head = text.split("\ntags:", 1)[0].split("\npaths:", 1)[0]
    return str(yaml.safe_load(head)["info"]["version"])


def engine_entries(replicas: list[Replica], totals: dict[str, int]) -> list[dict[str, object]]:
    """One entry per (engine, engine_version, determinism) of the registered replicas, from live props, so
    a client sees whether strict tasks have replicas to run on."""
    groups: dict[tuple[str, str, str], list[Replica]] = {}
    for replica in replicas:
        key = (replica.spec.engine, replica.engine_version, replica.spec.determinism)
        groups.setdefault(key, []).append(replica)
    entries: list[dict[str, object]] = []
    for (engine, version, determinism), members in sorted(groups.items()):
        ctx_max = max((r.ctx_max for r in members), default=0)
        out_limits = [r.spec.max_tokens_out or r.ctx_max for r in members]
        workloads = sorted({w for r in members for w in r.spec.workloads})
        entries.append(
            {
                "engine": engine,
                "engine_version": version,
                "determinism": determinism,
                "ctx_max": max(ctx_max, 1),
                "workloads": workloads,
                "slots_total": sum(totals.get(r.replica_id, 0) for r in members),
                "max_tokens_out": max(max(out_limits, default=1), 1),
                "features": sorted(engine_features(engine)),
            }
        )
    return entries


def request_limits(limits: Limits) -> dict[str, object]:
    """The configured limits as the contract's RequestLimits; built through the generated model, so a
    field the contract requires cannot be left out."""
    return RequestLimits(
        body_max_bytes=limits.max_body_bytes,
        prompt_max_bytes=limits.max_prompt_bytes,
        max_tokens_max=limits.max_tokens,
        stop_max_count=limits.max_stop_sequences,
        stop_max_chars=limits.max_stop_length,
        messages_max_count=limits.max_messages,
        header_value_max_bytes=limits.max_header_value_bytes,
    ).model_dump(mode="json")


def capabilities_router(auth: Authenticator, replicas: ReplicaRegistry, limits: Limits) -> APIRouter:
    router = APIRouter(tags=["capabilities"])
    api_version = contract_version()
    limits_body = request_limits(limits)

    @router.get("/v1/capabilities", operation_id="getCapabilities")
    async def capabilities(_: Principal = Depends(auth.require(Role.CLIENT))) -> JSONResponse:
        known = replicas.all()
        totals = {r.replica_id: replicas.total_slots(r.replica_id) for r in known}
        return JSONResponse(
            {"api_version": api_version, "engines": engine_entries(known, totals), "limits": limits_body}
        )

    return router
