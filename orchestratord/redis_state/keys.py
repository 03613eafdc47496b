"""Where the shared state lives in Redis: every key name of the shared mode, under the configured prefix.

A {hash tag} groups the keys that one script touches into one cluster slot: a pool's queue keys, and a
task's record with its transcript stream.
"""

from __future__ import annotations


def queue_key(prefix: str, pool_id: str) -> str:
    """The prefix of one pool's queue keys (queue.lua names the rest)."""
    return f"{prefix}:queue:{{{pool_id}}}:"


def taken_keys(prefix: str, pool_id: str) -> tuple[str, str]:
    """The hashes of the tasks taken from the pool's queue and not yet ended or requeued (ORCH-4112)."""
    base = queue_key(prefix, pool_id)
    return base + "taken", base + "tblob"


def task_key(prefix: str, task_id: str) -> str:
    return f"{prefix}:task:{{{task_id}}}"


def stream_key(prefix: str, task_id: str) -> str:
    return f"{prefix}:stream:{{{task_id}}}"


def instance_key(prefix: str, instance_id: str) -> str:
    """Present while the instance is alive (it renews the key's TTL)."""
    return f"{prefix}:instance:{instance_id}"


def node_keys(prefix: str) -> tuple[str, str]:
    """The hashes of the published node registrations and of their latest heartbeats (ORCH-4113)."""
    return f"{prefix}:nodes", f"{prefix}:node-beats"


def session_keys(prefix: str, session_id: str) -> tuple[str, str]:
    """A session's latest state and the lock of the instance deciding on it (ORCH-4117)."""
    return f"{prefix}:session:{{{session_id}}}", f"{prefix}:session:{{{session_id}}}:lock"
