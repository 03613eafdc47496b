"""The load generator counts tokens only in complete SSE frames, and gap percentiles weigh batched tokens."""

from __future__ import annotations

import pytest

from bench.arms import LlamaNativeCounter, OpenAISseCounter, OrchSseCounter
from bench.report import END, START, update_readme
from bench.stats import GapSamples


@pytest.mark.req("ORCH-9202")
def test_a_frame_split_across_reads_counts_once_when_complete() -> None:
    counter = OrchSseCounter()
    frame = b'event: token\nid: 0\ndata: {"t":" a","i":0}\n\n'
    assert counter.feed(frame[:10]) == (0, False)
    assert counter.feed(frame[10:] + frame) == (2, False)
    assert counter.feed(b'event: end\ndata: {"tokens_out":2}\n\n') == (0, True)
    assert counter.failed is None


@pytest.mark.req("ORCH-9202")
def test_llama_native_and_openai_chunks_are_counted_per_token() -> None:
    native = LlamaNativeCounter()
    token = b'data: {"content":" x","stop":false}\n\n'
    assert native.feed(token * 3 + b'data: {"content":"","stop":true}\n\n') == (3, True)
    openai = OpenAISseCounter()
    merged = b'data: {"choices":[{"text":" the of and","index":0}]}\n\n'
    usage = b'data: {"choices":[],"usage":{"completion_tokens":3}}\n\n'
    assert openai.feed(merged + usage + b"data: [DONE]\n\n") == (3, True)
    assert openai.usage_tokens == 3


@pytest.mark.req("ORCH-9202")
def test_an_error_event_marks_the_stream_failed() -> None:
    counter = OrchSseCounter()
    _, done = counter.feed(b'event: error\ndata: {"code":"WORKER_RESET"}\n\n')
    assert done and counter.failed == "error event"


@pytest.mark.req("ORCH-9202")
def test_gap_percentiles_count_batched_tokens_as_zero_gaps() -> None:
    gaps = GapSamples()
    gaps.add(1000.0, 98)  # one read carrying 98 tokens: one real gap, 97 zero gaps
    gaps.add(5000.0, 2)
    assert gaps.count == 100
    assert gaps.percentile(0.50) == 0.0
    assert gaps.percentile(0.99) == 1000.0
    assert gaps.percentile(1.0) == 5000.0


@pytest.mark.req("ORCH-9209")
def test_readme_table_is_replaced_between_its_markers_only(tmp_path: object) -> None:
    from pathlib import Path

    readme = Path(str(tmp_path)) / "README.md"
    readme.write_text(f"# Bench\n\nwritten by hand\n\n{START}\nold table\n{END}\n\nfindings by hand\n")
    results = {"arms": {"direct": {"1": _cell(1000.0)}, "v1": {"1": _cell(800.0, added=1.5)}}}
    update_readme(results, "bench/results/x.json", readme)
    text = readme.read_text()
    assert "written by hand" in text and "findings by hand" in text and "old table" not in text
    assert "| 1 | OrchQueue v1 (POST + SSE) |" in text and "0.80x" in text


def _cell(tokens_per_s: float, added: float | None = None) -> dict[str, object]:
    cell: dict[str, object] = {
        "requests": 10,
        "failed": 0,
        "requests_per_s": tokens_per_s / 100,
        "tokens_per_s": tokens_per_s,
        "ttft_ms": {"p50": 1.0, "p99": 2.0},
        "inter_token_gap_ms": {"p50": 0.0, "p99": 0.1},
    }
    if added is not None:
        cell["added_ttft_ms"] = {"p50": added, "p99": added}
        cell["ratio_to_direct"] = {"tokens_per_s": tokens_per_s / 1000.0}
        cell["orchestratord"] = {"cpu_s_per_1k_tokens": 0.05, "rss_mib_max": 70.0}
    return cell
