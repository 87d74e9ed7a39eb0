"""`WS /ws/dashboard`: the live feed of every dashboard page.

Authenticated by the session cookie (asgi.py checks the Origin and loads the user). An anonymous
socket is accepted only to be closed with 4401, so the page can tell "signed out" from "network
down" (a refused handshake carries no code). A page connects with `?since=<seq>` — the last event
it saw, or the seq it was rendered at — and first receives what it missed, then the live events.

A socket lives only as long as its session: signing out closes it at once (`session_ended`,
through the channel layer), and every LIVE_SESSION_CHECK_SECONDS it re-reads its session, so an
expired session, a deactivated user or a changed password close it too (4401).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user

from automation_hub import live

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
SESSION_CLOSED = "session.closed"


def session_group(session_key: str) -> str:
    """The channel-layer group of one session's sockets (hashed: the key is a credential)."""
    return f"session-{hashlib.sha256(session_key.encode()).hexdigest()[:32]}"


def session_user_id(session_key: str) -> int | None:
    """The id of the active user this session still signs in, else None (expired, signed out,
    user deactivated or password changed: Django's own checks, as on a page request)."""
    engine = import_module(settings.SESSION_ENGINE)
    user = get_user(SimpleNamespace(session=engine.SessionStore(session_key)))  # type: ignore[arg-type]
    return user.pk if user.is_authenticated else None


def session_ended(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """`user_logged_out` receiver: tell that session's sockets to close. Sent before Django
    flushes the session, so its key is still known. A broker outage must not break signing out:
    the sockets' own check closes them a little later."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return
    try:
        async_to_sync(get_channel_layer().group_send)(
            session_group(session_key), {"type": SESSION_CLOSED}
        )
    except Exception:
        logger.warning("could not tell the sockets of a signed-out session to close", exc_info=True)


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self._session_key = self.scope["session"].session_key
        self._user_id = user.pk
        await self.channel_layer.group_add(session_group(self._session_key), self.channel_name)
        self._watch = asyncio.ensure_future(self._watch_session())
        # Until the catch-up is sent, live events wait here, so the page sees them in seq order.
        self._ready = False
        self._pending: list[dict[str, Any]] = []
        # Every seq sent on this socket: the reconcile sends only what is missing.
        self._cursor = live.LiveCursor()
        self._reconciler: asyncio.Task | None = None
        self._joined = True
        if settings.HUB_MODE == "production":
            await self.channel_layer.group_add(live.DASHBOARD_GROUP, self.channel_name)
        else:
            await live.relay.attach(self._deliver)
        await self.accept()
        if await self._catch_up(self._since()):
            # What committed late (below `since`) or was not pushed, then the same periodically.
            await live.live_reconcile(self._cursor, self.send_json)
            self._reconciler = asyncio.get_running_loop().create_task(
                live.live_reconcile_forever(self._cursor, self._send_new)
            )
        self._ready = True
        for payload in self._pending:
            await self._deliver(payload)
        self._pending = []

    async def disconnect(self, code: int) -> None:
        if not getattr(self, "_joined", False):
            return
        self._joined = False
        if self._reconciler is not None:
            self._reconciler.cancel()
        if self._watch is not asyncio.current_task():
            self._watch.cancel()
        await self.channel_layer.group_discard(session_group(self._session_key), self.channel_name)
        if settings.HUB_MODE == "production":
            await self.channel_layer.group_discard(live.DASHBOARD_GROUP, self.channel_name)
        else:
            await live.relay.detach(self._deliver)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The feed is one-way; a ping lets a page check the socket without waiting for an event.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "data": {}, "timestamp": None, "seq": None})

    async def session_closed(self, message: dict[str, Any]) -> None:
        """The session signed out (`session_ended`)."""
        await self._end()

    async def _watch_session(self) -> None:
        while True:
            await asyncio.sleep(settings.LIVE_SESSION_CHECK_SECONDS)
            try:
                user_id = await database_sync_to_async(session_user_id)(self._session_key)
            except Exception:  # database blip: keep the socket, check again next time
                logger.warning("live socket: session check failed", exc_info=True)
                continue
            if user_id != self._user_id:
                await self._end()
                return

    async def _end(self) -> None:
        if self._joined:
            with contextlib.suppress(Exception):
                await self.close(code=CLOSE_UNAUTHENTICATED)
            await self.disconnect(CLOSE_UNAUTHENTICATED)

    async def live_event(self, message: dict[str, Any]) -> None:
        """Group message from the Redis pub/sub layer (production mode)."""
        event = message.get("event")
        if isinstance(event, dict) and isinstance(event.get("seq"), int):
            await self._deliver(event)

    async def live_batch(self, message: dict[str, Any]) -> None:
        """Several group messages sent as one (automation_hub.layer_sender), in order."""
        for inner in message.get("messages") or []:
            if isinstance(inner, dict) and inner.get("type") == live.MESSAGE_TYPE:
                await self.live_event(inner)

    async def _deliver(self, payload: dict[str, Any]) -> None:
        if not self._joined:
            return
        if not self._ready:
            self._pending.append(payload)
            return
        if self._cursor.admit(payload["seq"]):
            await self.send_json(payload)

    async def _send_new(self, payload: dict[str, Any]) -> None:
        if self._joined and self._ready:
            await self.send_json(payload)

    def _since(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            return int(query["since"][0])
        except (KeyError, ValueError, IndexError):
            return None

    async def _catch_up(self, since: int | None) -> bool:
        """Send what the page missed after `since`. False when the page must reload instead."""
        last = await database_sync_to_async(live.live_last_seq)()
        if since is None:
            # "From now on": what is already there is not this socket's to receive.
            recent = await database_sync_to_async(live.live_recent_ids)(
                lookback_seconds=settings.LIVE_LOOKBACK_SECONDS
            )
            for seq in recent:
                self._cursor.admit(seq)
            await self.send_json(_control("hello", seq=last))
            return True
        limit = settings.LIVE_CATCHUP_LIMIT
        oldest = await database_sync_to_async(live.live_oldest_seq)()
        # Ahead of the log (database reset) or behind what is kept: the page must reload.
        if since > last or (since < oldest - 1) or last - since > limit:
            await self.send_json(_control("resync", seq=last))
            return False
        events = await database_sync_to_async(live.live_events_since)(seq=since, limit=limit)
        for payload in events:
            self._cursor.admit(payload["seq"])
            await self.send_json(payload)
        await self.send_json(_control("hello", seq=last))
        return True


def _control(kind: str, *, seq: int) -> dict[str, Any]:
    return {"type": kind, "data": {"seq": seq}, "timestamp": None, "seq": None}
