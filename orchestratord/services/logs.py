"""The daemon's event log: one JSON line per event with the task's context fields (ORCH-8003).

The line itself (fields, format) is `contracts.log_line`, shared with pool_managerd.
"""

from __future__ import annotations

import logging

from contracts.log_line import CONTEXT_FIELDS, EVENT_MARK

_LOGGER_NAME = "orchestratord.events"


class EventLog:
    """Emits structured events; constructed in wiring and handed to the services that log."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(_LOGGER_NAME)

    def event(self, name: str, /, level: int = logging.INFO, **context: object) -> None:
        if self._logger.isEnabledFor(level):
            allowed = {key: value for key, value in context.items() if key in CONTEXT_FIELDS}
            allowed[EVENT_MARK] = True
            self._logger.log(level, name, extra=allowed)
