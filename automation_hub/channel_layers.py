"""The production channel layer: Redis pub/sub that rides out a Redis restart.

channels_redis' pub/sub layer already re-subscribes the channels it holds once Redis is back
(redis-py does it on reconnect). What it cannot do is subscribe while Redis is away: a dashboard
page that opens its socket during the outage gets an error from `group_add` and the socket is
closed, so the page shows "disconnected" for as long as Redis is down although everything it
shows comes from the database (catch-up and the periodic reconcile, automation_hub.live).

Here a subscription that fails is remembered and retried in the background every
CHANNEL_RESUBSCRIBE_SECONDS until Redis answers, so the socket is accepted, the page gets its
catch-up from the database, the reconcile keeps it equal to the database meanwhile, and live
pushes resume by themselves. Publishing still raises while Redis is away: its callers
(automation_hub.layer_sender, live.py) already treat a push as best-effort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close, decode_hosts
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
CHANNEL_RESUBSCRIBE_SECONDS = 1.0
# A subscribe that neither succeeds nor fails (a Redis that accepts but never answers) is
# abandoned after this long and left to the background retry.
SUBSCRIBE_TIMEOUT_SECONDS = 3.0


class _ResilientShard(RedisSingleShardConnection):
    def __init__(self, host: dict, channel_layer: RedisPubSubLoopLayer) -> None:
        super().__init__(host, channel_layer)
        self._wanted: set[str] = set()  # what should be subscribed, whether or not it is now
        self._retry_task: asyncio.Task | None = None

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        try:
            await asyncio.wait_for(super().subscribe(channel), SUBSCRIBE_TIMEOUT_SECONDS)
        except OUTAGE as error:
            logger.warning("channel layer: subscribe failed (%s): retrying in background", error)
            await self._reset()
            self._ensure_retry()

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        try:
            await asyncio.wait_for(super().unsubscribe(channel), SUBSCRIBE_TIMEOUT_SECONDS)
        except OUTAGE:
            # Redis is away: the subscription went with the connection; nothing to undo.
            self._subscribed_to.discard(channel)

    async def flush(self) -> None:
        self._wanted = set()
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._retry_task
            self._retry_task = None
        await super().flush()

    async def _reset(self) -> None:
        """Drop a connection that failed mid-subscribe, so the retry starts from a clean one."""
        async with self._lock:
            self._subscribed_to = set()
            pubsub, self._pubsub = self._pubsub, None
            redis, self._redis = self._redis, None
        # The receive loop keeps running; it waits while there is no pub/sub object.
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        if redis is not None:
            with contextlib.suppress(Exception):
                await redis.aclose(close_connection_pool=True)

    def _ensure_retry(self) -> None:
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.ensure_future(self._retry_forever())

    async def _retry_forever(self) -> None:
        while True:
            await asyncio.sleep(CHANNEL_RESUBSCRIBE_SECONDS)
            missing = sorted(self._wanted - self._subscribed_to)
            if not missing:
                return
            try:
                for channel in missing:
                    await asyncio.wait_for(
                        RedisSingleShardConnection.subscribe(self, channel),
                        SUBSCRIBE_TIMEOUT_SECONDS,
                    )
            except OUTAGE:
                await self._reset()
                continue
            logger.info("channel layer: %d subscriptions restored", len(missing))


class _ResilientLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: object, hosts: object = None, **kwargs: object) -> None:
        super().__init__(*args, hosts=hosts, **kwargs)
        self._shards = [_ResilientShard(host, self) for host in decode_hosts(hosts)]


class ResilientPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels_redis.pubsub.RedisPubSubChannelLayer whose subscriptions survive Redis being
    away (see the module docstring). Same CONFIG."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _ResilientLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
