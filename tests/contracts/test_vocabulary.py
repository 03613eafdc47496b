"""The word lists declared once in `orchestrator_core.vocabulary` are the contract's own lists."""

from __future__ import annotations

from typing import Any, get_args, get_origin

import pytest

from contracts.api_types import control, data
from orchestrator_core.task import Priority
from orchestrator_core.vocabulary import Determinism, PriorityName, Workload


def words(annotation: Any) -> set[str]:
    """The strings of a Literal, through TypeAliasType, Annotated, list and `| MISSING`."""
    found = _words(annotation)
    assert found, f"no Literal in {annotation!r}"
    return found


def _words(annotation: Any) -> set[str]:
    value = getattr(annotation, "__value__", annotation)
    if get_origin(value) is not None and get_args(value) and all(isinstance(a, str) for a in get_args(value)):
        return set(get_args(value))
    return {word for arg in get_args(value) for word in _words(arg)}


@pytest.mark.req("ORCH-1001", "ORCH-3506")
def test_priority_workload_and_determinism_match_the_contract() -> None:
    assert words(PriorityName) == words(data.Priority) == {p.value for p in Priority}
    assert (
        words(Workload)
        == words(control.Workload)
        == words(data.EngineCapability.model_fields["workloads"].annotation)
    )
    assert words(Determinism) == words(data.TaskRequest.model_fields["determinism"].annotation)
    assert words(Determinism) == words(data.EngineCapability.model_fields["determinism"].annotation)
