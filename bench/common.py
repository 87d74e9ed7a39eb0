"""Shared set-up of the queue benchmarks: a throw-away database and real worker clusters.

Run from the repository root: `python -m bench.queue_latency` (embedded mode) or with
DATABASE_URL/REDIS_URL/SECRET_KEY set (production mode). Nothing touches the hub's own database.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automation_hub.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402


@contextmanager
def bench_database() -> Iterator[None]:
    """A fresh, migrated database of its own (dropped afterwards)."""
    test = settings.DATABASES["default"].setdefault("TEST", {})
    if settings.DB_VENDOR == "sqlite":
        test["NAME"] = str(settings.VAR_DIR / f"bench_{os.getpid()}.sqlite3")
    else:
        test["NAME"] = f"wsop_hub_bench_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def purge_broker() -> None:
    from django_q.brokers import get_broker

    get_broker().purge_queue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)
