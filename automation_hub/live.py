"""The one publish helper for live dashboard events: `{type, data, timestamp, seq}`.

Call `publish_on_commit` from services, inside the transaction that makes the change: the event is
stored with it and pushed once it commits, so a rolled-back change is never announced.
Event types: hand_created, instruction_updated, render_completed, alert.

Delivery holds across processes and reconnects:

* every event is first stored as a `LiveEvent` row; its id is the event's `seq`;
* production (REDIS_URL set): the publisher also pushes it through the Redis pub/sub channel layer,
  which reaches every web process at once;
* embedded (no Redis): the in-memory channel layer does not cross processes, so each web process
  runs one `DatabaseRelay` that reads rows past the last seq it saw and hands them to its sockets;
* a page that reconnects sends the last seq it saw and gets the rows after it (`live_events_since`);
* ids are handed out at INSERT, not at COMMIT: on PostgreSQL an event can become visible after a
  later one was sent, and "after the last seq" would skip it for good. So each socket keeps a
  `LiveCursor` of what it sent, and `live_reconcile` re-reads the ids of the last
  LIVE_LOOKBACK_SECONDS (after the catch-up, then every LIVE_RECONCILE_SECONDS) and sends the ones
  it has not sent: a page never silently diverges, whatever committed late, whatever push Redis
  dropped. Pages drop seqs they already have and keep the newest state of each row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation_hub.layer_sender import layer_group_send_nowait
from automation_hub.models import LiveEvent

logger = logging.getLogger(__name__)

DASHBOARD_GROUP = "dashboard"
# The Channels handler name of the group message: `live.event` → consumer method `live_event`.
MESSAGE_TYPE = "live.event"


def live_event_payload(event: LiveEvent) -> dict[str, Any]:
    """What a page receives for one event."""
    return {
        "type": event.type,
        "data": event.data,
        "timestamp": event.created_at.isoformat(),
        "seq": event.pk,
    }


def publish(event_type: str, data: dict[str, Any]) -> None:
    """Record one event and push it to every open dashboard. Failures are logged, never raised.

    Inside a transaction the row is written in a savepoint (a failed insert does not abort the
    caller's transaction) and the push waits for the commit.
    """
    publish_many([(event_type, data)])


def publish_many(events: list[tuple[str, dict[str, Any]]]) -> None:
    """`publish` for several events of one change: one INSERT, pushed in order after commit."""
    now = timezone.now()
    rows = [LiveEvent(type=event_type, data=data, created_at=now) for event_type, data in events]
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                _insert(rows)
        else:  # autocommit: the INSERT is its own transaction
            _insert(rows)
    except Exception:  # the dashboard must never break the pipeline
        logger.exception("live events %s not recorded", [row.type for row in rows])
        return
    if settings.HUB_MODE == "production":
        payloads = [live_event_payload(row) for row in rows]
        transaction.on_commit(lambda: _push(payloads))


def _insert(rows: list[LiveEvent]) -> None:
    """One `INSERT … RETURNING id` for the rows. The render workers write three events a job:
    this statement costs a third of the ORM's `bulk_create` in Python time."""
    connection = transaction.get_connection()
    meta = LiveEvent._meta
    fields = [meta.get_field(name) for name in ("type", "data", "created_at")]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["(%s, %s, %s)"] * len(rows))
    params = [
        field.get_db_prep_save(getattr(row, field.attname), connection)
        for row in rows
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            # Identifiers from the model only; every value is a parameter.
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {placeholders}"  # noqa: S608
            f" RETURNING {quote(meta.pk.column)}",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk


def publish_on_commit(event_type: str, data: dict[str, Any]) -> None:
    """Announce a change made in the current transaction (or just made, outside one).

    The event's row is written in the same transaction as the change (no commit of its own, and
    a rolled-back change takes its event with it); the push to open pages waits for the commit.
    """
    publish(event_type, data)


def _push(payloads: list[dict[str, Any]]) -> None:
    # Queued on the process's long-lived sender loop (one Redis connection, sends in order); the
    # caller does not wait for Redis. A push that fails is logged: the row is stored, and pages
    # get it on their next catch-up.
    for payload in payloads:
        layer_group_send_nowait(DASHBOARD_GROUP, {"type": MESSAGE_TYPE, "event": payload})


def live_last_seq() -> int:
    """The newest event's seq (0 when there is none); a page renders from here on."""
    return LiveEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def live_events_since(*, seq: int, limit: int) -> list[dict[str, Any]]:
    """Payloads of the events after `seq`, oldest first, at most `limit`."""
    rows = LiveEvent.objects.filter(id__gt=seq).order_by("id")[:limit]
    return [live_event_payload(row) for row in rows]


def live_recent_ids(*, lookback_seconds: float) -> list[int]:
    """Ids of the events created in the last `lookback_seconds` (liveevent_created_idx)."""
    since = timezone.now() - timedelta(seconds=lookback_seconds)
    return list(
        LiveEvent.objects.filter(created_at__gte=since).order_by("id").values_list("id", flat=True)
    )


def live_events_by_ids(*, ids: list[int]) -> list[dict[str, Any]]:
    return [live_event_payload(row) for row in LiveEvent.objects.filter(id__in=ids).order_by("id")]


class LiveCursor:
    """What one socket was sent: seqs, kept for twice the look-back (the only ones that can come
    again, from the reconcile or a late push)."""

    def __init__(self) -> None:
        self._sent: dict[int, float] = {}

    def __contains__(self, seq: int) -> bool:
        return seq in self._sent

    def admit(self, seq: int) -> bool:
        """True the first time a seq is seen (then it is to be sent), False after."""
        if seq in self._sent:
            return False
        self._sent[seq] = time.monotonic()
        return True

    def forget_old(self) -> None:
        horizon = time.monotonic() - 2 * settings.LIVE_LOOKBACK_SECONDS
        if len(self._sent) > 1000 or (self._sent and min(self._sent.values()) < horizon):
            self._sent = {seq: at for seq, at in self._sent.items() if at >= horizon}


async def live_reconcile(
    cursor: LiveCursor, send: Callable[[dict[str, Any]], Awaitable[None]]
) -> int:
    """Send the recent events this socket has not been sent (late commits, lost pushes), oldest
    first. Returns how many."""
    ids = await database_sync_to_async(live_recent_ids)(
        lookback_seconds=settings.LIVE_LOOKBACK_SECONDS
    )
    missing = [seq for seq in ids if seq not in cursor]
    sent = 0
    if missing:
        payloads = await database_sync_to_async(live_events_by_ids)(
            ids=missing[: settings.LIVE_CATCHUP_LIMIT]
        )
        for payload in payloads:
            if cursor.admit(payload["seq"]):
                await send(payload)
                sent += 1
    cursor.forget_old()
    return sent


async def live_reconcile_forever(
    cursor: LiveCursor, send: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """`live_reconcile` every LIVE_RECONCILE_SECONDS while the socket is open."""
    while True:
        await asyncio.sleep(settings.LIVE_RECONCILE_SECONDS)
        try:
            found = await live_reconcile(cursor, send)
        except asyncio.CancelledError:
            raise
        except Exception:  # database restarting: the next round tries again
            logger.warning("live reconcile failed", exc_info=True)
            continue
        if found:
            logger.info("live reconcile sent %s event(s) a page had not had", found)


def live_events_prune(*, older_than: timedelta | None = None) -> int:
    """Delete events older than the retention (settings.LIVE_EVENT_RETENTION_HOURS).

    A page that was away longer than that gets a `resync` instead of its catch-up.
    """
    if older_than is None:
        older_than = timedelta(hours=settings.LIVE_EVENT_RETENTION_HOURS)
    deleted, _ = LiveEvent.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def live_oldest_seq() -> int:
    return LiveEvent.objects.order_by("id").values_list("id", flat=True).first() or 0


Subscriber = Callable[[dict[str, Any]], Awaitable[None]]


class DatabaseRelay:
    """Embedded mode: hands rows written by any process to this web process's open sockets.

    One polling task per process, running only while a socket is open. SQLite serialises writers,
    so rows become visible in id order and "id greater than the last one seen" misses nothing.
    Subscribers are called directly: the in-memory channel layer would drop a burst past its
    per-channel capacity.
    """

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    def _bind(self) -> asyncio.Lock:
        # One loop per process under daphne; tests run a fresh loop each, and a lock or task of
        # a finished loop is of no use in the next.
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._lock is None:
            self._loop, self._lock = loop, asyncio.Lock()
            self._subscribers, self._task = set(), None
        return self._lock

    async def attach(self, subscriber: Subscriber) -> None:
        """Deliver every event committed from now on to `subscriber` (the caller catches up on
        what came before from the table itself)."""
        async with self._bind():
            self._subscribers.add(subscriber)
            if self._task is None:
                # Read before the task starts: a later read could skip events committed between
                # this subscriber's catch-up query and the relay's first one.
                start = await database_sync_to_async(live_last_seq)()
                self._task = asyncio.get_running_loop().create_task(self._run(start))

    async def detach(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if not self._subscribers and self._task is not None:
            # No await between the check and clearing the task: an attach that runs meanwhile
            # must see "no relay" and start one, not a relay that is being cancelled.
            task, self._task = self._task, None
            task.cancel()

    async def _run(self, last_seq: int) -> None:
        poll = settings.LIVE_RELAY_POLL_SECONDS
        fetch = database_sync_to_async(live_events_since)
        while True:
            try:
                events = await fetch(seq=last_seq, limit=RELAY_BATCH)
            except Exception:  # a locked or restarting database: try again shortly
                logger.exception("live relay could not read events")
                await asyncio.sleep(1)
                continue
            for payload in events:
                for subscriber in list(self._subscribers):
                    try:
                        await subscriber(payload)
                    except Exception:  # one closed socket must not starve the others
                        logger.exception("live relay: subscriber failed")
                last_seq = payload["seq"]
            if len(events) < RELAY_BATCH:
                await asyncio.sleep(poll)


RELAY_BATCH = 500
relay = DatabaseRelay()
