"""Seed policy (ORCH-2401): a task without a seed gets one derived from its task_id, so replays match.

    seed = int.from_bytes(sha256(canonical_task_id.encode("ascii")).digest()[:4], "big")

where `canonical_task_id` is the UUID in its canonical lowercase hyphenated text form (36 characters,
as `str(uuid.UUID(task_id))` prints it). The result lies in 0..4294967295.
"""

from __future__ import annotations

import hashlib
import uuid

from orchestrator_core.errors import InvalidParams

SEED_MAX = 4_294_967_295


def canonical_task_id(task_id: str) -> str:
    """The canonical lowercase hyphenated text of a UUID task id.

    Raises:
        InvalidParams: `task_id` is not a UUID.
    """
    try:
        return str(uuid.UUID(task_id))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidParams(f"task_id is not a UUID: {task_id!r}") from exc


def derive_seed(task_id: str) -> int:
    """The seed of a task that did not bring one: first 4 bytes of SHA-256 of its canonical id, big-endian.

    Raises:
        InvalidParams: `task_id` is not a UUID.
    """
    digest = hashlib.sha256(canonical_task_id(task_id).encode("ascii")).digest()
    return int.from_bytes(digest[:4], "big")


def resolve_seed(seed: int | None, task_id: str) -> int:
    """The seed a task runs with: its own if given (checked to lie in 0..4294967295), else the derived one.

    Raises:
        InvalidParams: a seed out of range (`bool` is refused too) or a `task_id` that is not a UUID.
    """
    if seed is None:
        return derive_seed(task_id)
    if isinstance(seed, bool) or not 0 <= seed <= SEED_MAX:
        raise InvalidParams(f"seed must be an integer in 0..{SEED_MAX}")
    return seed
