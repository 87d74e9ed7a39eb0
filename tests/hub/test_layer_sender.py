"""Live pushes leave the publishing process in the order they were made, without the caller
waiting on Redis, and a process that exits right after a change still gets them out."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels_redis.pubsub import RedisPubSubChannelLayer

from automation_hub import layer_sender


def test_a_burst_sent_without_waiting_arrives_whole_and_in_order(
    redis_url, layer_prefix, monkeypatch
):
    sending = RedisPubSubChannelLayer(hosts=[redis_url], prefix=layer_prefix)
    monkeypatch.setattr(layer_sender, "get_channel_layer", lambda: sending)

    async def scenario() -> list[int]:
        listening = RedisPubSubChannelLayer(hosts=[redis_url], prefix=layer_prefix)
        channel = await listening.new_channel()
        await listening.group_add("burst", channel)
        try:
            for n in range(500):
                layer_sender.layer_group_send_nowait("burst", {"type": "t", "n": n})
            # The caller was never held up: the sends are still going out.
            assert await asyncio.to_thread(layer_sender.layer_flush, timeout=10)
            received, messages = [], 0
            async with asyncio.timeout(10):
                while len(received) < 500:
                    message = await listening.receive(channel)
                    messages += 1
                    if message["type"] == layer_sender.BATCH_TYPE:
                        received += [inner["n"] for inner in message["messages"]]
                    else:
                        received.append(message["n"])
            # What piled up while a send was going out left as one message.
            assert messages < 500
            return received
        finally:
            await listening.group_discard("burst", channel)
            await listening.flush()

    assert async_to_sync(scenario)() == list(range(500))


def test_a_failed_send_is_logged_and_later_sends_still_go(monkeypatch, caplog):
    sent = []

    class Flaky:
        async def group_send(self, group, message):
            if group == "down":
                raise ConnectionError("redis went away")
            sent.append(message)

    monkeypatch.setattr(layer_sender, "get_channel_layer", lambda: Flaky())
    for n in range(3):
        layer_sender.layer_group_send_nowait("down" if n == 1 else "up", {"type": "t", "n": n})
    assert layer_sender.layer_flush(timeout=5)
    layer_sender.layer_group_send_nowait("up", {"type": "t", "n": 3})
    assert layer_sender.layer_flush(timeout=5)
    delivered = [
        inner["n"]
        for message in sent
        for inner in (
            message["messages"] if message["type"] == layer_sender.BATCH_TYPE else [message]
        )
    ]
    assert delivered == [0, 2, 3]
    assert "channel layer send to down failed" in caplog.text


def test_sends_past_the_bound_are_dropped_while_the_layer_hangs(monkeypatch, caplog):
    release = asyncio.Event()
    sent = []

    class Hanging:
        async def group_send(self, group, message):
            await release.wait()  # Redis does not answer
            sent.append(message)

    monkeypatch.setattr(layer_sender, "get_channel_layer", lambda: Hanging())
    monkeypatch.setattr(layer_sender, "MAX_QUEUED", 5)
    monkeypatch.setattr(layer_sender, "_dropped", 0)
    for n in range(20):
        layer_sender.layer_group_send_nowait("g", {"type": "t", "n": n})
    assert not layer_sender.layer_flush(timeout=0.3)  # still stuck: the caller was not
    assert "messages dropped" in caplog.text
    loop = layer_sender._sender_loop()
    loop.call_soon_threadsafe(release.set)
    assert layer_sender.layer_flush(timeout=5)
    delivered = sum(len(m.get("messages", [m])) for m in sent)
    assert 1 <= delivered <= 6  # the one in flight and at most MAX_QUEUED behind it
