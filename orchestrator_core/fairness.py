"""Who goes next: weighted scheduling between priority classes and deficit round robin between tenants.

Class scheduling (ORCH-2101, ORCH-2102). With weights W_i:W_b (default 8:1) the scheduler serves runs of
at most W_i interactive tasks and at most W_b batch tasks, alternating whenever both classes wait.

    Starvation bound. While the batch class is non-empty, a batch task is dispatched at least once every
    W_i + 1 dispatches.

    Proof. Let `run` be the class of the last dispatch and `n` the length of the current run of that class.
    An interactive task is chosen while batch waits only if run = interactive and n < W_i; each such
    dispatch raises n by one, and n only drops when a batch task is dispatched. So, counting from the first
    dispatch at which batch is non-empty, at most W_i interactive dispatches can follow before the guard
    n < W_i fails and the batch class is chosen. Hence among any W_i + 1 consecutive dispatches made while
    batch is non-empty, at least one is batch. (A run that grew past W_i while batch was empty ends at the
    first dispatch after a batch task arrives.) Symmetrically interactive waits at most W_b dispatches.

Tenant scheduling (ORCH-2103). Inside a class, tenants take turns in a ring (deficit round robin). A tenant
opening its turn gets a quantum of tokens added to its deficit and dispatches head-of-line tasks while the
deficit covers their estimated tokens. The quantum is never below the largest task cost seen, so every turn
dispatches at least one task and a dispatch costs O(1) amortised. Over any interval in which two tenants
stay backlogged, the tokens dispatched for them differ by at most 3 quanta: a flooding tenant gets its share
and no more. A tenant whose lane empties leaves the ring and forfeits its deficit.

Predicting the order (ORCH-2206). With no arrivals both stages are closed-form: by the end of its j-th turn
from now a tenant has been served every head task whose lane prefix (tokens of its lane up to and including
the task) fits its credit deficit + j·Q, and the class runs follow the weights. So the number of tasks
dispatched before a given one is computed from per-tenant credits and the current runs, without replaying
the queue (`DeficitRoundRobin.credits_before`, `ClassScheduler.others_before`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from orchestrator_core.errors import InvalidParams
from orchestrator_core.task import Priority


class ClassScheduler:
    """Chooses the priority class of the next dispatch with the proven batch starvation bound."""

    __slots__ = ("_run", "_run_length", "_weights")

    def __init__(self, interactive_weight: int = 8, batch_weight: int = 1) -> None:
        """Create a scheduler serving `interactive_weight` interactive tasks per `batch_weight` batch tasks.

        Raises:
            InvalidParams: a weight below 1.
        """
        if interactive_weight < 1 or batch_weight < 1:
            raise InvalidParams("class weights must be >= 1")
        self._weights = {Priority.INTERACTIVE: interactive_weight, Priority.BATCH: batch_weight}
        self._run = Priority.INTERACTIVE
        self._run_length = 0

    @property
    def weights(self) -> tuple[int, int]:
        """The (interactive, batch) weights."""
        return self._weights[Priority.INTERACTIVE], self._weights[Priority.BATCH]

    def choose(self, interactive_waiting: bool, batch_waiting: bool) -> Priority | None:
        """The class to dispatch from next, or None when both are empty. Does not record a dispatch."""
        if not batch_waiting:
            return Priority.INTERACTIVE if interactive_waiting else None
        if not interactive_waiting:
            return Priority.BATCH
        if self._run_length < self._weights[self._run]:
            return self._run
        return Priority.BATCH if self._run is Priority.INTERACTIVE else Priority.INTERACTIVE

    def others_before(self, priority: Priority, own_before: int, others_waiting: int) -> int:
        """Dispatches of the other class that come before the (`own_before` + 1)-th dispatch of `priority`.

        Assumes `priority` stays non-empty until then, the other class holds `others_waiting` tasks and
        nothing arrives. From now the runs go: the rest of the current run, then alternating full runs of
        W_own and W_other, so the target's run is preceded by one other-class run per own run before it.
        """
        own = self._weights[priority]
        other = self._weights[Priority.BATCH if priority is Priority.INTERACTIVE else Priority.INTERACTIVE]
        run, length = self._run, self._run_length
        if run is priority:
            pending_others = 0
            first_own_run = own - length if length < own else 0
        else:
            pending_others = other - length if length < other else 0
            first_own_run = own
        if own_before < first_own_run:
            return min(others_waiting, pending_others)
        full_own_runs = (own_before - first_own_run) // own
        return min(others_waiting, pending_others + (full_own_runs + 1) * other)

    def record(self, priority: Priority) -> None:
        """Note that a task of `priority` was dispatched."""
        if priority is self._run:
            self._run_length += 1
        else:
            self._run = priority
            self._run_length = 1


class DeficitRoundRobin:
    """Deficit round robin over the tenants of one class, charged in estimated tokens."""

    __slots__ = ("_deficit", "_max_cost", "_min_quantum", "_ring", "_turn_open")

    def __init__(self, min_quantum: int = 1) -> None:
        """Create an empty ring; the quantum is max(`min_quantum`, largest cost noted so far).

        Raises:
            InvalidParams: a quantum below 1.
        """
        if min_quantum < 1:
            raise InvalidParams("quantum must be >= 1")
        self._min_quantum = min_quantum
        self._max_cost = 1
        self._ring: deque[str] = deque()
        self._deficit: dict[str, int] = {}
        self._turn_open = False

    @property
    def quantum(self) -> int:
        """Tokens a tenant is credited when its turn opens."""
        return self._min_quantum if self._min_quantum > self._max_cost else self._max_cost

    def activate(self, tenant: str, cost: int) -> None:
        """Put `tenant` in the ring if it is not there (O(1)) and note a task `cost` for the quantum."""
        if cost > self._max_cost:
            self._max_cost = cost
        if tenant not in self._deficit:
            self._deficit[tenant] = 0
            self._ring.append(tenant)

    def choose(self, head_cost: Callable[[str], int | None]) -> str | None:
        """The tenant whose head task goes next, charging its deficit; None when no tenant has a task.

        `head_cost(tenant)` gives the cost of the tenant's head task, or None if its lane is empty; an
        empty tenant leaves the ring here (lazy removal keeps cancel O(1)).
        """
        ring = self._ring
        deficit = self._deficit
        while ring:
            tenant = ring[0]
            cost = head_cost(tenant)
            if cost is None:
                ring.popleft()
                del deficit[tenant]
                self._turn_open = False
                continue
            if not self._turn_open:
                deficit[tenant] += self.quantum
                self._turn_open = True
            left = deficit[tenant]
            if left >= cost:
                deficit[tenant] = left - cost
                return tenant
            self._turn_open = False
            ring.rotate(-1)
        return None

    def credits_before(self, tenant: str, need: int, *, min_quantum: int = 1) -> list[tuple[str, int]]:
        """Tokens each other tenant may be served before a task of `tenant`, if nothing arrives.

        `need` is the tokens of `tenant`'s lane up to and including the task. By the end of its j-th turn
        from now a tenant has been served every head task whose lane prefix fits its credit
        c(j) = deficit + j·Q (an open turn has had its quantum already), so the task leaves in the first
        turn j* with need <= c(j*); tenants before `tenant` in the ring have had j* turns by then, those after
        it j* - 1. Returns (tenant, credit) in ring order, -1 for a tenant with no turn. A `tenant` not in
        the ring joins its end with no deficit, as `activate` does; `min_quantum` is the cost of a task
        about to arrive, which may raise the quantum. O(T).
        """
        quantum = max(self.quantum, min_quantum)
        ring = list(self._ring)
        if tenant not in self._deficit:
            ring.append(tenant)
        deficit = self._deficit
        open_head = ring[0] if self._turn_open else None

        def base(member: str) -> int:
            credit = deficit.get(member, 0)
            return credit - quantum if member == open_head else credit

        position = ring.index(tenant)
        turns = max(1, -(-(need - base(tenant)) // quantum))
        credits: list[tuple[str, int]] = []
        for index, member in enumerate(ring):
            if index == position:
                continue
            member_turns = turns if index < position else turns - 1
            credits.append((member, base(member) + member_turns * quantum if member_turns > 0 else -1))
        return credits

    def tenants(self) -> tuple[str, ...]:
        """Tenants in ring order (some may have emptied and not yet been dropped)."""
        return tuple(self._ring)
