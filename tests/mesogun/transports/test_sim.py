"""The ``sim://`` transport pushes the simulated gun's bytes to a receiver as a real port's readiness callback
would: in order, never inside the host's own write, and the end of stream as ``b""``."""

from __future__ import annotations

import asyncio
from typing import Any

from firmware_protocol import StreamDecoder, decode_message, make, to_wire
from mesogun.errors import ConnectionLost
from mesogun.transports.sim import SimTransport


def names(chunks: list[bytes]) -> list[str]:
    decoder = StreamDecoder()
    return [decode_message(frame).name for chunk in chunks for frame in decoder.feed(chunk)]


def test_replies_reach_the_receiver_after_the_write_returns_in_order_then_the_end(virtual: Any) -> None:
    async def main() -> tuple[list[bytes], list[bytes], bool, bool]:
        transport = SimTransport("sim://?status_period_ms=0")
        await transport.open()
        got: list[bytes] = []
        assert transport.set_receiver(lambda data: got.append(data) if isinstance(data, bytes) else None)
        await transport.write(to_wire(make("get_status", seq=1)) + to_wire(make("heartbeat", seq=2)))
        during_write = list(got)
        await asyncio.sleep(0.01)
        before_end = list(got)
        transport.sim.unplug()
        await asyncio.sleep(0.01)
        ended = got[-1:] == [b""]
        read_after = await transport.read() == b""  # a reader after the end is told so, not left waiting
        await transport.close()
        return during_write, before_end, ended, read_after

    during_write, before_end, ended, read_after = virtual(main)
    assert during_write == [], "a reply arrived inside the host's own write"
    assert names(before_end) == ["status", "ack"]
    assert ended and read_after


def test_bytes_that_arrive_without_a_receiver_are_read_or_handed_to_the_next_receiver_first(virtual: Any) -> None:
    async def main() -> tuple[list[str], list[str]]:
        transport = SimTransport("sim://?status_period_ms=0")
        await transport.open()
        await transport.write(to_wire(make("get_status", seq=1)))
        await asyncio.sleep(0.01)
        read = names([await transport.read()])
        await transport.write(to_wire(make("heartbeat", seq=2)))
        await asyncio.sleep(0.01)
        got: list[bytes | ConnectionLost] = []
        transport.set_receiver(got.append)  # the heartbeat's ack, queued meanwhile, comes first
        await transport.write(to_wire(make("get_status", seq=3)))
        await asyncio.sleep(0.01)
        transport.set_receiver(None)
        await transport.close()
        return read, names([c for c in got if isinstance(c, bytes)])

    read, pushed = virtual(main)
    assert read == ["status"]
    assert pushed == ["ack", "status"]


def test_an_event_the_device_sends_while_a_reply_is_on_its_way_arrives_after_it(virtual: Any) -> None:
    """The line is first in, first out: an alarm raised in the same turn as a reply was sent comes behind it."""

    async def main() -> list[str]:
        transport = SimTransport("sim://?status_period_ms=0")
        await transport.open()
        got: list[bytes] = []
        transport.set_receiver(lambda data: got.append(data) if isinstance(data, bytes) else None)
        await transport.write(to_wire(make("get_status", seq=1)))
        transport.sim.device.brownout()  # the device reboots and raises brownout_reset at once
        await asyncio.sleep(0.01)
        transport.set_receiver(None)
        await transport.close()
        return names(got)

    received = virtual(main)
    assert received[0] == "status" and "alarm" in received[1:], received
