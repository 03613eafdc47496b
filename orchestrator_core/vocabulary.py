"""The closed word lists every layer shares, declared once: a task's priority class name, its workload
and its determinism mode. The contract's generated models spell the same lists; a test keeps them equal."""

from __future__ import annotations

from typing import Literal, TypeAlias

PriorityName: TypeAlias = Literal["interactive", "batch"]
Workload: TypeAlias = Literal["completion", "chat", "embedding"]
Determinism: TypeAlias = Literal["strict", "best_effort"]
STRICT: Determinism = "strict"
BEST_EFFORT: Determinism = "best_effort"
