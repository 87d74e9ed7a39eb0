"""The live feed: who may open it, what it carries, and that nothing is lost across processes,
reconnects and pruning. Runs in both modes (embedded relay, production Redis pub/sub)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from automation_hub import live
from automation_hub.asgi import application
from automation_hub.models import LiveEvent
from automation_hub.schedules import LIVE_PRUNE_SCHEDULE
from monitoring.services.retention import PRUNE_SCHEDULE
from tests.conftest import redis_unreachable, require_service
from tests.dashboard.processes import run_python

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def _services():
    if settings.HUB_MODE == "production":
        require_service("Redis", redis_unreachable(settings.REDIS_URL))


@pytest.fixture
def session_cookie(engineer) -> bytes:
    client = Client()
    client.force_login(engineer)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(path: str = "/ws/dashboard", *, cookie: bytes | None, origin=ORIGIN):
    headers = [origin, (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_until(ws: WebsocketCommunicator, predicate, *, timeout: float = 5) -> list:
    """Messages up to and including the first that satisfies `predicate`."""
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive_json_from(timeout=timeout)
            seen.append(message)
            if predicate(message):
                return seen


def test_it_closes_an_anonymous_socket_with_4401():
    async def scenario():
        ws = socket(cookie=None)
        connected, _ = await ws.connect()
        assert connected
        closed = await ws.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()


def test_it_refuses_a_socket_from_another_origin(session_cookie):
    async def scenario():
        ws = socket(cookie=session_cookie, origin=(b"origin", b"http://evil.example"))
        connected, _ = await ws.connect()
        assert not connected

    async_to_sync(scenario)()


def test_it_delivers_an_event_raised_in_another_process(session_cookie):
    async def scenario():
        ws = socket(cookie=session_cookie)
        connected, _ = await ws.connect()
        assert connected
        hello = await ws.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
        await asyncio.to_thread(
            run_python,
            "from automation_hub.live import publish\n"
            "publish('alert', {'code': 'from_worker', 'severity': 'error'})",
        )
        messages = await receive_until(ws, lambda m: m["type"] == "alert")
        event = messages[-1]
        assert event["data"] == {"code": "from_worker", "severity": "error"}
        assert event["seq"] > hello["data"]["seq"]
        assert event["timestamp"]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_it_replays_what_a_reconnecting_page_missed_in_order(session_cookie):
    for n in range(3):
        live.publish("instruction_updated", {"id": n, "status": "pending"})
    first_seq = LiveEvent.objects.order_by("id").first().pk
    for n in range(3, 6):
        live.publish("instruction_updated", {"id": n, "status": "pending"})

    async def scenario():
        ws = socket(f"/ws/dashboard?since={first_seq + 2}", cookie=session_cookie)
        assert (await ws.connect())[0]
        messages = await receive_until(ws, lambda m: m["type"] == "hello")
        ids = [m["data"]["id"] for m in messages if m["type"] == "instruction_updated"]
        assert ids == [3, 4, 5]
        assert [m["seq"] for m in messages[:-1]] == sorted(m["seq"] for m in messages[:-1])
        # Then the live feed carries on after the catch-up.
        # In this thread (database_sync_to_async): a connection left open in another thread
        # would keep PostgreSQL from dropping the test database.
        # The reconcile also re-sends the recent events at or below `since` (one of them may
        # have committed after the page saw a later one); the page drops seqs it already has.
        await database_sync_to_async(live.publish)("instruction_updated", {"id": 6})
        later = await receive_until(ws, lambda m: m["data"].get("id") == 6)
        resent = [m["data"]["id"] for m in later[:-1]]
        assert resent == [0, 1, 2]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_it_tells_a_page_too_far_behind_to_reload(session_cookie, settings):
    for n in range(4):
        live.publish("hand_created", {"id": n})
    last = live.live_last_seq()
    LiveEvent.objects.filter(id__lte=last - 2).delete()  # pruned while the page was away

    async def scenario(since: int):
        ws = socket(f"/ws/dashboard?since={since}", cookie=session_cookie)
        assert (await ws.connect())[0]
        message = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return message["type"]

    assert async_to_sync(scenario)(last - 4) == "resync"
    assert async_to_sync(scenario)(last + 50) == "resync"  # ahead of the log: database reset
    # Everything after last - 2 is still kept: a normal catch-up.
    assert async_to_sync(scenario)(last - 2) == "hand_created"


def test_it_announces_only_committed_changes():
    before = live.live_last_seq()
    with pytest.raises(RuntimeError), transaction.atomic():
        live.publish_on_commit("hand_created", {"id": 1})
        raise RuntimeError("rolled back")
    assert live.live_last_seq() == before

    with transaction.atomic():
        live.publish_on_commit("hand_created", {"id": 2})
    assert LiveEvent.objects.get(id__gt=before).data == {"id": 2}


def test_it_prunes_old_events_on_a_schedule():
    live.publish("hand_created", {"id": 1})
    live.publish("hand_created", {"id": 2})
    LiveEvent.objects.filter(data__id=1).update(created_at=timezone.now() - timedelta(days=2))

    assert live.live_events_prune() == 1
    assert list(LiveEvent.objects.values_list("data__id", flat=True)) == [2]

    # The retention schedule prunes them with the other tables; their old schedule is gone.
    call_command("migrate", verbosity=0)
    assert not Schedule.objects.filter(name=LIVE_PRUNE_SCHEDULE).exists()
    schedule = Schedule.objects.get(name=PRUNE_SCHEDULE)
    assert schedule.func == "monitoring.tasks.prune_storage"
    assert schedule.repeats == -1


def test_it_keeps_relaying_when_a_page_reconnects_while_the_last_one_leaves():
    """A page navigating away and the next page connecting race in the same process."""
    relay = live.DatabaseRelay()

    async def scenario():
        got: list[int] = []

        async def old_page(payload):
            pass

        async def new_page(payload):
            got.append(payload["data"]["n"])

        await relay.attach(old_page)
        # The old page's socket closes while the new page's opens, in one event loop.
        await asyncio.gather(relay.detach(old_page), relay.attach(new_page))
        await database_sync_to_async(live.publish)("hand_created", {"n": 1})
        async with asyncio.timeout(5):
            while not got:
                await asyncio.sleep(0.02)
        await relay.detach(new_page)
        return got

    assert async_to_sync(scenario)() == [1]


def test_a_batch_from_the_redis_layer_reaches_the_page_as_its_events_in_order(
    session_cookie, redis_url, layer_prefix, settings
):
    from channels.layers import channel_layers

    from automation_hub import layer_sender

    # The production wiring, whichever mode this run is in: Redis pub/sub between processes.
    settings.HUB_MODE = "production"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": layer_prefix},
        }
    }
    channel_layers.backends.clear()
    events = [
        {"type": "instruction_updated", "data": {"id": n}, "timestamp": "t", "seq": 10_000 + n}
        for n in range(3)
    ]

    async def scenario():
        ws = socket(cookie=session_cookie)
        connected, _ = await ws.connect()
        assert connected
        assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
        layer = channel_layers["default"]
        await layer.group_send(
            live.DASHBOARD_GROUP,
            {
                "type": layer_sender.BATCH_TYPE,
                "messages": [{"type": live.MESSAGE_TYPE, "event": e} for e in events],
            },
        )
        received = [await ws.receive_json_from(timeout=5) for _ in events]
        await ws.disconnect()
        await layer.flush()
        return received

    try:
        assert async_to_sync(scenario)() == events
    finally:
        channel_layers.backends.clear()


def test_it_sends_an_event_that_became_visible_after_a_later_one_was_sent(session_cookie, settings):
    # PostgreSQL hands out ids at INSERT: an event can commit after a later one reached the page.
    # Reproduced on either database: the later event is there, the earlier id appears afterwards.
    settings.LIVE_RECONCILE_SECONDS = 0.2
    live.publish("instruction_updated", {"id": "reserved"})
    late_id = live.live_last_seq()
    LiveEvent.objects.filter(id=late_id).delete()
    live.publish("instruction_updated", {"id": "early", "status": "completed"})
    early_seq = live.live_last_seq()

    async def scenario():
        # The page saw `early` (its seq is what it reconnects with) ...
        ws = socket(f"/ws/dashboard?since={early_seq}", cookie=session_cookie)
        assert (await ws.connect())[0]
        await receive_until(ws, lambda m: m["type"] == "hello")
        # ... then the transaction holding the lower id commits.
        await database_sync_to_async(LiveEvent.objects.create)(
            id=late_id, type="instruction_updated", data={"id": "late", "status": "failed"}
        )
        got = await receive_until(ws, lambda m: m["data"].get("id") == "late", timeout=5)
        late = got[-1]
        assert late["seq"] == late_id < early_seq
        # Sent once: later reconciles do not repeat it.
        await asyncio.sleep(0.6)
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    async_to_sync(scenario)()


async def closed_with(ws: WebsocketCommunicator, *, timeout: float = 5) -> int:
    """The close code the socket ends with (live events before it are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            output = await ws.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                return output["code"]


def test_it_closes_the_socket_of_a_session_that_signs_out(engineer):
    client = Client()
    client.force_login(engineer)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        ws = socket(cookie=cookie)
        assert (await ws.connect())[0]
        assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
        await database_sync_to_async(client.post)(reverse("logout"))
        assert await closed_with(ws) == 4401

    async_to_sync(scenario)()


@pytest.mark.parametrize("ending", ["deactivated", "expired", "password changed"])
def test_it_closes_the_socket_once_its_session_no_longer_signs_in(engineer, settings, ending):
    from django.contrib.sessions.models import Session

    settings.LIVE_SESSION_CHECK_SECONDS = 0.1
    client = Client()
    client.force_login(engineer)
    session_key = client.cookies["sessionid"].value
    cookie = f"sessionid={session_key}".encode()

    def end_it() -> None:
        if ending == "deactivated":
            type(engineer).objects.filter(pk=engineer.pk).update(is_active=False)
        elif ending == "expired":
            Session.objects.filter(pk=session_key).update(
                expire_date=timezone.now() - timedelta(seconds=1)
            )
        else:
            engineer.set_password("a-new-pass-99")
            engineer.save()

    async def scenario():
        ws = socket(cookie=cookie)
        assert (await ws.connect())[0]
        assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
        await asyncio.sleep(0.3)
        await ws.send_json_to({"type": "ping"})  # still open while the session holds
        assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
        await database_sync_to_async(end_it)()
        assert await closed_with(ws) == 4401

    async_to_sync(scenario)()
