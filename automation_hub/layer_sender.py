"""Send to the channel layer from synchronous code through one long-lived event loop.

`async_to_sync(layer.group_send)` runs each call on a fresh event loop, and the Redis pub/sub
layer keeps one connection per loop: every event paid for a new Redis connection (~11 ms, and
the render workers send three events a job). Here a daemon thread owns one loop per process, so
the layer's connection is made once and reused.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _sender_loop() -> asyncio.AbstractEventLoop:
    """The process's sender loop, started on first use and again in a forked child (a fork
    copies the loop object but not the thread that ran it)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="layer-sender", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def layer_group_send(group: str, message: dict[str, Any], *, timeout: float = 5.0) -> None:
    """Blocking group_send; raises what the layer raised (or TimeoutError)."""
    layer = get_channel_layer()
    if layer is None:
        return
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop())
    future.result(timeout=timeout)
