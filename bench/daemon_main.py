"""`python -m bench.daemon_main --config FILE`: orchestratord's own entry point, with its log level mapped.

`orchestratord.__main__` passes `getattr(logging, config.logging.level)` (the lower-case level names give
`logging.info`, a function) to `configure_json_logging`, which then fails. Until that is fixed in
orchestratord, the benchmark maps the configured level name to its number here and otherwise runs the
daemon's unmodified `main`. Once fixed, this wrapper changes nothing.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from orchestratord import __main__ as daemon
from orchestratord.services.logs import configure_json_logging


def _configure(stream: TextIO | None = None, level: object = logging.INFO) -> logging.Handler:
    if callable(level):  # logging.info / logging.debug / ...: the function named like the level
        level = logging.getLevelName(getattr(level, "__name__", "info").upper())
    return configure_json_logging(stream, level if isinstance(level, int) else logging.INFO)


if __name__ == "__main__":
    setattr(daemon, "configure_json_logging", _configure)  # noqa: B010 (replaces the module global)
    sys.exit(daemon.main())
