"""The event fan-out: a publisher that never blocks, bounded subscribers that count what they missed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mesogun.errors import ConnectionLost
from mesogun.session.fanout import FanOut


def test_fanout_never_blocks_the_publisher_and_ends_subscribers_with_the_reason(virtual: Any) -> None:
    async def scenario() -> None:
        fan: FanOut[int] = FanOut()
        a, b = fan.subscribe(3), fan.subscribe(100)
        for i in range(10):
            fan.publish(i)  # synchronous: cannot wait for anyone
        assert a.take_missed() == 7 and a.take_missed() == 0
        assert [await a.get() for _ in range(3)] == [7, 8, 9]
        fan.close(ConnectionLost("gone"))
        assert [await b.get() for _ in range(10)] == list(range(10))
        with pytest.raises(ConnectionLost, match="gone"):
            await b.get()
        late = fan.subscribe()
        with pytest.raises(ConnectionLost):
            await late.get()
        c_fan: FanOut[int] = FanOut()
        c = c_fan.subscribe()
        c.close()
        assert c_fan.subscriber_count == 0
        with pytest.raises(StopAsyncIteration):
            await c.get()

    virtual(scenario)


def test_a_waiting_subscriber_wakes_on_publish(virtual: Any) -> None:
    async def scenario() -> None:
        fan: FanOut[str] = FanOut()
        sub = fan.subscribe()
        task = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        fan.publish("x")
        assert await task == "x"

    virtual(scenario)
