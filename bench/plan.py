"""What one benchmark run does: arms, concurrency levels, rounds, durations and the admission phase sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bench.arms import ARMS, Arm, Wire


@dataclass(frozen=True, slots=True)
class Plan:
    """The knobs of a run; the defaults are what `make bench` runs (under 10 minutes on 2 cores)."""

    arms: tuple[Arm, ...] = ARMS
    concurrency: tuple[int, ...] = (1, 16, 64, 256)
    rounds: int = 3
    cell_s: float = 3.0
    warmup_s: float = 1.0
    max_tokens: int = 256
    wire: Wire = "llamacpp"
    admission_warmup: int = 500
    admission_tasks: int = 10_000
    admission_concurrency: int = 32
    flood_s: float = 3.0
    flood_concurrency: tuple[int, ...] = (1, 64)
    # Open-loop flood: fixed offered rates, plus one near the closed-loop capacity; ORCH-9206 is judged at
    # `flood_judged_rate`.
    flood_rates: tuple[float, ...] = (500.0, 1000.0)
    flood_judged_rate: float = 1000.0
    flood_capacity_fraction: float = 0.9
    flood_open_s: float = 4.0
    flood_open_concurrency: int = 64
    core_ops: int = 400_000
    # The shared phase (ORCH-4116): the relay at `shared_concurrency` streams, embedded and on Redis; the
    # admission on Redis; the bytes Redis keeps per queued and per retained task.
    shared_concurrency: int = 64
    shared_admission_tasks: int = 2_000
    shared_bytes_queued: int = 1_000
    shared_bytes_finished: int = 100
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def quick_plan() -> Plan:
    """A tiny run that exercises every phase in seconds (the smoke test uses it)."""
    return Plan(
        concurrency=(1, 4),
        rounds=1,
        cell_s=0.3,
        warmup_s=0.2,
        max_tokens=16,
        admission_warmup=20,
        admission_tasks=200,
        admission_concurrency=4,
        flood_s=0.3,
        flood_concurrency=(1, 4),
        flood_rates=(100.0, 200.0),
        flood_judged_rate=200.0,
        flood_open_s=0.3,
        flood_open_concurrency=4,
        core_ops=4_000,
        shared_concurrency=4,
        shared_admission_tasks=50,
        shared_bytes_queued=20,
        shared_bytes_finished=4,
    )
