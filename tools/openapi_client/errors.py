"""Turns orchestratord's error envelopes and SSE `error` events into the typed errors of
`orchestrator_core.errors` (one class per contract code), and names the one failure that has no code.

The SDK never defines its own error per code: every envelope becomes the class registered for its code,
with the envelope itself attached so callers can read `correlation_id` and the per-response `retriable`.
"""

from __future__ import annotations

import httpx
import orjson
from pydantic import ValidationError

from contracts.api_types.data import ErrorEnvelope, ErrorEvent
from contracts.fields import given
from orchestrator_core.errors import Internal, OrchError, error_classes

_ENVELOPE_ATTRIBUTE = "envelope"


class OrchestratordUnreachable(ConnectionError):
    """Raised when orchestratord cannot be reached (refused, timed out, or the stream kept dropping).

    This is a transport failure, not a contract error code: no envelope exists for it.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach orchestratord at {url}: {reason}")
        self.url = url
        self.reason = reason


def _typed(code: str, message: str, envelope: ErrorEnvelope | None, **fields: object) -> OrchError:
    cls = error_classes().get(code, Internal)
    error = cls(
        message,
        engine=_str_or_none(fields.get("engine")),
        pool_id=_str_or_none(fields.get("pool_id")),
        retry_after_ms=_int_or_none(fields.get("retry_after_ms")),
        policy_label=_str_or_none(fields.get("policy_label")),
    )
    if envelope is not None:
        # OrchError has no slot for the correlation id or a per-response retriable flag; keep the envelope.
        setattr(error, _ENVELOPE_ATTRIBUTE, envelope)
    return error


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def envelope_of(error: BaseException) -> ErrorEnvelope | None:
    """The envelope an SDK error was decoded from (None for in-stream errors and client-side errors)."""
    envelope = getattr(error, _ENVELOPE_ATTRIBUTE, None)
    return envelope if isinstance(envelope, ErrorEnvelope) else None


def is_retriable(error: OrchError) -> bool:
    """The envelope's `retriable` when known (a session budget 429 is not), else the code's default."""
    envelope = envelope_of(error)
    return envelope.retriable if envelope is not None else error.retriable


def error_from_response(response: httpx.Response) -> OrchError:
    """The typed error of a non-2xx response; a body that is not an envelope becomes INTERNAL."""
    try:
        envelope = ErrorEnvelope.model_validate_json(response.content)
    except ValidationError:
        text = response.text[:200].strip() or "(empty body)"
        return Internal(
            f"orchestratord answered HTTP {response.status_code} without an error envelope: {text}"
        )
    return _typed(
        envelope.code,
        envelope.message,
        envelope,
        engine=given(envelope.engine),
        pool_id=given(envelope.pool_id),
        retry_after_ms=given(envelope.retry_after_ms),
        policy_label=given(envelope.policy_label),
    )


def error_from_event(event: ErrorEvent) -> OrchError:
    """The typed error of a stream's terminal `error` event."""
    return _typed(
        event.code,
        event.message,
        None,
        engine=given(event.engine),
        retry_after_ms=given(event.retry_after_ms),
    )


def contract_violation(what: str, detail: object) -> Internal:
    """INTERNAL for an answer the contract does not allow (the SDK never guesses at unknown shapes)."""
    text = detail if isinstance(detail, str) else orjson.dumps(detail, default=str).decode()
    return Internal(f"orchestratord sent {what} that the contract does not allow: {text[:300]}")
