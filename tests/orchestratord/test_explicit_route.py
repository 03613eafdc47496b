"""The admission route is served without FastAPI's dependency solving (ORCH-9206): its endpoint gets the
guard's decision directly, and a route that declares any other dependency is refused at start-up, so no
check FastAPI would have run can be skipped silently."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.responses import JSONResponse

from contracts.config_schema.common import sha256_hex
from orchestratord.http.explicit_route import explicit_route
from orchestratord.http.security import ApiKey, Authenticator, Principal, Role

KEY = "client-secret"


def authenticator() -> Authenticator:
    return Authenticator([ApiKey(sha256_hex(KEY), "team-a", Role.CLIENT)])


@pytest.mark.req("ORCH-9206", "ORCH-5002")
async def test_the_endpoint_gets_the_guards_decision_for_the_request() -> None:
    guard = authenticator().require(Role.CLIENT)

    async def whoami(request: Request, principal: Principal = Depends(guard)) -> JSONResponse:
        return JSONResponse({"tenant": principal.tenant, "path": request.url.path})

    router = APIRouter()
    router.add_api_route(
        "/whoami", whoami, methods=["POST"], route_class_override=explicit_route(guard, whoami)
    )
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/whoami", headers={"authorization": f"Bearer {KEY}"})
    assert answer.json() == {"tenant": "team-a", "path": "/whoami"}
    assert "/whoami" in app.openapi()["paths"]


@pytest.mark.req("ORCH-9206")
def test_a_route_with_another_dependency_is_refused_at_start_up() -> None:
    guard = authenticator().require(Role.CLIENT)

    def other() -> int:
        return 1

    async def endpoint(
        request: Request, principal: Principal = Depends(guard), extra: int = Depends(other)
    ) -> JSONResponse:
        return JSONResponse({})

    router = APIRouter()
    with pytest.raises(TypeError, match="depends on its guard only"):
        router.add_api_route(
            "/x", endpoint, methods=["POST"], route_class_override=explicit_route(guard, endpoint)
        )


@pytest.mark.req("ORCH-9204", "ORCH-1080", "ORCH-1083")
async def test_declared_parameters_are_documented_and_left_to_the_endpoint_that_parses_them() -> None:
    guard = authenticator().require(Role.CLIENT)

    async def serve(request: Request, principal: Principal) -> JSONResponse:
        return JSONResponse({"n": request.query_params.get("n"), "tenant": principal.tenant})

    async def declared(n: int = Query(), principal: Principal = Depends(guard)) -> JSONResponse:
        raise NotImplementedError

    router = APIRouter()
    route = explicit_route(guard, serve, parses=("n",))
    router.add_api_route("/q", declared, methods=["GET"], route_class_override=route)
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/q?n=x", headers={"authorization": f"Bearer {KEY}"})
    assert answer.json() == {"n": "x", "tenant": "team-a"}  # FastAPI's validation did not run
    assert [p["name"] for p in app.openapi()["paths"]["/q"]["get"]["parameters"]] == ["n"]


@pytest.mark.req("ORCH-9204")
@pytest.mark.parametrize("parses", [(), ("n", "X-Extra"), ("m",)])
def test_a_declared_parameter_the_endpoint_does_not_parse_is_refused_at_start_up(
    parses: tuple[str, ...],
) -> None:
    guard = authenticator().require(Role.CLIENT)

    async def declared(
        n: int = Query(), principal: Principal = Depends(guard)
    ) -> JSONResponse:  # pragma: no cover - never served
        raise NotImplementedError

    async def serve(request: Request, principal: Principal) -> JSONResponse:  # pragma: no cover
        raise NotImplementedError

    with pytest.raises(TypeError, match="the route declares"):
        APIRouter().add_api_route(
            "/q", declared, methods=["GET"], route_class_override=explicit_route(guard, serve, parses=parses)
        )
