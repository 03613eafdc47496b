"""Predictions (ORCH-2203, ORCH-2207): queue position, predicted start, decode time and on-time probability.

Throughput is learnt per replica as exponentially weighted moving averages (EWMA) of decode tokens/s and
first-token latency, with their spread. A pool's service rate aggregates the rates of its replicas.

The work ahead of a task (its queue position and the tokens of the tasks ahead) comes from the queue's
fair order (`PoolQueue.ahead_of`, `PoolQueue.ahead_if_enqueued`). The predicted start is the pool's
remaining work (running tasks plus the work ahead) shared over its slots; the task starts at once if a
slot is free for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orchestrator_core.errors import InvalidParams
from orchestrator_core.queue import Ahead

_MIN_RATE = 1e-3


class Ewma:
    """Exponentially weighted mean and variance of one signal."""

    __slots__ = ("_alpha", "mean", "samples", "variance")

    def __init__(self, alpha: float, initial: float) -> None:
        """Start at `initial` with weight `alpha` for each new sample.

        Raises:
            InvalidParams: `alpha` outside (0, 1].
        """
        if not 0.0 < alpha <= 1.0:
            raise InvalidParams("EWMA alpha must lie in (0, 1]")
        self._alpha = alpha
        self.mean = initial
        self.variance = 0.0
        self.samples = 0

    def update(self, sample: float) -> None:
        """Fold in one sample; the first one replaces the prior."""
        if not math.isfinite(sample):
            return
        if self.samples == 0:
            self.mean = sample
        else:
            delta = sample - self.mean
            self.mean += self._alpha * delta
            self.variance = (1.0 - self._alpha) * (self.variance + self._alpha * delta * delta)
        self.samples += 1

    @property
    def cv(self) -> float:
        """Coefficient of variation (0 while the mean is 0)."""
        return math.sqrt(self.variance) / self.mean if self.mean > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ServiceRate:
    """How fast a pool works: decode tokens/s per slot, first-token latency, slots, relative spread."""

    tokens_per_s: float
    first_token_ms: float
    slots: int
    cv: float = 0.25

    def service_ms(self, tokens: float, tasks: float = 1.0) -> float:
        """Time one slot needs for `tasks` tasks totalling `tokens` output tokens."""
        return tasks * self.first_token_ms + 1000.0 * tokens / max(self.tokens_per_s, _MIN_RATE)


class ThroughputModel:
    """Per-replica EWMA of tokens/s and first-token ms, with priors for replicas not yet observed."""

    __slots__ = ("_alpha", "_first_token", "_prior_first_token_ms", "_prior_tokens_per_s", "_tokens_per_s")

    def __init__(
        self, alpha: float = 0.2, prior_tokens_per_s: float = 20.0, prior_first_token_ms: float = 500.0
    ) -> None:
        """Create a model; priors are used until a replica reports its first task.

        Raises:
            InvalidParams: `alpha` outside (0, 1] or non-positive priors.
        """
        if not 0.0 < alpha <= 1.0:
            raise InvalidParams("EWMA alpha must lie in (0, 1]")
        if prior_tokens_per_s <= 0 or prior_first_token_ms < 0:
            raise InvalidParams("priors must be positive")
        self._alpha = alpha
        self._prior_tokens_per_s = prior_tokens_per_s
        self._prior_first_token_ms = prior_first_token_ms
        self._tokens_per_s: dict[str, Ewma] = {}
        self._first_token: dict[str, Ewma] = {}

    def observe(self, replica_id: str, *, tokens_out: int, decode_ms: float, first_token_ms: float) -> None:
        """Record a finished task: `tokens_out` tokens decoded in `decode_ms` after `first_token_ms`."""
        if tokens_out >= 2 and decode_ms > 0:  # one token has no decode time (ORCH-2205)
            self._series(self._tokens_per_s, replica_id, self._prior_tokens_per_s).update(
                1000.0 * tokens_out / decode_ms
            )
        if first_token_ms >= 0:
            self._series(self._first_token, replica_id, self._prior_first_token_ms).update(first_token_ms)

    def forget(self, replica_id: str) -> None:
        """Drop what was learnt about a replica that went away."""
        self._tokens_per_s.pop(replica_id, None)
        self._first_token.pop(replica_id, None)

    def tokens_per_s(self, replica_id: str) -> float:
        """EWMA decode rate of a replica (the prior if unobserved)."""
        series = self._tokens_per_s.get(replica_id)
        return series.mean if series else self._prior_tokens_per_s

    def first_token_ms(self, replica_id: str) -> float:
        """EWMA first-token latency of a replica (the prior if unobserved)."""
        series = self._first_token.get(replica_id)
        return series.mean if series else self._prior_first_token_ms

    def pool_rate(self, replica_slots: Mapping[str, int]) -> ServiceRate:
        """Aggregate rate of replicas given as {replica_id: slots}; slot-weighted means of their rates."""
        slots = sum(max(0, n) for n in replica_slots.values())
        if slots == 0:
            return ServiceRate(self._prior_tokens_per_s, self._prior_first_token_ms, 0)
        tps = sum(self.tokens_per_s(r) * n for r, n in replica_slots.items()) / slots
        ftm = sum(self.first_token_ms(r) * n for r, n in replica_slots.items()) / slots
        cvs = [s.cv for r, s in self._tokens_per_s.items() if r in replica_slots and s.samples > 1]
        cv = max(cvs) if cvs else 0.25
        return ServiceRate(tps, ftm, slots, max(cv, 0.05))

    def _series(self, table: dict[str, Ewma], replica_id: str, prior: float) -> Ewma:
        series = table.get(replica_id)
        if series is None:
            series = table[replica_id] = Ewma(self._alpha, prior)
        return series


@dataclass(frozen=True, slots=True)
class Running:
    """A task holding a slot of the pool: its estimated output tokens and the time since it started."""

    tokens: int
    elapsed_ms: float


@dataclass(frozen=True, slots=True)
class Prediction:
    """What admission tells the client, plus the decode estimate the deadline check uses."""

    queue_position: int
    predicted_start_ms: float
    predicted_decode_ms: float
    on_time_probability: float


def running_ms(rate: ServiceRate, running: Iterable[Running]) -> float:
    """Predicted remaining time of the running tasks, summed (ORCH-2207): for each, one slot's time to
    serve it (first-token EWMA plus its estimated tokens at the EWMA rate) less the time it has run, at
    least 0."""
    return sum(max(0.0, rate.service_ms(task.tokens) - task.elapsed_ms) for task in running)


def predicted_start_ms(ahead: Ahead, *, rate: ServiceRate, slots_free: int, running: float) -> float:
    """When a task with `ahead` in front of it starts (ORCH-2207).

    0 when fewer tasks are ahead than slots are free. Otherwise the pool's remaining work, `running` (the
    remaining time of its running tasks, `running_ms`) plus the service time of the work ahead, shared
    evenly over the slots of its ready replicas (at least one).
    """
    if ahead.tasks < slots_free:
        return 0.0
    return (running + rate.service_ms(ahead.tokens, ahead.tasks)) / max(rate.slots, 1)


def predict(
    ahead: Ahead,
    *,
    tokens: int,
    rate: ServiceRate,
    slots_free: int,
    running: float,
    deadline_in_ms: float | None,
) -> Prediction:
    """Position, start, decode time and on-time probability of a task with `ahead` in front of it.

    `running` is the remaining time of the pool's running tasks (`running_ms`). The on-time probability
    treats the finishing time as normal with the pool's relative spread `cv`.
    """
    decode_ms = rate.service_ms(tokens)
    start_ms = predicted_start_ms(ahead, rate=rate, slots_free=slots_free, running=running)
    return Prediction(
        ahead.tasks, start_ms, decode_ms, on_time_probability(start_ms + decode_ms, rate.cv, deadline_in_ms)
    )


MIN_RETRY_AFTER_MS = 100


def retry_after_ms(rate: ServiceRate, tokens: int) -> int:
    """Retry hint of a queue refusal or eviction (ORCH-2014): the time one slot of the pool needs to serve
    the task (first-token EWMA plus `tokens` at the EWMA rate), at least 100 ms."""
    return max(MIN_RETRY_AFTER_MS, math.ceil(rate.service_ms(tokens)))


def on_time_probability(expected_ms: float, cv: float, deadline_in_ms: float | None) -> float:
    """P(finish <= deadline) for a finish time ~ Normal(expected, (cv * expected)^2); 1 with no deadline."""
    if deadline_in_ms is None:
        return 1.0
    spread = max(cv, 0.0) * expected_ms
    if spread <= 0.0:
        return 1.0 if expected_ms <= deadline_in_ms else 0.0
    z = (deadline_in_ms - expected_ms) / spread
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
