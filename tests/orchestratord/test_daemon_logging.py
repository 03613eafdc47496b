"""The daemon's request logging: no access line or engine request line per request unless at debug."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from orchestratord import __main__ as daemon_main


def run_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str) -> dict[str, Any]:
    calls: dict[str, Any] = {}

    def serve_nothing(server: Any, sockets: object = None) -> None:
        calls["access_log"] = server.config.access_log
        server.started = True

    monkeypatch.setattr(daemon_main._Server, "run", serve_nothing)
    monkeypatch.setattr(daemon_main, "configure_json_logging", lambda level: None)
    config = tmp_path / "orchestratord.yaml"
    config.write_text(f"logging:\n  level: {level}\n")
    assert daemon_main.main(["--config", str(config)]) == 0
    return calls


@pytest.mark.req("ORCH-9205")
def test_access_log_and_engine_request_lines_are_off_at_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx_logger = logging.getLogger("httpx")
    monkeypatch.setattr(httpx_logger, "level", logging.NOTSET)
    assert run_main(tmp_path, monkeypatch, "info")["access_log"] is False
    assert httpx_logger.level == logging.WARNING


@pytest.mark.req("ORCH-9205")
def test_debug_level_turns_the_access_log_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_main(tmp_path, monkeypatch, "debug")["access_log"] is True
