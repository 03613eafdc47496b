"""A reload is answered only once orchestratord places tasks on the new replica set: the new set is read
from the node's pool health before the answer, not at the node's next registration (ORCH-1104, ORCH-6012)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mock_engine.faults import MockConfig
from mock_engine.server import serve_mock
from tests.orchestratord.orchd_harness import MODEL, read_stream
from tests.orchestratord.test_control_pools import (
    DIGEST,
    NEW_DIGEST,
    NODE_TOKEN,
    FakePoolManager,
    control_stack,
    envelope,
    pool_health,
    serve_fake,
)

NEW_MODEL = "pkg:gemma"


@dataclass
class ReloadingPoolManager(FakePoolManager):
    """A node whose reload switches pool-n to replica pool-n-r1 (on `new_endpoint`) serving NEW_DIGEST."""

    new_endpoint: str = ""
    reloaded: bool = False
    health_shows_new_set: bool = True

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def check_token(request: Request, call_next: Any) -> Any:
            if request.headers.get("authorization") != f"Bearer {NODE_TOKEN}":
                return JSONResponse(envelope("UNAUTHORIZED", "wrong node token"), status_code=401)
            return await call_next(request)

        @app.get("/v1/pools/{pool_id}/health")
        async def health(pool_id: str) -> dict[str, Any]:
            body = pool_health(pool_id)
            if self.reloaded and self.health_shows_new_set:
                body["replicas"][0] |= {
                    "replica_id": f"{pool_id}-r1",
                    "endpoint": self.new_endpoint,
                    "model_digest": NEW_DIGEST,
                }
            return body

        @app.post("/v1/pools/{pool_id}/reload")
        async def reload(pool_id: str, request: Request) -> dict[str, Any]:
            self.reloaded = True
            model_ref = (await request.json())["new_model_ref"]
            return {
                "pool_id": pool_id,
                "model_ref": model_ref,
                "model_digest": NEW_DIGEST,
                "engine_version": "b0-unknown",
                "replicas_ready": 1,
            }

        return app


@pytest.mark.req("ORCH-1104", "ORCH-6012", "ORCH-3004")
async def test_tasks_for_the_new_model_are_placed_as_soon_as_the_reload_answers() -> None:
    node = ReloadingPoolManager()
    async with (
        serve_mock("llamacpp", MockConfig(slots=1)) as new_engine,
        serve_fake(node),
        control_stack(api_url=node.url) as stack,
    ):
        node.new_endpoint = new_engine.base_url
        reloaded = await stack.daemon.client.post(
            "/v1/pools/pool-n/reload", json={"new_model_ref": NEW_MODEL}
        )
        fresh = await stack.daemon.submit(model_ref=NEW_MODEL, max_tokens=2)
        old = await stack.daemon.submit(model_ref=MODEL, max_tokens=2)
        _, events = await read_stream(stack.daemon.client, fresh.json()["task_id"])
        listed = (await stack.daemon.client.get("/v1/pools")).json()["pools"]
        replica_ids = {r.replica_id for r in stack.daemon.services.replicas.of_pool("pool-n")}
    assert reloaded.status_code == 200, reloaded.text
    assert fresh.status_code == 202, fresh.text
    started = events[0].data
    assert (started["replica_id"], started["model_digest"]) == ("pool-n-r1", NEW_DIGEST)
    assert events[-1].event == "end"
    # The old set is out of placement: no new task lands on it.
    assert old.status_code == 503 and old.json()["code"] == "POOL_UNAVAILABLE"
    assert replica_ids == {"pool-n-r1"}
    pool = next(p for p in listed if p["pool_id"] == "pool-n")
    assert (pool["model_ref"], pool["replicas_total"], pool["ready"]) == (NEW_MODEL, 1, True)


@pytest.mark.req("ORCH-1104", "ORCH-1110")
async def test_a_node_health_without_the_new_set_leaves_the_registration_as_it_is() -> None:
    node = ReloadingPoolManager(health_shows_new_set=False)
    async with serve_fake(node), control_stack(api_url=node.url) as stack:
        reloaded = await stack.daemon.client.post(
            "/v1/pools/pool-n/reload", json={"new_model_ref": NEW_MODEL}
        )
        replica = stack.daemon.services.replicas.get("pool-n-r0")
    assert reloaded.status_code == 200, reloaded.text
    assert (replica.model_digest, replica.spec.model_ref) == (DIGEST, MODEL)
