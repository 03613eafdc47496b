"""OpenAI's embeddings route: POST /v1/embeddings (ORCH-1094).

One request is one `embedding` task: admitted like every task (limits, quotas, fairness, the pool queue),
placed on a replica that serves the `embedding` workload, and answered from the vectors its end carries.
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from contracts.api_types.data import EmbeddingRequest
from contracts.fields import given
from orchestrator_core.errors import InvalidParams

from ..http.json_body import declared_body
from ..http.security import Authenticator, Principal, Role
from ..services.task_spec import TaskSpec
from .facade_operations import add_operation
from .facade_runs import TASK_ID_HEADER, FacadeRuns
from .openai import facade_context
from .openai_models import ModelCatalog
from .openai_requests import FacadeContext


def embedding_spec(body: EmbeddingRequest, context: FacadeContext) -> TaskSpec:
    """The `embedding` task of a request; it decodes nothing, so it counts one token (ORCH-1094)."""
    if given(body.dimensions) is not None:
        raise InvalidParams("dimensions: no adapter can shorten a vector; leave it out")
    texts = (body.input,) if isinstance(body.input, str) else tuple(body.input)
    return context.task(model_ref=body.model, max_tokens=1, inputs=texts, workload="embedding")


def encoded(vector: tuple[float, ...], encoding: str) -> list[float] | str:
    """The vector as numbers, or as base64 of little-endian float32 (the `openai` package's default)."""
    if encoding == "float":
        return list(vector)
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()


def embeddings_router(auth: Authenticator, runs: FacadeRuns, models: ModelCatalog) -> APIRouter:
    """The embeddings route; its errors are OpenAI's shape (`http/foreign_errors.py`)."""
    router = APIRouter(tags=["openai"])
    guard = auth.require(Role.CLIENT)

    async def serve_embedding(request: Request, principal: Principal) -> Response:
        body = await declared_body(request, EmbeddingRequest)
        spec = embedding_spec(body, facade_context(models, principal, request, body.model))
        record = await runs.admit(spec, request)
        end = (await runs.collect(record, request.receive)).end
        data: list[dict[str, Any]] = [
            {"object": "embedding", "index": index, "embedding": encoded(vector, body.encoding_format)}
            for index, vector in enumerate(end.embeddings)
        ]
        usage = {"prompt_tokens": end.tokens_in, "total_tokens": end.tokens_in}
        payload = {"object": "list", "model": body.model, "data": data, "usage": usage}
        return JSONResponse(payload, headers={TASK_ID_HEADER: record.task_id})

    add_operation(router, "/v1/embeddings", "createEmbedding", EmbeddingRequest, guard, serve_embedding)
    return router
