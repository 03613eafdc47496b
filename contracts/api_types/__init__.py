"""Pydantic models generated from `contracts/openapi/*.yaml` by `python -m tools.regen`; never edited by hand.

`data` is orchestratord's data plane, `control` its control plane, `pool` pool_managerd's own API. Optional
fields a client left out hold `pydantic.MISSING` (not None) and are left out again when dumped.
"""
