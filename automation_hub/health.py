"""Reachability of what the hub depends on (the database, the queue broker) and which of its own
processes run."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from automation_hub.db.postgresql.base import connect_without_retry


def database_check() -> str | None:
    """None when the database answers, else the reason."""
    try:
        # Readiness says "down" at once; it does not wait out the connect retry.
        with connect_without_retry(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return f"{type(exc).__name__}: {exc}"
    return None


def broker_check() -> str | None:
    """Production: Redis answers PING. Embedded: the broker is the database itself."""
    if settings.HUB_MODE != "production":
        return database_check()
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def processes_check() -> dict[str, str]:
    """Supervised process name → "ok" or what is wrong ({} when nothing is supervised)."""
    from automation_hub.processes import hub_processes_health

    try:
        return {name: h.detail for name, h in sorted(hub_processes_health().items())}
    except Exception as exc:  # the table is unreadable: say so rather than fail readiness
        return {"processes": f"{type(exc).__name__}: {exc}"}
