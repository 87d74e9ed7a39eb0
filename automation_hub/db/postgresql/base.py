"""Django's PostgreSQL backend, with a short retry when a new connection is refused.

A PostgreSQL restart refuses connections for a second or two. Without a retry every request,
task and heartbeat that opens a connection in that moment fails: pages answer 500, a worker's
heartbeat is missed and a render task is spent. Here opening a connection is retried with a
growing pause for up to DB_CONNECT_RETRY_SECONDS (default 4; 0 turns it off), so a restart is
a short wait instead of an error. Only *opening* is retried — a query that failed on a live
connection is never repeated here (it may have written), and CONN_HEALTH_CHECKS makes Django
replace a connection the restart broke before the next request uses it.

`connect_without_retry()` lets the readiness check say "down" at once instead of waiting.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.db.backends.postgresql import base

logger = logging.getLogger(__name__)

_local = threading.local()


@contextlib.contextmanager
def connect_without_retry() -> Iterator[None]:
    """Within this block, a refused connection fails at once (no retry)."""
    previous = getattr(_local, "no_retry", False)
    _local.no_retry = True
    try:
        yield
    finally:
        _local.no_retry = previous


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        budget = 0.0 if getattr(_local, "no_retry", False) else settings.DB_CONNECT_RETRY_SECONDS
        deadline = time.monotonic() + budget
        pause = 0.1
        while True:
            try:
                return super().get_new_connection(conn_params)
            except base.Database.OperationalError as error:
                if time.monotonic() + pause > deadline:
                    raise
                logger.warning("database refused a connection (%s): retrying", error)
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
