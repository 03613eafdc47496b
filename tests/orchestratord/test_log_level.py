"""The log level is configuration (default `info`), and nothing is logged per token at `info` or above
(ORCH-8006)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from contracts.config_schema.orchestratord import OrchestratordConfig
from orchestratord import __main__ as daemon_main
from tests.orchestratord.orchd_harness import running_daemon


class ServerNotStarted:
    """Stands in for the HTTP server: the test stops once logging is configured."""

    started = False

    def __init__(self, config: object, *_: object) -> None:
        self.config = config

    def run(self, sockets: object = None) -> None:
        return None


@pytest.mark.req("ORCH-8006")
@pytest.mark.parametrize(("configured", "expected"), [(None, logging.INFO), ("warning", logging.WARNING)])
def test_the_configured_level_reaches_the_json_log(
    configured: str | None, expected: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert OrchestratordConfig().logging.level == "info"
    levels: list[int] = []
    monkeypatch.setattr(daemon_main, "_Server", ServerNotStarted)
    monkeypatch.setattr(daemon_main, "configure_json_logging", lambda level: levels.append(level))
    config = tmp_path / "orchestratord.yaml"
    config.write_text(f"logging:\n  level: {configured}\n" if configured else "{}\n")
    daemon_main.main(["--config", str(config)])
    assert levels == [expected]


@pytest.mark.req("ORCH-8006")
async def test_no_line_per_token_at_info_or_above(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    counts = {}
    async with running_daemon() as daemon:
        for tokens in (2, 40):
            caplog.clear()
            task_id = (await daemon.submit(max_tokens=tokens)).json()["task_id"]
            done = await daemon.wait_state(task_id, "succeeded")
            assert done["tokens_out"] == tokens
            counts[tokens] = sum(1 for record in caplog.records if record.levelno >= logging.INFO)
    assert counts[2] == counts[40]
    assert counts[2] < 20
