"""GET and DELETE /v1/sessions/{id} (ORCH-1040, ORCH-1041)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse, Response

from ..http.security import Authenticator, Principal, Role
from ..services.state import SessionState, SharedSessionState


def sessions_router(
    auth: Authenticator, sessions: SessionState, shared: SharedSessionState | None = None
) -> APIRouter:
    """`shared` (the shared mode): answers from the session's latest state, deletes it everywhere."""
    router = APIRouter(tags=["sessions"])
    client = Depends(auth.require(Role.CLIENT))

    @router.get("/v1/sessions/{id}", operation_id="getSession")
    async def get_session(id: uuid.UUID, principal: Principal = client) -> JSONResponse:
        session_id = str(id)
        if shared is not None:
            await shared.pull(session_id)
        view = sessions.view(session_id, principal.tenant)
        return JSONResponse(
            {
                "session_id": session_id,
                "ttl_ms_remaining": view.ttl_ms_remaining,
                "turns": view.turns,
                "max_turns": sessions.limits.max_turns,
                "kv_bytes": view.kv_bytes,
                "kv_warmth": view.kv_warmth,
                "tokens_budget_remaining": view.tokens_budget_remaining,
                "time_budget_remaining_ms": view.time_budget_remaining_ms,
            }
        )

    @router.delete("/v1/sessions/{id}", operation_id="deleteSession", status_code=204)
    async def delete_session(id: uuid.UUID, principal: Principal = client) -> Response:
        session_id = str(id)
        if shared is not None:
            await shared.pull(session_id)
        if sessions.delete(session_id, principal.tenant) and shared is not None:
            await shared.deleted(session_id)
        return Response(status_code=204)

    return router
