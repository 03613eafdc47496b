"""panel_render: draws dashboard panels from Prometheus-format scrapes of a load run to PNG (ORCH-8103).

The input is a directory written by `tools.metrics_lint.load` (numbered `.prom` scrapes and
`index.jsonl` with their times); the output is a build artifact under `artifacts/`, never committed.
"""
