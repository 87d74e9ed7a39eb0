"""Recovery in seconds on default settings: a dead worker's job renders again at once, a failed
job retries when its backoff ends, a render past its deadline times out, a job released again
and again waits its turn, and a worker that lost its job never touches the newer file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from automation_hub.models import MonitoringEvent
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from rendering.renderers.preview import PreviewRenderer, output_stem
from rendering.services.instructions import instruction_create
from rendering.services.liveness import LeaseKeeper, holder_gone_from_this_host, worker_identity
from rendering.services.recovery import instructions_reap_stale, output_temp_sweep
from rendering.services.supervisor import SupervisorClock, _grace_after_blindness
from rendering.services.transitions.lease import (
    claimable_instructions,
    instruction_claim_next,
    instruction_release,
)
from rendering.services.transitions.manual import instruction_cancel
from rendering.services.transitions.table import Actor
from rendering.services.worker import instruction_render, queue_work
from tests.rendering.cluster import cluster_env, running_cluster, running_supervisor, wait_for
from tests.rendering.helpers import make_instruction

S = InstructionStatus
OPERATOR = Actor(name="td")
LAYERS = {"winner": "Alice", "hand_rank_label": "Royal Flush", "pot_size": 10}


# --- whose process is gone ------------------------------------------------------------------


def test_it_knows_a_local_process_that_ended_or_is_a_zombie_is_gone():
    host = worker_identity().rpartition(":")[0]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = f"{host}:{child.pid}"
    claimed = timezone.now()
    assert not holder_gone_from_this_host(holder, claimed_at=claimed)
    child.kill()
    time.sleep(0.2)  # not waited for: a zombie now
    assert holder_gone_from_this_host(holder, claimed_at=claimed)
    child.wait()
    assert holder_gone_from_this_host(holder, claimed_at=claimed)


def test_it_never_takes_a_live_or_foreign_holder_for_dead():
    me = worker_identity()
    host = me.rpartition(":")[0]
    assert not holder_gone_from_this_host(me, claimed_at=timezone.now())
    assert not holder_gone_from_this_host(f"other-{host}:1", claimed_at=timezone.now())
    assert not holder_gone_from_this_host("ae:1a2b3c:ae-7", claimed_at=timezone.now())
    assert not holder_gone_from_this_host("worker-without-pid", claimed_at=timezone.now())
    # The pid is alive but started after the claim: it was reused, the holder is gone.
    long_ago = timezone.now() - timedelta(days=400)
    assert holder_gone_from_this_host(me, claimed_at=long_ago)


# --- a lease kept alive by the worker's own thread ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_its_keeper_thread_heartbeats_while_the_render_is_busy_and_sees_a_lost_lease():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    stale = timezone.now() - timedelta(minutes=5)
    RenderInstruction.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    keeper = LeaseKeeper(worker_id="w1", interval=0.2)
    keeper.hold(instruction_id=job.pk, lease_id=job.lease_id)
    try:
        wait_for(
            lambda: RenderInstruction.objects.get(pk=job.pk).heartbeat_at > stale,
            timeout=5,
            what="the keeper's heartbeat",
        )
        instruction_cancel(instruction_id=job.pk, reason="wrong graphic", actor=OPERATOR)
        wait_for(lambda: keeper.lost, timeout=5, what="the keeper to see the lease is gone")
    finally:
        keeper.release()


@pytest.mark.django_db(transaction=True)
def test_a_render_past_its_deadline_times_out_and_ends_stale_once_retries_are_spent(settings):
    settings.RENDER_DEADLINE_SECONDS = 0  # every render is late at its first progress check
    row, _ = instruction_create(
        template_name="lower_third",
        layer_data=LAYERS,
        output_settings={"format": "PNG", "frame_count": 30},
        max_retries=1,
    )
    queue_work(worker_id="w1", budget_seconds=0)
    row.refresh_from_db()
    assert row.status == S.FAILED and "deadline" in row.error_message
    assert row.next_attempt_at is not None  # a retry is due, like any failure
    RenderInstruction.objects.filter(pk=row.pk).update(
        status=S.PENDING, retry_count=1, next_attempt_at=None
    )
    queue_work(worker_id="w1", budget_seconds=0)
    row.refresh_from_db()
    assert row.status == S.STALE and "deadline" in row.error_message
    assert MonitoringEvent.objects.filter(code="job_timed_out", instruction=row).count() == 1
    assert not RenderOutput.objects.filter(instruction=row).exists()
    assert not list(output_stem(row).parent.glob(".*"))  # no temporary files left behind


@pytest.mark.django_db
def test_a_job_released_again_and_again_is_held_back_so_others_go_first(settings):
    settings.RENDER_RELEASE_HOLD_AFTER = 3
    settings.RENDER_RELEASE_HOLD_SECONDS = 30
    flaky = make_instruction(priority=1)
    other = make_instruction(priority=9)
    for _ in range(3):
        job = instruction_claim_next(worker_id="w1")
        assert job.pk == flaky.pk
        assert instruction_release(
            instruction_id=job.pk, worker_id="w1", lease_id=job.lease_id, reason="farm full"
        )
    flaky.refresh_from_db()
    assert (flaky.status, flaky.releases, flaky.retry_count) == (S.PENDING, 3, 0)
    assert flaky.next_attempt_at > timezone.now() + timedelta(seconds=25)
    assert list(claimable_instructions().values_list("pk", flat=True)) == [other.pk]
    (event,) = MonitoringEvent.objects.filter(code="job_held_back", instruction=flaky)
    assert event.severity == "warning"
    (audit,) = flaky.audit_entries.all()
    assert (audit.action, audit.via) == ("release_held", "system")


# --- files that cannot go stale --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_lost_its_job_never_replaces_the_newer_file():
    row, _ = instruction_create(template_name="lower_third", layer_data=LAYERS)
    old = instruction_claim_next(worker_id="slow-worker")
    RenderInstruction.objects.filter(pk=row.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert instructions_reap_stale(timeout_seconds=30)["recovered"] == 1
    queue_work(worker_id="fast-worker", budget_seconds=0)
    newer = RenderOutput.objects.get(instruction=row)
    target = Path(newer.output_path)
    target.write_bytes(b"the newer render")  # tell it apart from what the old worker draws

    instruction_render(instruction=old, worker_id="slow-worker", renderer=PreviewRenderer())

    assert target.read_bytes() == b"the newer render"
    assert RenderOutput.objects.filter(instruction=row).count() == 1
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_it_sweeps_only_old_temporary_files(settings, tmp_path):
    settings.OUTPUT_ROOT = tmp_path
    day = tmp_path / "20261201" / "lower_third"
    day.mkdir(parents=True)
    old_file = day / ".0000007.png.1a2b3c.tmp"
    old_dir = day / ".0000008.ab12cd.tmp"
    fresh = day / ".0000009.png.4d5e6f.tmp"
    final = day / "0000007.png"
    for path in (old_file, fresh, final):
        path.write_bytes(b"x")
    old_dir.mkdir()
    (old_dir / "frame_00001.png").write_bytes(b"x")
    hour_ago = time.time() - 2 * 3600
    for path in (old_file, old_dir, final):
        os.utime(path, (hour_ago, hour_ago))

    assert output_temp_sweep(older_than_seconds=3600) == 2

    assert sorted(p.name for p in day.iterdir()) == sorted([fresh.name, final.name])


@pytest.mark.django_db(transaction=True)
def test_a_completion_is_retried_through_a_database_that_drops_and_counts_once(tmp_path):
    row, _ = instruction_create(template_name="lower_third", layer_data=LAYERS)
    job = instruction_claim_next(worker_id="w1")
    with _database_fault():
        instruction_render(instruction=job, worker_id="w1", renderer=PreviewRenderer())
    row.refresh_from_db()
    assert row.status == S.COMPLETED
    assert RenderOutput.objects.filter(instruction=row).count() == 1


class _database_fault:
    """A real fault of this run's database for the next write: PostgreSQL drops this process's
    connection; SQLite is locked by another connection for a second (the write gives up fast)."""

    def __enter__(self) -> None:
        if settings.DB_VENDOR == "postgresql":
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                (pid,) = cursor.fetchone()
            killer = _other_postgres_connection()
            killer.execute("SELECT pg_terminate_backend(%s)", [pid])
            killer.close()
            return
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 100")
        locker = sqlite3.connect(
            connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False
        )
        locker.execute("BEGIN EXCLUSIVE")
        self._release = threading.Timer(1.0, lambda: (locker.rollback(), locker.close()))
        self._release.start()

    def __exit__(self, *exc: object) -> None:
        if getattr(self, "_release", None) is not None:
            self._release.join()


def _other_postgres_connection():
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=True,
    )


# --- the supervisor ---------------------------------------------------------------------------


def test_after_a_database_outage_nobody_is_reaped_for_silence_for_a_lease_timeout(settings):
    settings.RENDER_ZOMBIE_TIMEOUT_SECONDS = 30
    clock = SupervisorClock(last_ok=100.0)
    _grace_after_blindness(clock, 105.0)  # a few seconds: normal
    assert clock.silence_grace_until == 0.0
    _grace_after_blindness(clock, 140.0)  # 40 s blind: the holders' heartbeats failed too
    assert clock.silence_grace_until == 170.0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_workers_job_renders_again_within_15_s_on_default_settings(tmp_path):
    slow, _ = instruction_create(
        template_name="premium_hand",
        layer_data=LAYERS,
        output_settings={"format": "PNG", "resolution": "1280x720", "frame_count": 240},
    )
    env = cluster_env(workers=2, backend="preview", output_root=tmp_path)
    with running_cluster(env), running_supervisor(env):
        wait_for(
            lambda: RenderInstruction.objects.filter(
                pk=slow.pk, status=S.PROCESSING, render_progress__gt=0
            ).exists(),
            timeout=60,
            what="the render to start",
        )
        slow.refresh_from_db()
        holder = slow.claimed_by
        os.kill(int(holder.rsplit(":", 1)[1]), signal.SIGKILL)  # the worker dies mid-render
        killed = time.monotonic()
        wait_for(
            lambda: (
                RenderInstruction.objects.filter(pk=slow.pk, status=S.PROCESSING)
                .exclude(claimed_by=holder)
                .exists()
            ),
            timeout=15,
            what="another worker to render the job again",
            interval=0.05,
        )
        again_after = time.monotonic() - killed
        wait_for(
            lambda: RenderInstruction.objects.filter(pk=slow.pk, status=S.COMPLETED).exists(),
            timeout=120,
            what="the job to complete",
        )
    assert again_after < 15
    slow.refresh_from_db()
    assert slow.retry_count == 1
    assert RenderOutput.objects.filter(instruction=slow).count() == 1
    (audit,) = slow.audit_entries.filter(action="reap")
    assert "is gone" in audit.reason


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failed_job_is_retried_when_its_backoff_ends_not_a_minute_later(tmp_path):
    row, _ = instruction_create(template_name="lower_third", layer_data=LAYERS)
    env = cluster_env(workers=1, backend="preview", output_root=tmp_path)
    with running_cluster(env), running_supervisor(env):
        wait_for(
            lambda: RenderInstruction.objects.filter(pk=row.pk, status=S.COMPLETED).exists(),
            timeout=60,
            what="the first render",
        )
        due = timezone.now() + timedelta(seconds=3)
        # As a worker's failure report leaves it: FAILED, a retry due at its backoff.
        RenderInstruction.objects.filter(pk=row.pk).update(
            status=S.FAILED, next_attempt_at=due, completed_at=timezone.now()
        )
        RenderOutput.objects.filter(instruction=row).delete()
        wait_for(
            lambda: RenderInstruction.objects.filter(pk=row.pk, started_at__gt=due).exists(),
            timeout=30,
            what="the retry to start",
            interval=0.05,
        )
    row.refresh_from_db()
    assert (row.started_at - due).total_seconds() <= 2
    assert row.retry_count == 1
