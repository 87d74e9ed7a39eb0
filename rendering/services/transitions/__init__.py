"""The one owner of a render instruction's state.

Only this package writes `RenderInstruction.status`, `priority`, the claim/lease fields
(`claimed_by`, `lease_id`, `heartbeat_at`, `next_attempt_at`) and `retry_count`
(tests/hub/test_architecture.py fails on any other writer). Every caller — internal
workers, the pull API, the reaper, the sweep, the manual actions, the admin, the detectors, the
API / CSV creation and the simulator — goes through it:

* `table`: the transitions, the states each may start from, its event code, whether it is audited;
  the claim reset; who acts (`Actor`); how a change is applied and recorded;
* `create`: the one INSERT (a new row is PENDING);
* `lease`: the workers' claim, heartbeat, complete, fail, release (refused once the lease is lost);
* `decisions`: the hub's own decisions (reap a stuck job, retry a failed one, raise a priority);
* `manual`: people's actions (retry, cancel, change priority, bulk retry);
* `simulate`: the simulator's fast-forward of fabricated rows.

Each transition is one conditional UPDATE checked by its row count and records, in the same
transaction, its event, its live `instruction_updated` and (for people and automatic decisions)
its audit entry; the workers' wake-up goes out after commit.
"""
