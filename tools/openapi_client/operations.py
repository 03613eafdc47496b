"""Every SDK operation as data: method, path, body, the success status and the decoder of its body.

`Client` and `AsyncClient` only send these and sleep; request building and response decoding live here
once, so both clients behave identically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from contracts.api_types.control import (
    DrainAccepted,
    DrainRequest,
    NodeList,
    PoolHealth,
    PoolList,
    ReloadRequest,
    ReloadResult,
)
from contracts.api_types.data import (
    AdmissionResponse,
    Capabilities,
    Liveness,
    Readiness,
    SessionInfo,
    TaskRequest,
    TaskStatus,
)
from orchestrator_core.errors import InvalidParams

from .errors import contract_violation, error_from_response

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """One HTTP exchange of the contract."""

    method: str
    path: str
    decode: Callable[[httpx.Response], T]
    expect: int = 200
    body: Mapping[str, Any] | None = field(default=None)

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request for this operation on `http` (base URL and auth headers come from it)."""
        return http.build_request(self.method, self.path, json=self.body)

    def result(self, response: httpx.Response) -> T:
        """The decoded body on the expected status; otherwise raises the envelope's typed error."""
        if response.status_code != self.expect:
            raise error_from_response(response)
        return self.decode(response)


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    def decode(response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise contract_violation(f"a {model.__name__}", _first_problem(exc)) from exc

    return decode


def _nothing(response: httpx.Response) -> None:
    return None


def _first_problem(exc: ValidationError) -> str:
    problem = exc.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "(body)"
    return f"{where}: {problem['msg']}"


def segment(value: str) -> str:
    """One path segment, escaped so an id can never change the route."""
    if not value:
        raise InvalidParams("id: must not be empty")
    return quote(value, safe="")


def task_request(request: TaskRequest | Mapping[str, Any]) -> TaskRequest:
    """A validated TaskRequest; a mapping is checked against the contract before anything is sent."""
    if isinstance(request, TaskRequest):
        return request
    try:
        return TaskRequest.model_validate(dict(request))
    except ValidationError as exc:
        raise InvalidParams(f"task request: {_first_problem(exc)}") from exc


def submit(request: TaskRequest | Mapping[str, Any]) -> Operation[AdmissionResponse]:
    """Sends only the fields the caller set, so every default (determinism best_effort among them,
    ORCH-3506) is the server's."""
    body = task_request(request).model_dump(mode="json", exclude_unset=True, by_alias=True)
    return Operation("POST", "/v1/tasks", _model(AdmissionResponse), 202, body)


def status(task_id: str) -> Operation[TaskStatus]:
    return Operation("GET", f"/v1/tasks/{segment(task_id)}", _model(TaskStatus))


def cancel(task_id: str) -> Operation[None]:
    return Operation("POST", f"/v1/tasks/{segment(task_id)}/cancel", _nothing, 204)


def stream_path(task_id: str, verbose: bool) -> str:
    path = f"/v1/tasks/{segment(task_id)}/stream"
    return f"{path}?verbose=true" if verbose else path


def session_get(session_id: str) -> Operation[SessionInfo]:
    return Operation("GET", f"/v1/sessions/{segment(session_id)}", _model(SessionInfo))


def session_delete(session_id: str) -> Operation[None]:
    return Operation("DELETE", f"/v1/sessions/{segment(session_id)}", _nothing, 204)


def capabilities() -> Operation[Capabilities]:
    return Operation("GET", "/v1/capabilities", _model(Capabilities))


def liveness() -> Operation[Liveness]:
    return Operation("GET", "/healthz", _model(Liveness))


def readiness() -> Operation[Readiness]:
    return Operation("GET", "/readyz", _model(Readiness))


def pools() -> Operation[PoolList]:
    return Operation("GET", "/v1/pools", _model(PoolList))


def pool_health(pool_id: str) -> Operation[PoolHealth]:
    return Operation("GET", f"/v1/pools/{segment(pool_id)}/health", _model(PoolHealth))


def drain(pool_id: str, deadline_ms: int | None = None) -> Operation[DrainAccepted]:
    fields = {} if deadline_ms is None else {"deadline_ms": deadline_ms}
    body = _checked(DrainRequest, fields).model_dump(mode="json")
    return Operation("POST", f"/v1/pools/{segment(pool_id)}/drain", _model(DrainAccepted), 202, body)


def reload(pool_id: str, new_model_ref: str) -> Operation[ReloadResult]:
    body = _checked(ReloadRequest, {"new_model_ref": new_model_ref}).model_dump(mode="json")
    return Operation("POST", f"/v1/pools/{segment(pool_id)}/reload", _model(ReloadResult), 200, body)


def nodes() -> Operation[NodeList]:
    return Operation("GET", "/v1/nodes", _model(NodeList))


def _checked(model: type[M], fields: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        raise InvalidParams(_first_problem(exc)) from exc
