"""The CLI's exit codes (the spec's table, ORCH-9108) and what to tell the user for each failure.

| code | meaning |
|---|---|
| 0 | success |
| 1 | INTERNAL or an unexpected failure |
| 2 | usage error (bad flags or arguments) |
| 3 | INVALID_PARAMS, DEADLINE_UNMET, PAYLOAD_TOO_LARGE, METHOD_NOT_ALLOWED |
| 4 | UNAUTHORIZED, FORBIDDEN |
| 5 | NOT_FOUND, MODEL_NOT_FOUND |
| 6 | CONFLICT |
| 7 | ADMISSION_REJECT, QUEUE_FULL_DROP_LRU, QUOTA_EXCEEDED (after retries) |
| 8 | POOL_UNAVAILABLE, POOL_UNREADY, REPLICA_EXHAUSTED, STATE_UNAVAILABLE (after retries) |
| 9 | DECODE_TIMEOUT, WORKER_RESET (in-stream failure) |
| 10 | orchestratord unreachable |
| 130 | interrupted by Ctrl-C (the task was canceled) |
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    INVALID = 3
    AUTH = 4
    NOT_FOUND = 5
    CONFLICT = 6
    BACKPRESSURE = 7
    UNAVAILABLE = 8
    STREAM_FAILED = 9
    UNREACHABLE = 10
    INTERRUPTED = 130


_BY_CODE: dict[str, ExitCode] = {
    "INVALID_PARAMS": ExitCode.INVALID,
    "DEADLINE_UNMET": ExitCode.INVALID,
    "PAYLOAD_TOO_LARGE": ExitCode.INVALID,
    "METHOD_NOT_ALLOWED": ExitCode.INVALID,
    "UNAUTHORIZED": ExitCode.AUTH,
    "FORBIDDEN": ExitCode.AUTH,
    "NOT_FOUND": ExitCode.NOT_FOUND,
    "MODEL_NOT_FOUND": ExitCode.NOT_FOUND,
    "CONFLICT": ExitCode.CONFLICT,
    "ADMISSION_REJECT": ExitCode.BACKPRESSURE,
    "QUEUE_FULL_DROP_LRU": ExitCode.BACKPRESSURE,
    "QUOTA_EXCEEDED": ExitCode.BACKPRESSURE,
    "POOL_UNAVAILABLE": ExitCode.UNAVAILABLE,
    "POOL_UNREADY": ExitCode.UNAVAILABLE,
    "REPLICA_EXHAUSTED": ExitCode.UNAVAILABLE,
    "STATE_UNAVAILABLE": ExitCode.UNAVAILABLE,
    "DECODE_TIMEOUT": ExitCode.STREAM_FAILED,
    "WORKER_RESET": ExitCode.STREAM_FAILED,
    "INTERNAL": ExitCode.INTERNAL,
}

_HINTS: dict[str, str] = {
    "INVALID_PARAMS": "fix the field the message names and run the command again",
    "DEADLINE_UNMET": "raise --deadline-ms, or submit without a deadline",
    "PAYLOAD_TOO_LARGE": "shorten the prompt; `llorch capabilities` shows the limits",
    "METHOD_NOT_ALLOWED": "this server does not serve that operation; check the llorch and server versions",
    "UNAUTHORIZED": "pass a valid key with --api-key or set ORCH_API_KEY",
    "FORBIDDEN": "this operation needs a key with the admin role",
    "NOT_FOUND": "check the id; tasks are forgotten a minute after they end, sessions when they expire",
    "CONFLICT": "the message says what conflicts; resolve it (or use a new id) and try again",
    "ADMISSION_REJECT": "the queue is full; try again later or use --priority batch for background work",
    "QUEUE_FULL_DROP_LRU": "the task was evicted from a full queue; submit it again later",
    "QUOTA_EXCEEDED": "a quota or session budget is used up; wait, or start a new session",
    "POOL_UNAVAILABLE": "no pool (or no strict pool) serves this model; check --model, --determinism",
    "POOL_UNREADY": "replicas are starting or unhealthy; check `llorch pools` and try again shortly",
    "REPLICA_EXHAUSTED": "every replica failed the task; check `llorch pools health ID` and try again",
    "STATE_UNAVAILABLE": "orchestratord cannot reach its shared state (Redis); try again shortly",
    "DECODE_TIMEOUT": "the engine stopped producing tokens; submit the task again",
    "WORKER_RESET": "the engine connection dropped mid-stream; submit the task again",
    "INTERNAL": "an unexpected server failure; report it with the correlation id",
}

UNREACHABLE_HINT = "start the local stack with `llorch up`, or point --url / ORCH_URL at orchestratord"


def exit_code_for(code: str) -> ExitCode:
    """The exit code of an error code; unknown codes count as INTERNAL."""
    return _BY_CODE.get(code, ExitCode.INTERNAL)


def hint_for(code: str) -> str:
    """What the user should do next after an error with this code."""
    return _HINTS.get(code, _HINTS["INTERNAL"])
