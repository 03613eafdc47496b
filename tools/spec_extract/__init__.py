"""Extract the normative requirements from `.specs/` and link them to the tests and code that reference them.

`python -m tools.spec_extract` writes `requirements/<spec>.yaml` and `COMPLIANCE.md`;
`--check` regenerates them in memory and fails when the committed files are stale.
"""
