"""Redis or PostgreSQL restarting under a running hub: the API, sign-in and the live feed keep
answering (real servers of the test's own, stopped and started for real; both run modes)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
import time
from http import HTTPStatus

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from django.db.utils import ConnectionHandler
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from automation_hub import live
from automation_hub.asgi import application
from automation_hub.db.postgresql.base import connect_without_retry
from tests.conftest import require_service
from tests.private_servers import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STOCK_CACHE = "django.core.cache.backends.redis.RedisCache"
HUB_CACHE = "automation_hub.cache.ResilientRedisCache"
STOCK_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"
HUB_LAYER = "automation_hub.channel_layers.ResilientPubSubChannelLayer"


@pytest.fixture
def private_redis():
    require_service("redis-server", PrivateRedis.missing())
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def use_cache(settings, backend: str, url: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": backend,
            "LOCATION": url,
            "KEY_PREFIX": "outage-test",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }  # Django's setting_changed handler builds the cache again from the new CACHES


def test_the_api_and_sign_in_keep_answering_while_the_cache_redis_is_down(
    engineer, settings, private_redis
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    engineer.set_password("s3cret-pass!")
    engineer.save()
    use_cache(settings, HUB_CACHE, private_redis.url)
    client = APIClient()
    url = reverse("hand-list")
    assert client.get(url, HTTP_AUTHORIZATION=basic("engineer", "s3cret-pass!")).status_code == 200

    private_redis.stop()
    started = time.monotonic()
    # Throttle windows and failed-password counters live in the cache: with it gone they fail
    # open; nobody gets a 500 and the right password still signs in.
    assert client.get(url, HTTP_AUTHORIZATION=basic("engineer", "s3cret-pass!")).status_code == 200
    assert client.get(url, HTTP_AUTHORIZATION=basic("engineer", "wrong")).status_code == 401
    page = Client()
    answer = page.post(reverse("login"), {"username": "engineer", "password": "s3cret-pass!"})
    assert answer.status_code == HTTPStatus.FOUND
    assert time.monotonic() - started < 10

    # Back: counting resumes by itself.
    private_redis.start()
    for _ in range(settings.LOGIN_FAILURES_PER_USER):
        client.get(url, HTTP_AUTHORIZATION=basic("engineer", "guess"))
    refused = client.get(url, HTTP_AUTHORIZATION=basic("engineer", "guess"))
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_the_stock_redis_cache_would_answer_500_meanwhile(engineer, settings, private_redis):
    # What the hub's cache prevents: Django's own backend raises into the request.
    use_cache(settings, STOCK_CACHE, private_redis.url)
    private_redis.stop()
    client = APIClient()
    with pytest.raises(redis.ConnectionError):
        client.get(reverse("hand-list"), HTTP_AUTHORIZATION=basic("engineer", "s3cret-pass!"))


def use_layer(settings, backend: str, url: str, prefix: str) -> None:
    # The production wiring, whichever mode this run is in: Redis pub/sub between processes.
    settings.HUB_MODE = "production"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": backend,
            "CONFIG": {
                "hosts": [{"address": url, "socket_connect_timeout": 2}],
                "prefix": prefix,
            },
        }
    }
    channel_layers.backends.clear()


@pytest.fixture
def session_cookie(engineer) -> bytes:
    client = Client()
    client.force_login(engineer)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def open_page(cookie: bytes) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, "/ws/dashboard", headers=headers)


async def _push_until_heard(ws: WebsocketCommunicator, *, timeout: float) -> float:
    """Send a live event through the layer every 0.3 s until the page hears one; seconds taken."""
    layer = channel_layers["default"]
    event = {"type": "instruction_updated", "data": {"id": "after"}, "timestamp": "t", "seq": 10**9}
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(redis.RedisError):
                await layer.group_send(
                    live.DASHBOARD_GROUP, {"type": live.MESSAGE_TYPE, "event": event}
                )
            # (A receive that times out would cancel the consumer: look before taking.)
            if await ws.receive_nothing(timeout=0.3):
                continue
            message = await ws.receive_json_from(timeout=5)
            if message.get("data", {}).get("id") == "after":
                return time.monotonic() - started


def test_a_page_opened_while_redis_is_down_is_served_and_goes_live_when_it_is_back(
    session_cookie, settings, private_redis, layer_prefix
):
    use_layer(settings, HUB_LAYER, private_redis.url, layer_prefix)
    private_redis.stop()

    async def scenario() -> float:
        ws = open_page(session_cookie)
        connected, _ = await ws.connect(timeout=10)
        assert connected
        # Its catch-up comes from the database, Redis or not.
        hello = await ws.receive_json_from(timeout=10)
        assert hello["type"] == "hello"
        await asyncio.to_thread(private_redis.start)
        took = await _push_until_heard(ws, timeout=15)
        await ws.disconnect()
        await channel_layers["default"].flush()
        return took

    try:
        assert async_to_sync(scenario)() < 10
    finally:
        channel_layers.backends.clear()


def test_the_stock_layer_refuses_that_page(session_cookie, settings, private_redis, layer_prefix):
    # What the hub's layer prevents: channels_redis' own cannot subscribe, and the socket fails.
    use_layer(settings, STOCK_LAYER, private_redis.url, layer_prefix)
    private_redis.stop()

    async def scenario() -> bool:
        ws = open_page(session_cookie)
        try:
            connected, _ = await ws.connect(timeout=10)
        except (redis.RedisError, OSError):
            return False
        return connected

    try:
        assert async_to_sync(scenario)() is False
    finally:
        channel_layers.backends.clear()


@pytest.fixture
def private_postgres():
    require_service("PostgreSQL", PrivatePostgres.missing())
    server = PrivatePostgres()
    server.start()
    yield server
    server.stop()


def test_a_new_connection_waits_out_a_postgresql_restart_instead_of_failing(
    private_postgres, settings
):
    settings.DB_CONNECT_RETRY_SECONDS = 8
    handler = ConnectionHandler({"default": private_postgres.settings()})  # its own handler
    database = handler["default"]
    try:
        private_postgres.pg_ctl("stop")
        back = threading.Timer(1.5, private_postgres.pg_ctl, args=("start",))
        back.start()
        started = time.monotonic()
        with database.cursor() as cursor:  # refused at first, then PostgreSQL is back
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        assert 1.0 < time.monotonic() - started < 8
        back.join()
        database.close()

        # The readiness check does not wait: it says "down" at once.
        private_postgres.pg_ctl("stop")
        started = time.monotonic()
        with pytest.raises(OperationalError), connect_without_retry():
            database.ensure_connection()
        assert time.monotonic() - started < 1
        # Nor does anything when the retry is turned off.
        settings.DB_CONNECT_RETRY_SECONDS = 0
        with pytest.raises(OperationalError):
            database.ensure_connection()
    finally:
        handler.close_all()
