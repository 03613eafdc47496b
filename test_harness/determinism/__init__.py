"""The determinism suite (ORCH-9011): seeded prompts pinned to each replica of one strict replica set."""
