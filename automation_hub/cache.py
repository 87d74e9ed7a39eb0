"""The production cache: Redis, failing open while Redis is away.

What the hub keeps in the cache is advisory — DRF throttle windows and failed-password counters
(automation_hub.login_throttle). None of it is the truth of anything (that is the database), so a
Redis restart must not turn every API call and sign-in into a 500: while Redis does not answer,
reads miss, writes are dropped and the counters start again from zero, and a warning is logged
(at most once per CACHE_OUTAGE_LOG_SECONDS). Short socket timeouts keep a request from waiting on
a Redis that is gone; redis-py reconnects by itself once it is back.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
CACHE_OUTAGE_LOG_SECONDS = 30.0

T = TypeVar("T")


class _OutageLog:
    """One warning per window, however many requests meet the outage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def warn(self, operation: str, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < CACHE_OUTAGE_LOG_SECONDS:
                return
            self._last = now
        logger.warning("cache unavailable (%s: %s): failing open", operation, error)


_outage_log = _OutageLog()


def _fail_open(fallback: Callable[..., Any]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> T:
            try:
                return method(self, *args, **kwargs)
            except OUTAGE as error:
                _outage_log.warn(method.__name__, error)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _default(key: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _incr(key: str, delta: int = 1, *args: Any, **kwargs: Any) -> int:
    return delta


class ResilientRedisCache(RedisCache):
    """django.core.cache.backends.redis.RedisCache that fails open (see the module docstring)."""

    get = _fail_open(_default)(RedisCache.get)
    get_many = _fail_open(lambda *a, **k: {})(RedisCache.get_many)
    has_key = _fail_open(lambda *a, **k: False)(RedisCache.has_key)
    add = _fail_open(lambda *a, **k: False)(RedisCache.add)
    set = _fail_open(lambda *a, **k: None)(RedisCache.set)
    set_many = _fail_open(lambda *a, **k: [])(RedisCache.set_many)
    touch = _fail_open(lambda *a, **k: False)(RedisCache.touch)
    delete = _fail_open(lambda *a, **k: False)(RedisCache.delete)
    delete_many = _fail_open(lambda *a, **k: None)(RedisCache.delete_many)
    incr = _fail_open(_incr)(RedisCache.incr)
    clear = _fail_open(lambda *a, **k: False)(RedisCache.clear)
