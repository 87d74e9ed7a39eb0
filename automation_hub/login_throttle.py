"""Failed-login counters: per (client address, user name) and per client address.

Counted in the cache (Redis in production, shared by every web process). A success clears the
user's counter; the address counter runs out with its window so one address cannot spray names.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    # Hashed: user names are free text and cache keys must be short and safe.
    return f"login-fail:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _keys(*, address: str, username: str) -> tuple[str, str]:
    return _key("user", f"{address}|{username.strip().lower()}"), _key("addr", address)


def login_is_throttled(*, address: str, username: str) -> bool:
    user_key, addr_key = _keys(address=address, username=username)
    counts = cache.get_many([user_key, addr_key])
    return (
        counts.get(user_key, 0) >= settings.LOGIN_FAILURES_PER_USER
        or counts.get(addr_key, 0) >= settings.LOGIN_FAILURES_PER_ADDRESS
    )


def login_failure_record(*, address: str, username: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for key in _keys(address=address, username=username):
        # add() starts the window only once; incr() is atomic in Redis and in local memory.
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)


def login_success_record(*, address: str, username: str) -> None:
    user_key, _ = _keys(address=address, username=username)
    cache.delete(user_key)
