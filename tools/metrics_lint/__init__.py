"""metrics_lint: the daemons' metrics, dashboards and alert rules against `.specs/metrics/otel-prom.md`.

`python -m tools.metrics_lint` checks the spec's own naming rules and every PromQL expression of
`ci/dashboards` and `ci/alerts`; with `--run-stack` it also starts orchestratord and pool_managerd (mock
engines) on 127.0.0.1, runs a short load, lints both scrapes (see `exposition` for the exact rules) and
renders the queue-depth and first-token panels to PNG under `artifacts/`. Exit status 1 on any problem.
"""
