"""The one error hierarchy of OrchQueue: every code here is a code of the contract's error envelope.

    OrchError
    ├── InvalidParams            INVALID_PARAMS        400
    ├── DeadlineUnmet            DEADLINE_UNMET        400
    ├── Unauthorized             UNAUTHORIZED          401
    ├── Forbidden                FORBIDDEN             403
    ├── NotFound                 NOT_FOUND             404
    │   └── ModelNotFound        MODEL_NOT_FOUND       404 (an OpenAI-compatible route's unknown model)
    ├── Conflict                 CONFLICT              409
    ├── MethodNotAllowed         METHOD_NOT_ALLOWED    405 (with an `Allow` header)
    ├── PayloadTooLarge          PAYLOAD_TOO_LARGE     413
    ├── Backpressure                                   429 (Retry-After, X-Backoff-Ms, policy_label)
    │   ├── AdmissionReject      ADMISSION_REJECT
    │   ├── QueueFullDropLru     QUEUE_FULL_DROP_LRU
    │   └── QuotaExceeded        QUOTA_EXCEEDED
    ├── PoolUnready              POOL_UNREADY          503
    ├── PoolUnavailable          POOL_UNAVAILABLE      503
    ├── ReplicaExhausted         REPLICA_EXHAUSTED     503
    ├── StateUnavailable         STATE_UNAVAILABLE     503 (Retry-After, X-Backoff-Ms)
    ├── DecodeTimeout            DECODE_TIMEOUT        500 (in-stream `error` event)
    ├── WorkerReset              WORKER_RESET          500 (in-stream `error` event)
    └── Internal                 INTERNAL              500

Errors are raised, never returned; the daemons render them once, as the envelope or an SSE `error` event.
"""

from __future__ import annotations

from typing import ClassVar


class OrchError(Exception):
    """Root of every typed error; `code` and `http_status` are the contract's."""

    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 500
    retriable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        engine: str | None = None,
        pool_id: str | None = None,
        retry_after_ms: int | None = None,
        policy_label: str | None = None,
        retriable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.engine = engine
        self.pool_id = pool_id
        self.retry_after_ms = retry_after_ms
        self.policy_label = policy_label
        # A class sets the usual answer; one instance may differ (an exhausted session budget is a 429
        # that retrying will not fix).
        self.is_retriable = type(self).retriable if retriable is None else retriable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message!r})"


class InvalidParams(OrchError):
    """Raised when a request or engine parameter is invalid; the message names the field."""

    code = "INVALID_PARAMS"
    http_status = 400


class DeadlineUnmet(OrchError):
    """Raised when a task cannot start and finish before its deadline, at admission or while queued."""

    code = "DEADLINE_UNMET"
    http_status = 400


class Unauthorized(OrchError):
    """Raised when credentials are missing or do not match a configured key."""

    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(OrchError):
    """Raised when valid credentials lack the role the operation needs."""

    code = "FORBIDDEN"
    http_status = 403


class NotFound(OrchError):
    """Raised when a task, session, pool or node id is unknown."""

    code = "NOT_FOUND"
    http_status = 404


class ModelNotFound(NotFound):
    """Raised when an OpenAI-compatible request names a model that no registered replica serves: the
    client named a wrong model, so it is not retriable (ORCH-1067)."""

    code = "MODEL_NOT_FOUND"


class Conflict(OrchError):
    """Raised when a request contradicts existing state (reused task_id with another body, failed reload)."""

    code = "CONFLICT"
    http_status = 409


class MethodNotAllowed(OrchError):
    """Raised when a known path does not serve the request's method."""

    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class PayloadTooLarge(OrchError):
    """Raised when a request body or prompt exceeds the configured limit."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class Backpressure(OrchError):
    """Base of the 429 family: the caller should retry after `retry_after_ms`."""

    http_status = 429
    retriable = True


class AdmissionReject(Backpressure):
    """Raised when a full queue refuses a new task (policy `reject`, or a batch arrival under shedding)."""

    code = "ADMISSION_REJECT"


class QueueFullDropLru(Backpressure):
    """Ends a queued task that the `drop-lru` or `shed-low-priority` policy evicted for a newer one."""

    code = "QUEUE_FULL_DROP_LRU"


class QuotaExceeded(Backpressure):
    """Raised when a tenant quota or a session budget refuses a task."""

    code = "QUOTA_EXCEEDED"


class PoolUnready(OrchError):
    """Raised when replicas exist for the request but none is ready."""

    code = "POOL_UNREADY"
    http_status = 503
    retriable = True


class PoolUnavailable(OrchError):
    """Raised when no replica at all can serve the request, or an engine refuses connections."""

    code = "POOL_UNAVAILABLE"
    http_status = 503
    retriable = True


class ReplicaExhausted(OrchError):
    """Raised when every replica that could serve a task has already failed it."""

    code = "REPLICA_EXHAUSTED"
    http_status = 503
    retriable = True


class StateUnavailable(OrchError):
    """Raised when the shared state (Redis) does not answer: nothing is admitted or changed until it
    does, and the client may retry (ORCH-4111)."""

    code = "STATE_UNAVAILABLE"
    http_status = 503
    retriable = True


class DecodeTimeout(OrchError):
    """Raised when an engine produced no token within the idle timeout."""

    code = "DECODE_TIMEOUT"
    http_status = 500
    retriable = True


class WorkerReset(OrchError):
    """Raised when an engine connection drops in the middle of a stream."""

    code = "WORKER_RESET"
    http_status = 500
    retriable = True


class Internal(OrchError):
    """Raised for a failure that has no more precise code."""

    code = "INTERNAL"
    http_status = 500


def error_classes() -> dict[str, type[OrchError]]:
    """Every concrete error class by its contract code."""
    found: dict[str, type[OrchError]] = {}
    pending: list[type[OrchError]] = [OrchError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not Backpressure:
            found[cls.code] = cls
    return found
