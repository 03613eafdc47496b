"""Regeneration of the files derived from the contracts: `python -m tools.regen [--check]`."""
