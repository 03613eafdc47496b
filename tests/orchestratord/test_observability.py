"""Metrics exactly as the metrics spec; JSON log lines with context and without prompts or keys."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.config_schema.common import sha256_hex
from contracts.log_line import JsonLineFormatter
from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon


@dataclass(frozen=True)
class SpecMetric:
    name: str
    kind: str
    labels: frozenset[str]
    buckets: tuple[float, ...]
    help: str


def orchestratord_spec() -> dict[str, SpecMetric]:
    text = Path(__file__).resolve().parents[2].joinpath(".specs/metrics/otel-prom.md").read_text()
    section = text.split("## orchestratord", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[0].startswith("orchd_"):
            continue
        name, kind, labels, _unit, buckets, help_text = cells
        label_set = frozenset() if labels == "-" else frozenset(x.strip() for x in labels.split(","))
        bucket_tuple = () if buckets == "-" else tuple(float(b) for b in buckets.split(","))
        family = name.removesuffix("_total") if kind == "counter" else name
        found[family] = SpecMetric(name, kind, label_set, bucket_tuple, help_text)
    return found


@pytest.mark.req("ORCH-8001", "ORCH-8002", "ORCH-1070")
async def test_metrics_families_types_labels_help_and_buckets_match_the_spec() -> None:
    spec = orchestratord_spec()
    assert len(spec) >= 25
    async with running_daemon() as daemon:
        task_id = (await daemon.submit(max_tokens=3)).json()["task_id"]
        await read_stream(daemon.client, task_id)
        await daemon.submit(model_ref="pkg:unknown")
        response = await daemon.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert set(families) == set(spec)
    for name, family in families.items():
        expected = spec[name]
        assert family.type == expected.kind, name
        assert family.documentation == expected.help, name
        for sample in family.samples:
            labels = set(sample.labels) - {"le"}
            assert labels == expected.labels, (name, labels)
            assert not sample.name.endswith("_created"), sample.name
        if expected.kind == "histogram":
            bounds = sorted({float(s.labels["le"]) for s in family.samples if "le" in s.labels})
            assert tuple(b for b in bounds if b != float("inf")) == expected.buckets, name
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples
    }
    assert samples[("orchd_tasks_succeeded_total", (("pool_id", "pool-a"), ("priority", "interactive")))] == 1
    assert samples[("orchd_output_tokens_total", (("engine", "llamacpp"), ("pool_id", "pool-a")))] == 3
    assert (
        samples[("orchd_tasks_rejected_total", (("pool_id", "_none"), ("reason", "POOL_UNAVAILABLE")))] == 1
    )
    assert samples[("orchd_replica_slots", (("pool_id", "pool-a"), ("replica_id", "r0")))] == 2


@pytest.mark.req("ORCH-8003", "ORCH-5006")
async def test_log_lines_are_json_with_context_and_never_prompts_or_keys() -> None:
    secret_prompt = "the launch code is 0000"
    api_key = "key-that-must-not-leak"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("orchestratord")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    config = make_config(api_keys=[{"sha256": sha256_hex(api_key), "tenant": "team-a"}])
    try:
        async with running_daemon(
            [MockReplica(faults=Faults(fail_at=2))],
            config=config,
            headers={"authorization": f"Bearer {api_key}"},
        ) as daemon:
            response = await daemon.submit(
                prompt=secret_prompt, session_id="0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
            )
            task_id = response.json()["task_id"]
            await daemon.wait_state(task_id, "failed")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    text = stream.getvalue()
    assert secret_prompt not in text and api_key not in text and sha256_hex(api_key) not in text
    lines = [orjson.loads(line) for line in text.splitlines()]
    by_event = {line["event"]: line for line in lines}
    admitted = by_event["task.admitted"]
    assert admitted["task_id"] == task_id and admitted["tenant"] == "team-a"
    assert {
        "correlation_id",
        "session_id",
        "pool_id",
        "queue_position",
        "predicted_start_ms",
    } <= admitted.keys()
    started = by_event["task.started"]
    assert {"engine", "engine_version", "replica_id", "pool_id"} <= started.keys()
    ended = by_event["task.ended"]
    assert ended["tokens_out"] == 2 and ended["code"] == "WORKER_RESET" and "decode_time_ms" in ended
    assert all(re.fullmatch(r"[a-z_.]+", line["event"]) for line in lines)
    assert all(line["msg"] for line in lines)
    assert by_event["task.ended"]["msg"].startswith("task ended")
    rfc3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
    assert all(re.fullmatch(rfc3339, line["ts"]) for line in lines), lines[0]["ts"]


@pytest.mark.req("ORCH-8003")
def test_a_library_log_line_is_the_event_of_its_logger_with_its_text_as_msg() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started %s", ("server",), None)
    record.created = 0.25
    line = orjson.loads(JsonLineFormatter().format(record))
    assert line == {
        "ts": "1970-01-01T00:00:00.250000Z",
        "level": "info",
        "event": "uvicorn.error",
        "msg": "Started server",
    }
