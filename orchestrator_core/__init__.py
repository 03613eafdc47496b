"""orchestrator_core: the pure scheduling library of OrchQueue (no I/O; time is passed in as `now_ms`).

Modules, one concept each:

- `task`: QueuedTask and Priority, the value types the queue holds;
- `queue`: PoolQueue, the bounded per-pool queue (full-queue policies, fair dequeue, cancel, expiry,
  requeue at the head);
- `fairness`: the weighted class scheduler (proven batch starvation bound) and tenant deficit round robin;
- `deadlines`: refusal at admission and expiry in the queue;
- `predictions`: per-replica EWMA throughput, queue position, predicted start, on-time probability;
- `quotas`: per-tenant max concurrent tasks and tokens-per-minute token buckets;
- `budgets`: per-session token and time budgets;
- `seed`: the seed of a task that brought none;
- `replica`: ReplicaView and ReplicaSetIdentity, what the daemon knows about a replica;
- `placement`: `decide(requirements, candidates)`;
- `leases`: slot lease accounting per replica;
- `admission`: the one admission order from session state on (session, quota, prediction, deadline,
  queue policy, commit), run by orchestratord and by the `Scheduler` facade;
- `scheduler`: a facade for library users (admit, next_task, requeue_front, cancel, finish, drain);
- `errors`: the one error hierarchy of the project.
"""
