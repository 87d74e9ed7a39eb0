"""Shared fixtures: callers of every kind (people, each producer key, anonymous) and services.

Tests that need a service (PostgreSQL, Redis, chromium) use `require_service`: on a developer's
machine a missing service skips them; with REQUIRE_SERVICES=1, or on CI (CI=true), it fails them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from automation_hub.services import api_key_create

_ON_CI = os.environ.get("CI", "").lower() in ("1", "true")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1" or _ON_CI


def require_service(name: str, reason: str | None) -> None:
    """`reason` is None when the service answered; otherwise fail (CI) or skip (a laptop)."""
    if reason is None:
        return
    message = f"{name} unavailable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (REQUIRE_SERVICES=1: service-backed tests must run)")
    pytest.skip(message)


def redis_unreachable(url: str) -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return str(exc)
    return None


def pytest_report_header(config: pytest.Config) -> str:
    db = settings.DATABASES["default"]
    return (
        f"hub mode: {settings.HUB_MODE}; database: {settings.DB_VENDOR} {db.get('NAME')}; "
        f"REQUIRE_SERVICES={int(REQUIRE_SERVICES)}"
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """The production-mode run needs its PostgreSQL; never let it pass on nothing."""
    if settings.DB_VENDOR != "postgresql":
        return
    import psycopg

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
            user=db.get("USER") or "postgres",
            password=db.get("PASSWORD") or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        if REQUIRE_SERVICES:
            pytest.exit(f"PostgreSQL unreachable: {exc} (REQUIRE_SERVICES=1)", returncode=1)
        pytest.exit(f"PostgreSQL unreachable, production-mode run not done: {exc}", returncode=0)


@pytest.fixture
def redis_url() -> str:
    """A Redis that answers: the production-mode run's, else HUB_TEST_REDIS_URL (the Makefile
    passes TEST_REDIS_URL), else the local default's db 14."""
    url = settings.REDIS_URL or os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    require_service("Redis", redis_unreachable(url))
    return url


@pytest.fixture
def layer_prefix() -> str:
    """A pub/sub prefix of this run's own: channels ignore Redis database numbers, so two runs
    sharing one Redis would otherwise hear each other."""
    return f"test-{os.getpid()}"


@pytest.fixture(autouse=True)
def _output_root(tmp_path, settings) -> None:
    settings.OUTPUT_ROOT = tmp_path / "output"


def forget_throttles() -> None:
    """Failed sign-ins and request rates are counted in the cache, which outlives a test (in
    production mode a Redis database): each test starts with none counted."""
    from django.core.cache import cache

    if settings.HUB_MODE != "production":
        cache.clear()  # local memory, this process only
        return
    import redis

    try:
        client = cache._cache.get_client(write=True)
        for pattern in ("*:login-fail:*", "*:throttle_*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    except redis.RedisError:
        pass  # no Redis: the tests that need it say so themselves


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    forget_throttles()


@pytest.fixture(autouse=True)
def _fresh_breaker_cache() -> None:
    # Each test's database starts with its own breakers: forget what this process read before.
    from rendering.services import breaker

    breaker._seen_closed.clear()


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def engineer(django_user_model):
    return django_user_model.objects.create_user(username="engineer", password="s3cret-pass!")


@pytest.fixture
def person_client(engineer) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=None)
    token = base64.b64encode(b"engineer:s3cret-pass!").decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client


@pytest.fixture
def key_client(db) -> Callable[[str], APIClient]:
    """`key_client("sub")` → a client that sends a fresh API key of that producer role."""

    def make(role: str) -> APIClient:
        _, raw_key = api_key_create(role=role, name=f"test-{role}")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        return client

    return make
