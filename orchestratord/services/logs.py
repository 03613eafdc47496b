"""JSON-lines event log: one line per event with the task's context fields (ORCH-8003, ORCH-5006).

Only the named context fields are written, so prompts, messages and API keys can never reach a log line.
"""

from __future__ import annotations

import logging
import time
from typing import Final, TextIO

import orjson

CONTEXT_FIELDS: Final = (
    "correlation_id",
    "task_id",
    "session_id",
    "tenant",
    "engine",
    "engine_version",
    "pool_id",
    "replica_id",
    "queue_position",
    "predicted_start_ms",
    "tokens_in",
    "tokens_out",
    "decode_time_ms",
    "code",
    "reason",
    "state",
    "node_id",
)

_LOGGER_NAME = "orchestratord.events"


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object: ts, level, event, then the allowed context fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = type(record.exc_info[1]).__name__
        return orjson.dumps(line).decode()


class EventLog:
    """Emits structured events; constructed in wiring and handed to the services that log."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(_LOGGER_NAME)

    def event(self, name: str, /, level: int = logging.INFO, **context: object) -> None:
        if self._logger.isEnabledFor(level):
            allowed = {key: value for key, value in context.items() if key in CONTEXT_FIELDS}
            self._logger.log(level, name, extra=allowed)


def configure_json_logging(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Installs the JSON formatter on the root logger for a daemon process; returns the handler."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime
    return handler
