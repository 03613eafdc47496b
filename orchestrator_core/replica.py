"""What the scheduler knows about a replica: the snapshot the daemon fills from live data."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator_core.errors import InvalidParams
from orchestrator_core.vocabulary import BEST_EFFORT, Determinism


@dataclass(frozen=True, slots=True, order=True)
class ReplicaSetIdentity:
    """What makes two replicas produce byte-identical streams (ORCH-3004, ORCH-3503)."""

    engine: str
    engine_version: str
    model_digest: str
    sampler_profile_version: str


@dataclass(frozen=True, slots=True)
class ReplicaView:
    """One replica at one moment: identity, health and capacity.

    `model_ref` is what clients ask for; `model_names` the other names that also match (the engine's own
    model name, the operator's aliases, ORCH-1062). `slots_free`
    should already account for the daemon's own leases (see `leases.SlotLedger`). `determinism` is the
    mode the replica's engine runs in as registered; a replica not known to be strict is `best_effort`.
    """

    replica_id: str
    pool_id: str
    engine: str
    engine_version: str
    model_ref: str
    model_digest: str
    ctx_max: int
    slots_total: int
    slots_free: int
    ready: bool = True
    draining: bool = False
    sampler_profile_version: str = "v1"
    determinism: Determinism = BEST_EFFORT
    model_names: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()
    workloads: frozenset[str] = frozenset({"completion", "chat"})
    vram_free_mb: int = 0
    tokens_per_s: float = 0.0
    first_token_ms: float = 0.0
    warm_sessions: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        """Reject impossible capacity figures.

        Raises:
            InvalidParams: an empty replica id, negative slots, or more free slots than slots.
        """
        if not self.replica_id:
            raise InvalidParams("replica_id must not be empty")
        if self.slots_total < 0 or self.slots_free < 0 or self.slots_free > self.slots_total:
            raise InvalidParams(f"replica {self.replica_id}: need 0 <= slots_free <= slots_total")

    @property
    def identity(self) -> ReplicaSetIdentity:
        """The replica-set identity this replica belongs to."""
        return ReplicaSetIdentity(
            self.engine, self.engine_version, self.model_digest, self.sampler_profile_version
        )

    def serves_model(self, model: str) -> bool:
        """Whether a request for `model` may run here."""
        return model == self.model_ref or model in self.model_names
