"""Failed password attempts: one rule for every way in (page login, /admin/login/, HTTP Basic).

Counted per (client address, user name) and per client address, in the cache (Redis in
production, shared by every web process). Failures are counted from Django's
`user_login_failed` signal, which every entry sends through `authenticate()`; each entry asks
`login_throttle_wait` before it checks a password and refuses with THROTTLED_MESSAGE (HTTP 429,
`Retry-After`). A success clears that user's counter at that address; the address counter runs
out with its window, so one address cannot spray user names. Another address is never locked out
by this one's failures.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: Any) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be.
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def throttled_message() -> str:
    minutes = max(1, math.ceil(settings.LOGIN_FAILURE_WINDOW_SECONDS / 60))
    return f"Too many failed sign-in attempts. Try again within {minutes} min."


def _key(kind: str, value: str) -> str:
    # Hashed: user names are free text and cache keys must be short and safe.
    return f"login-fail:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _keys(*, address: str, username: str) -> tuple[str, str]:
    return _key("user", f"{address}|{username.strip().lower()}"), _key("addr", address)


def login_throttle_wait(*, address: str, username: str) -> int | None:
    """Seconds until this address may try this user name again, or None when it may now."""
    user_key, addr_key = _keys(address=address, username=username)
    counts = cache.get_many([user_key, addr_key, f"{user_key}:until", f"{addr_key}:until"])
    now = time.time()
    waits = [
        counts.get(f"{key}:until", now + settings.LOGIN_FAILURE_WINDOW_SECONDS) - now
        for key, limit in (
            (user_key, settings.LOGIN_FAILURES_PER_USER),
            (addr_key, settings.LOGIN_FAILURES_PER_ADDRESS),
        )
        if counts.get(key, 0) >= limit
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def login_is_throttled(*, address: str, username: str) -> bool:
    return login_throttle_wait(address=address, username=username) is not None


def login_failure_record(*, address: str, username: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for key in _keys(address=address, username=username):
        # add() starts the window only once; incr() is atomic in Redis and in local memory.
        if cache.add(key, 0, timeout=window):
            cache.set(f"{key}:until", time.time() + window, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            cache.set(f"{key}:until", time.time() + window, timeout=window)


def login_success_record(*, address: str, username: str) -> None:
    user_key, _ = _keys(address=address, username=username)
    cache.delete_many([user_key, f"{user_key}:until"])


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """`user_login_failed` receiver: every entry's wrong password counts here, once."""
    if request is None:  # a management command or a test calling authenticate() directly
        return
    login_failure_record(
        address=client_address(request), username=str(credentials.get("username") or "")
    )


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """`user_logged_in` receiver (page and admin login)."""
    if request is not None:
        login_success_record(address=client_address(request), username=user.get_username())
