"""Send to the channel layer from synchronous code through one long-lived event loop.

`async_to_sync(layer.group_send)` runs each call on a fresh event loop, and the Redis pub/sub
layer keeps one connection per loop: every event paid for a new Redis connection (~11 ms, and
the render workers send three events a job). Here a daemon thread owns one loop per process, so
the layer's connection is made once and reused.

`layer_group_send_nowait` does not wait for Redis at all: messages go into the loop's queue and
one sender task sends them in the order they were queued (what piled up meanwhile as one batch),
logging (not raising) failures.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_queue: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None


def _sender_loop() -> asyncio.AbstractEventLoop:
    """The process's sender loop, started on first use and again in a forked child (a fork
    copies the loop object but not the thread that ran it)."""
    global _loop, _loop_pid, _queue, _unsent
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
            threading.Thread(target=loop.run_forever, name="layer-sender", daemon=True).start()
            drain = asyncio.run_coroutine_threadsafe(_drain(queue), loop)
            _loop, _loop_pid, _queue = loop, os.getpid(), queue
            _unsent = 0  # a forked child starts with an empty queue
            atexit.register(_shutdown, loop, drain)
        return _loop


def _shutdown(loop: asyncio.AbstractEventLoop, drain: Any) -> None:
    """At exit: a command that exits right after its change still gets its events out; then
    the sender stops cleanly."""
    if _loop is loop:
        layer_flush(timeout=2.0)
    drain.cancel()
    loop.call_soon_threadsafe(loop.stop)


# Messages queued while the previous send was going out leave together, as one message of this
# type per group ({"type": BATCH_TYPE, "messages": [...]}, in order); a consumer that receives
# batches has a `live_batch` handler.
BATCH_TYPE = "live.batch"
MAX_BATCH = 200


async def _drain(queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
    while True:
        items = [await queue.get()]
        while len(items) < MAX_BATCH and not queue.empty():
            items.append(queue.get_nowait())
        by_group: dict[str, list[dict[str, Any]]] = {}
        for group, message in items:
            by_group.setdefault(group, []).append(message)
        for group, messages in by_group.items():
            try:
                layer = get_channel_layer()
                if layer is not None:
                    await layer.group_send(
                        group,
                        messages[0]
                        if len(messages) == 1
                        else {"type": BATCH_TYPE, "messages": messages},
                    )
            except Exception:
                logger.exception("channel layer send to %s failed", group)
        _sent(len(items))
        for _ in items:
            queue.task_done()


def _sent(count: int) -> None:
    global _unsent
    with _lock:
        _unsent -= count


def layer_group_send(group: str, message: dict[str, Any], *, timeout: float = 5.0) -> None:
    """Blocking group_send; raises what the layer raised (or TimeoutError)."""
    layer = get_channel_layer()
    if layer is None:
        return
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop())
    future.result(timeout=timeout)


# While Redis does not answer, sends wait here; past this many the newest are dropped (their
# events are stored: a page that reconnects, as it does when Redis comes back, catches up).
MAX_QUEUED = 20_000
_dropped = 0
_unsent = 0  # queued by callers and not yet handed to the layer (any thread)


def layer_group_send_nowait(group: str, message: dict[str, Any]) -> None:
    """Queue a group_send behind the ones queued before it; returns at once."""
    global _dropped, _unsent
    loop = _sender_loop()
    assert _queue is not None
    with _lock:
        full = _unsent >= MAX_QUEUED
        if full:
            _dropped += 1
            dropped = _dropped
        else:
            _unsent += 1
    if full:
        if dropped == 1 or dropped % 1000 == 0:
            logger.warning("channel layer not keeping up: %s messages dropped", dropped)
        return
    loop.call_soon_threadsafe(_queue.put_nowait, (group, message))


def layer_flush(*, timeout: float = 5.0) -> bool:
    """Wait until every queued send went out (tests, and processes about to exit)."""
    if _loop is None or _queue is None or _loop_pid != os.getpid():
        return True
    future = asyncio.run_coroutine_threadsafe(_queue.join(), _loop)
    try:
        future.result(timeout=timeout)
    except TimeoutError:
        return False
    return True
