"""The JSON log line both daemons write, one per event, to stdout (ORCH-8003, ORCH-5006).

Only the named context fields are written, so prompts, messages and API keys can never reach a log line.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
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

# Marks the records of `EventLog`, whose message is an event name; other records are library lines.
EVENT_MARK = "orch_event"


def rfc3339(created: float) -> str:
    """A record's time as RFC 3339 UTC with microseconds, e.g. `2026-11-22T15:24:52.123456Z`."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def sentence(event: str, reason: object) -> str:
    """The human-readable `msg` of an event: its name in words, and the reason when there is one."""
    words = event.replace(".", " ").replace("_", " ")
    return f"{words}: {reason}" if reason else words


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object: ts, level, event, msg, then the allowed context fields.

    The daemons' own events keep their dotted name as `event`; a library's line (uvicorn, httpx) is
    the event of its logger's name, with its text as `msg`.
    """

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        own = record.__dict__.get(EVENT_MARK, False)
        line: dict[str, object] = {
            "ts": rfc3339(record.created),
            "level": record.levelname.lower(),
            "event": text if own else record.name,
            "msg": sentence(text, record.__dict__.get("reason")) if own else text,
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = type(record.exc_info[1]).__name__
        return orjson.dumps(line).decode()


def configure_json_logging(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Installs the JSON formatter on the root logger for a daemon process, writing to `stream` (stdout
    by default); returns the handler."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime
    return handler
