"""Failures of the foreign-API routes in those APIs' own error shapes (ORCH-1064, ORCH-1096).

OpenAI's `{"error": {"message", "type", "param", "code"}}` is what the `openai` package, LangChain and the
agent SDKs read: the package raises the exception class of the status and exposes the inner object as the
error's body, `code` and `type`. Anthropic's `{"type": "error", "error": {"type", "message"}}` is what the
`anthropic` package reads. `code` is the contract's code in lowercase (`model_not_found`,
`quota_exceeded`, ...) in both; the status, Retry-After and X-Correlation-Id are those of every other
operation.
"""

from __future__ import annotations

import re

from http_edge.error_shapes import ErrorShapes
from orchestrator_core.errors import InvalidParams, OrchError

OPENAI_PATHS = ("/v1/completions", "/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/models")
ANTHROPIC_PATHS = ("/v1/messages",)
_ANTHROPIC_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]-]*): ")
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}


def error_type(status: int) -> str:
    """OpenAI's error `type` for an HTTP status."""
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def openai_error(error: OrchError) -> dict[str, object]:
    """The inner error object; `param` names the field an INVALID_PARAMS message starts with."""
    param = None
    if isinstance(error, InvalidParams):
        named = _FIELD.match(error.message)
        param = named.group(1) if named else None
    body: dict[str, object] = {
        "message": error.message,
        "type": error_type(error.http_status),
        "param": param,
        "code": error.code.lower(),
    }
    if error.policy_label is not None:  # which policy refused, as the envelope says it (ORCH-1204)
        body["policy_label"] = error.policy_label
    return body


def openai_error_body(error: OrchError, correlation_id: str, retry_after_ms: int | None) -> dict[str, object]:
    """The body of a failed OpenAI-compatible request (the correlation id and delay travel in headers)."""
    return {"error": openai_error(error)}


def anthropic_error(error: OrchError) -> dict[str, object]:
    """Anthropic's inner error object, with the contract's code as well."""
    status = error.http_status
    kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": kind, "message": error.message, "code": error.code.lower()}


def anthropic_error_body(
    error: OrchError, correlation_id: str, retry_after_ms: int | None
) -> dict[str, object]:
    """The body of a failed Anthropic Messages request."""
    return {"type": "error", "error": anthropic_error(error)}


def error_shapes() -> ErrorShapes:
    """orchestratord's error shapes: OpenAI's and Anthropic's on their routes, the envelope elsewhere."""
    exact = dict.fromkeys(OPENAI_PATHS, openai_error_body) | dict.fromkeys(
        ANTHROPIC_PATHS, anthropic_error_body
    )
    return ErrorShapes(exact=exact, prefixes=(("/v1/models/", openai_error_body),))
