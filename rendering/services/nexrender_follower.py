"""The Nexrender follower: every job in flight on the farm, followed by one process.

Render workers submit (or adopt) a job and hand its lease to FOLLOWER_INBOX; the follower
(`manage.py nexrender_follower`, a part of `runhub` when RENDER_BACKEND is nexrender) takes it
to its own `host:pid`, so a follower that dies frees its jobs at once (the queue supervisor sees
the process gone) and the jobs stay on the server for the next claim to adopt. Each poll:

* one `GET /api/v1/jobs/status` for all jobs; failures are retried with backoff while the
  leases are kept alive, for NEXRENDER_OUTAGE_SECONDS, then the rows are released (no retry
  spent, jobs left on the server);
* one heartbeat UPDATE for every followed lease; a lease lost (cancelled, reaped) is dropped;
* progress written as it changes; finished → complete, error → fail, each then deleted from the
  server; picked/started without news for NEXRENDER_STUCK_SECONDS → re-queued on the server (at
  most NEXRENDER_MAX_REQUEUES times, then failed); queued past NEXRENDER_QUEUED_SECONDS → the
  farm is saturated: released without spending a retry; past RENDER_DEADLINE_SECONDS → timed out;
* jobs of this hub's prefix that no row wants any more (cancelled, completed, failed for good,
  replaced) are deleted from the server;
* when slots free up, the follower submits the next jobs itself (as a render worker would: claim,
  submit, hand off), so a machine that finished is not kept waiting for a wake-up round trip.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from automation_hub.errors import LeaseLost, NotFound
from rendering.clients.nexrender import JobStatus, NexrenderClient, NexrenderUnavailable
from rendering.models import InstructionStatus, RenderInstruction
from rendering.renderers import RenderFailed
from rendering.renderers.nexrender import (
    FOLLOWER_INBOX,
    NexrenderRenderer,
    job_delete,
    job_is_in_flight,
    job_result,
    job_target,
    job_uid_pattern,
    nexrender_client,
    nexrender_job,
)
from rendering.services.breaker import breaker_record_failure
from rendering.services.dispatch import instruction_dispatch
from rendering.services.liveness import worker_identity
from rendering.services.transitions.lease import (
    instruction_complete,
    instruction_fail,
    instruction_hand_off,
    instruction_heartbeat,
    instruction_release,
    instruction_release_saturated,
    instructions_heartbeat_held,
)
from rendering.services.worker import queue_work

logger = logging.getLogger(__name__)

OUTAGE_BACKOFF = (0.5, 1.0, 2.0, 4.0, 5.0)
ORPHAN_SWEEP_SECONDS = 5.0
# Rows in these states want no job on the server any more.
DONE = (
    InstructionStatus.COMPLETED,
    InstructionStatus.CANCELLED,
    InstructionStatus.FAILED,
    InstructionStatus.STALE,
)


@dataclass
class Followed:
    instruction_id: int
    lease_id: uuid.UUID
    uid: str
    since: float = field(default_factory=time.monotonic)
    seen: tuple[str, str, int] = ("", "", -1)
    changed: float = field(default_factory=time.monotonic)
    queued_since: float | None = None
    requeues: int = 0


class NexrenderFollower:
    def __init__(self, client: NexrenderClient | None = None, worker_id: str | None = None):
        self.client = client or nexrender_client()
        self.renderer = NexrenderRenderer(self.client)
        self.worker_id = worker_id or f"{worker_identity()}"
        self.followed: dict[int, Followed] = {}
        self.failing_since: float | None = None
        self.failures = 0
        self.next_beat = 0.0
        self.next_orphan_sweep = 0.0

    # -- one poll ---------------------------------------------------------------------------

    def tick(self) -> float:
        """Follow everything once; returns how long to wait before the next poll."""
        self._take_inbox()
        try:
            statuses = self.client.jobs_status()
        except NexrenderUnavailable as exc:
            return self._outage(str(exc))
        if self.failing_since is not None:
            logger.info("nexrender follower: the server answers again")
        self.failing_since, self.failures = None, 0
        self._beat(force=True)
        freed = sum(self._follow(f, statuses.get(f.uid)) for f in list(self.followed.values()))
        now = time.monotonic()
        if now >= self.next_orphan_sweep:
            self._delete_orphans(statuses)
            self.next_orphan_sweep = now + ORPHAN_SWEEP_SECONDS
        if freed:
            self._refill()
        return settings.NEXRENDER_POLL_SECONDS

    def _refill(self) -> None:
        """Slots are free: submit the next jobs from here at once, as a render worker would (an
        AE machine that just finished is asking for one); no wake-up round trip through the
        broker. The workers are woken for whatever this leaves."""
        if queue_work(budget_seconds=1.0, worker_id=self.worker_id, renderer=self.renderer):
            return
        instruction_dispatch(instruction_id=None)

    def _take_inbox(self) -> None:
        """Take every lease a worker left in the inbox (another follower may take some)."""
        handed = RenderInstruction.objects.filter(
            status=InstructionStatus.PROCESSING, claimed_by=FOLLOWER_INBOX
        ).values_list("pk", "lease_id", "external_id")
        for pk, lease_id, uid in list(handed[:500]):
            try:
                instruction_hand_off(
                    instruction_id=pk,
                    worker_id=FOLLOWER_INBOX,
                    lease_id=lease_id,
                    to=self.worker_id,
                )
            except (LeaseLost, NotFound):
                continue  # another follower took it, or it was cancelled meanwhile
            self.followed[pk] = Followed(instruction_id=pk, lease_id=lease_id, uid=uid)

    def _beat(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self.next_beat:
            return
        leases = {pk: f.lease_id for pk, f in self.followed.items()}
        held = instructions_heartbeat_held(worker_id=self.worker_id, leases=leases)
        for pk in set(leases) - held:
            logger.info("instruction %s: no longer ours (cancelled or taken back)", pk)
            self.followed.pop(pk, None)
        self.next_beat = now + settings.RENDER_HEARTBEAT_SECONDS

    def _outage(self, error: str) -> float:
        """The server did not answer: keep the leases alive and retry with backoff; after
        NEXRENDER_OUTAGE_SECONDS release the rows (their jobs stay on the server)."""
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
            logger.warning("nexrender follower: status poll failed (%s); retrying", error)
        self.failures += 1
        self._beat()
        if now - self.failing_since >= settings.NEXRENDER_OUTAGE_SECONDS and self.followed:
            breaker_record_failure(backend="nexrender", error=error)
            for f in list(self.followed.values()):
                instruction_release(
                    instruction_id=f.instruction_id,
                    worker_id=self.worker_id,
                    lease_id=f.lease_id,
                    reason=f"nexrender unavailable for {now - self.failing_since:.0f} s: {error}",
                )
                self.followed.pop(f.instruction_id, None)
        return OUTAGE_BACKOFF[min(self.failures - 1, len(OUTAGE_BACKOFF) - 1)]

    # -- one job ----------------------------------------------------------------------------

    def _follow(self, f: Followed, status: JobStatus | None) -> bool:
        """Act on one job's status; True when its row left this follower (a slot is free)."""
        try:
            if status is None:
                return self._resubmit(f)
            if status.state == "finished":
                return self._finish(f)
            if status.state == "error":
                why = status.error or "no message"
                return self._fail(f, f"Nexrender job {f.uid} failed: {why}")
            if time.monotonic() - f.since > settings.RENDER_DEADLINE_SECONDS:
                limit = settings.RENDER_DEADLINE_SECONDS
                return self._fail(f, f"Render ran past its deadline of {limit} s", timed_out=True)
            if job_is_in_flight(status):
                return self._in_flight(f, status)
        except (LeaseLost, NotFound):
            self.followed.pop(f.instruction_id, None)
            return True
        except NexrenderUnavailable as exc:
            logger.warning("nexrender job %s: %s; next poll retries", f.uid, exc)
        return False

    def _in_flight(self, f: Followed, status: JobStatus) -> bool:
        now = time.monotonic()
        seen = (status.state, status.updated_at, status.render_progress)
        if seen != f.seen:
            f.seen, f.changed = seen, now
            if status.state != "queued":
                f.queued_since = None
                self._progress(f, min(status.render_progress, 99))
        if status.state == "queued":
            f.queued_since = f.queued_since or now
            waited = now - f.queued_since
            if waited >= settings.NEXRENDER_QUEUED_SECONDS:
                return self._saturated(f, waited)
            return False
        if now - f.changed < settings.NEXRENDER_STUCK_SECONDS:
            return False
        if f.requeues >= settings.NEXRENDER_MAX_REQUEUES:
            return self._fail(
                f, f"Nexrender job {f.uid} stuck in {status.state} after {f.requeues} re-queues"
            )
        logger.warning("nexrender job %s stuck in %s: re-queued", f.uid, status.state)
        self.client.job_requeue(f.uid)
        f.requeues += 1
        f.changed = now
        return False

    def _progress(self, f: Followed, percent: int) -> None:
        instruction_heartbeat(
            instruction_id=f.instruction_id,
            worker_id=self.worker_id,
            lease_id=f.lease_id,
            progress=percent,
        )

    def _finish(self, f: Followed) -> bool:
        instruction = RenderInstruction.objects.get(pk=f.instruction_id)
        try:
            result = job_result(instruction, f.uid)
        except RenderFailed as exc:
            return self._fail(f, str(exc))
        instruction_complete(
            instruction_id=f.instruction_id,
            worker_id=self.worker_id,
            lease_id=f.lease_id,
            output_path=result.output_path,
            file_size=result.file_size,
            frame_count=result.frame_count,
        )
        self.followed.pop(f.instruction_id, None)
        job_delete(self.client, f.uid)
        return True

    def _fail(self, f: Followed, message: str, *, timed_out: bool = False) -> bool:
        self.followed.pop(f.instruction_id, None)
        job_delete(self.client, f.uid)  # give up on it: free the AE machine
        instruction_fail(
            instruction_id=f.instruction_id,
            worker_id=self.worker_id,
            lease_id=f.lease_id,
            error_message=message,
            timed_out=timed_out,
        )
        return True

    def _saturated(self, f: Followed, waited: float) -> bool:
        self.followed.pop(f.instruction_id, None)
        job_delete(self.client, f.uid)  # not picked up by a machine while it waits in the hub
        instruction_release_saturated(
            instruction_id=f.instruction_id,
            worker_id=self.worker_id,
            lease_id=f.lease_id,
            waited_seconds=waited,
        )
        return False  # not a slot to fill: the farm is saturated

    def _resubmit(self, f: Followed) -> bool:
        """The job is gone from the server (its database was lost, someone deleted it): submit
        it again under the same uid."""
        instruction = RenderInstruction.objects.get(pk=f.instruction_id)
        logger.warning("nexrender job %s is not on the server: submitted again", f.uid)
        job = nexrender_job(instruction, uid=f.uid, target=job_target(instruction))
        self.client.job_submit(job)
        return False

    # -- jobs nobody wants ------------------------------------------------------------------

    def _delete_orphans(self, statuses: dict[str, JobStatus]) -> None:
        """Delete this hub's jobs whose row wants none any more: finished, cancelled, failed
        for good, replaced by another uid, or gone. Jobs of a PENDING row stay: its next claim
        adopts them."""
        pattern = job_uid_pattern()
        followed = {f.uid for f in self.followed.values()}
        ours = {
            uid: int(m.group(1))
            for uid in statuses
            if uid not in followed and (m := pattern.match(uid))
        }
        if not ours:
            return
        rows = {
            pk: (status, external_id)
            for pk, status, external_id in RenderInstruction.objects.filter(
                pk__in=set(ours.values())
            ).values_list("pk", "status", "external_id")
        }
        for uid, pk in ours.items():
            status, wanted = rows.get(pk, ("", ""))
            if status in ("", *DONE) or wanted != uid:
                logger.info("nexrender job %s: no instruction wants it; deleted", uid)
                job_delete(self.client, uid)

    # -- stopping ---------------------------------------------------------------------------

    def release_all(self, *, reason: str) -> int:
        """A follower that stops gives its rows back without spending a retry; their jobs stay
        on the server, so the next claim adopts them (one AE render, not two)."""
        released = 0
        self._take_inbox()  # and what workers handed over just now
        for f in list(self.followed.values()):
            released += instruction_release(
                instruction_id=f.instruction_id,
                worker_id=self.worker_id,
                lease_id=f.lease_id,
                reason=reason,
            )
        self.followed.clear()
        return released


def nexrender_follow(*, stop: threading.Event, follower: NexrenderFollower | None = None) -> None:
    """Poll until `stop` is set, then release what is followed. Database outages are waited
    out (the leases' timeout covers a short one)."""
    follower = follower or NexrenderFollower()
    while not stop.is_set():
        try:
            close_old_connections()
            wait = follower.tick()
        except DatabaseError:
            logger.warning("nexrender follower: database unavailable; retrying", exc_info=True)
            connection.close()
            wait = 1.0
        except Exception:  # an unexpected answer: log it, never stop following the others
            logger.exception("nexrender follower: poll failed")
            wait = 1.0
        stop.wait(wait)
    try:
        follower.release_all(reason="stopped with the hub; its Nexrender job stays on the server")
    except DatabaseError:
        logger.warning("nexrender follower: could not release its rows", exc_info=True)
    connection.close()
