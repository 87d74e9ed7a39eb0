"""Wake-up of the render workers once an instruction row has committed.

The row is the source of truth; the django-q2 message only says "there is work" (and which row
prompted it). A lost message is made up for by the database sweep, a duplicate finds nothing to
claim. So a broker that is down must never fail the caller: the instruction is already stored.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

logger = logging.getLogger(__name__)

RENDER_TASK = "rendering.tasks.render_next"

_local = threading.local()


def _broker() -> Broker:
    # One broker (one Redis connection pool) per process and thread: a new one per call costs
    # ~10x in throughput. Fork-safe: redis-py re-creates its pool when the pid changes.
    broker = getattr(_local, "broker", None)
    if broker is None:
        broker = _local.broker = get_broker()
    return broker


def wakeups_waiting() -> int:
    """Wake-ups in the broker that no worker has taken yet."""
    return _broker().queue_size()


def instruction_dispatch(*, instruction_id: int | None) -> bool:
    """Make sure a wake-up for the workers is waiting (called through `transaction.on_commit`).

    A wake-up still waiting in the broker starts its worker after this row committed, and a
    woken worker claims until nothing is claimable, so once RENDER_WAKEUP_BACKLOG of them wait,
    another would only cost the workers a message to read: a burst of 2,000 instructions sends a
    handful of messages, not 2,000. (Wake-ups already taken by a worker are not counted: that
    worker may have looked for work just before this row committed.)

    Returns False when the broker did not answer; the database sweep dispatches the row later.
    """
    try:
        backlog = settings.RENDER_WAKEUP_BACKLOG
        if backlog and wakeups_waiting() >= backlog:
            return True
        # save=False: successful wake-ups are not stored (operators read the instruction rows);
        # failed ones still are, with their traceback.
        async_task(RENDER_TASK, instruction_id, broker=_broker(), save=False)
    except Exception:  # Redis down or any broker failure: the row waits for the sweep
        logger.warning(
            "render wake-up for instruction %s not queued", instruction_id, exc_info=True
        )
        _local.broker = None
        return False
    return True
