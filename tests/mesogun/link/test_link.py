"""The link against a scripted fake device: seqs, retries that reuse the seq, replies by seq, events, loss."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from firmware_protocol import Flag, Frame, Message, NakCode, StreamDecoder, decode_message, make, to_wire
from firmware_protocol.framing import encode_frame
from mesogun.errors import ConnectionLost, DeviceRefused, LinkTimeout, ProtocolViolation
from mesogun.link import Link
from mesogun.transports.base import Transport

Script = Callable[[Message], list[Message]]


class FakeDevice(Transport):
    """A transport whose far end is a script: each host command maps to the messages the 'device' sends back."""

    def __init__(self, script: Script) -> None:
        self.url = "fake://"
        self.script = script
        self.received: list[Message] = []
        self._decoder = StreamDecoder()
        self._out: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = False
        self.fail_writes = False

    async def open(self) -> None:
        pass

    async def read(self) -> bytes:
        return await self._out.get()

    async def write(self, data: bytes) -> None:
        if self.fail_writes:
            raise ConnectionLost("fake://: unplugged")
        frames: list[Frame] = self._decoder.feed(data)
        for frame in frames:
            message = decode_message(frame)
            self.received.append(message)
            for reply in self.script(message):
                self.push(reply)

    def push(self, message: Message) -> None:
        self._out.put_nowait(to_wire(message))

    def eof(self) -> None:
        self._out.put_nowait(b"")

    async def close(self) -> None:
        self.closed = True
        self._out.put_nowait(b"")


def ack(m: Message, **fields: Any) -> Message:
    return make("ack", seq=m.seq, flags=Flag.REPLY, command=m.name, **fields)


def echo(m: Message) -> list[Message]:
    return [ack(m)]


async def started(script: Script, **kwargs: Any) -> tuple[Link, FakeDevice]:
    device = FakeDevice(script)
    link = Link(device, **kwargs)
    await link.start()
    return link, device


def test_reply_is_matched_by_seq_and_seqs_wrap_at_16_bits(virtual: Any) -> None:
    async def scenario() -> None:
        link, device = await started(echo, first_seq=0xFFFE)
        for _ in range(3):
            reply = await link.request("arm")
            assert reply.message.name == "ack"
        assert [m.seq for m in device.received] == [0xFFFE, 0xFFFF, 0]
        await link.close()

    virtual(scenario)


def test_retry_reuses_the_seq_with_the_retry_flag(virtual: Any) -> None:
    """Fault: the first two frames of a command are lost. The retries carry the same seq and Flag.RETRY."""

    async def scenario() -> None:
        seen = 0

        def lossy(m: Message) -> list[Message]:
            nonlocal seen
            seen += 1
            return [] if seen <= 2 else [ack(m, count=5)]

        link, device = await started(lossy, ack_timeout=0.1, retries=3)
        reply = await link.request("fire", count=5)
        assert reply.message["count"] == 5
        assert len({m.seq for m in device.received}) == 1
        assert [bool(m.flags & Flag.RETRY) for m in device.received] == [False, True, True]
        assert link.retransmissions == 2
        await link.close()

    virtual(scenario)


def test_no_reply_raises_link_timeout_naming_command_attempts_and_timeout(virtual: Any) -> None:
    async def scenario() -> None:
        link, device = await started(lambda m: [], ack_timeout=0.1, retries=2, silence_timeout=100)
        with pytest.raises(LinkTimeout) as caught:
            await link.request("arm")
        assert str(caught.value).startswith("arm got no reply after 3 attempts of 0.1 s each")
        assert (caught.value.command, caught.value.attempts, caught.value.timeout) == ("arm", 3, 0.1)
        assert len(device.received) == 3
        await link.close()

    virtual(scenario)


def test_health_counts_retries_and_timeouts_and_ages_the_last_frame(virtual: Any) -> None:
    """Link.health(): a command unanswered after 3 attempts is 2 retries and 1 timeout; the last frame's age grows."""

    async def scenario() -> None:
        link, _ = await started(lambda m: [], ack_timeout=0.1, retries=2, silence_timeout=100)
        with pytest.raises(LinkTimeout):
            await link.request("arm")
        health = link.health()
        assert (health.retransmissions, health.timeouts, health.frames_dropped, health.lost) == (2, 1, 0, None)
        assert health.last_rx_age >= 0.3
        await link.close()

    virtual(scenario)


def test_late_reply_after_timeout_is_ignored_and_does_not_confuse_the_next_command(virtual: Any) -> None:
    async def scenario() -> None:
        late: list[Message] = []

        def slow_first(m: Message) -> list[Message]:
            if m.name == "arm":
                late.append(ack(m))
                return []
            return [ack(m)]

        link, device = await started(slow_first, ack_timeout=0.1, retries=0, silence_timeout=100)
        with pytest.raises(LinkTimeout):
            await link.request("arm")
        device.push(late[0])
        reply = await link.request("disarm")
        assert reply.message["command"] == "disarm"
        await link.close()

    virtual(scenario)


def test_nak_raises_device_refused_with_the_code_and_detail(virtual: Any) -> None:
    async def scenario() -> None:
        def refuse(m: Message) -> list[Message]:
            return [
                make("nak", seq=m.seq, flags=Flag.REPLY, command=m.name, code=NakCode.NOT_PRIMED, detail="prime first")
            ]

        link, _ = await started(refuse)
        with pytest.raises(DeviceRefused) as caught:
            await link.request("arm")
        assert caught.value.nak_code is NakCode.NOT_PRIMED
        assert caught.value.detail == "prime first"
        assert str(caught.value) == "device refused arm (not_primed): prime first"
        await link.close()

    virtual(scenario)


def test_wrong_reply_kind_is_a_protocol_violation(virtual: Any) -> None:
    async def scenario() -> None:
        link, _ = await started(lambda m: [ack(m)])
        with pytest.raises(ProtocolViolation, match=r"answered get_status .* with ack, not status"):
            await link.request("get_status")
        link2, _ = await started(lambda m: [make("ack", seq=m.seq, flags=Flag.REPLY, command="stop")])
        with pytest.raises(ProtocolViolation, match="acknowledged stop for arm"):
            await link2.request("arm")
        await link.close()
        await link2.close()

    virtual(scenario)


def alarm_event(seq: int) -> Message:
    return make("alarm", seq=seq, code="occlusion", priority="high", raised=True, device_time_ms=seq)


def test_events_fan_out_and_a_slow_subscriber_drops_only_its_own_oldest(virtual: Any) -> None:
    """Fault: one subscriber never reads. The other gets all 50 events in order; the slow one keeps its newest."""

    async def scenario() -> None:
        link, device = await started(echo)
        slow = link.subscribe(maxsize=5)
        fast = link.subscribe(maxsize=100)
        for i in range(50):
            device.push(alarm_event(i))
        await link.request("heartbeat")  # the request completes: nobody stalled the reader
        got = [(await fast.get()).message.seq for _ in range(50)]
        assert got == list(range(50))
        assert slow.missed == 45
        assert [(await slow.get()).message.seq for _ in range(5)] == [45, 46, 47, 48, 49]
        await link.close()

    virtual(scenario)


def test_end_of_stream_fails_waiters_and_subscribers_at_once(virtual: Any) -> None:
    async def scenario() -> None:
        link, device = await started(lambda m: [], ack_timeout=10, silence_timeout=100)
        sub = link.subscribe()
        waiting = asyncio.create_task(link.request("arm"))
        await asyncio.sleep(0.01)
        device.eof()
        with pytest.raises(ConnectionLost, match="closed the connection"):
            await waiting
        with pytest.raises(ConnectionLost):
            await sub.get()
        with pytest.raises(ConnectionLost):
            await link.request("arm")  # later commands fail fast too
        await link.close()

    virtual(scenario)


def test_write_failure_is_connection_lost(virtual: Any) -> None:
    async def scenario() -> None:
        link, device = await started(echo)
        device.fail_writes = True
        with pytest.raises(ConnectionLost, match="unplugged"):
            await link.request("arm")
        assert link.lost is not None
        await link.close()

    virtual(scenario)


def test_silence_past_the_timeout_is_connection_lost(virtual: Any) -> None:
    """Fault: the device goes quiet (no status, no reply). A waiting command fails once the silence passes."""

    async def scenario() -> None:
        link, _ = await started(lambda m: [], ack_timeout=10, retries=0, silence_timeout=0.5)
        with pytest.raises(ConnectionLost, match="no data from the device"):
            await link.request("arm")
        await link.close()

    virtual(scenario)


def test_a_silence_timeout_shortened_while_running_applies_at_once(virtual: Any) -> None:
    """The session shortens the silence timeout once the device said its status period: a device that goes quiet
    is found lost after the new timeout, not the one the link started with."""

    async def scenario() -> float:
        link, _ = await started(lambda m: [], ack_timeout=10, retries=0, silence_timeout=100)
        loop = asyncio.get_running_loop()
        start = loop.time()
        link.silence_timeout = 0.5
        with pytest.raises(ConnectionLost, match="no data from the device"):
            await link.request("arm")
        await link.close()
        return loop.time() - start

    assert 0.5 <= virtual(scenario) <= 0.5 + 0.5 / 4


def test_undecodable_frames_are_counted_not_fatal(virtual: Any) -> None:
    """Fault: noise, a frame cut short, and a valid frame whose message type nobody knows. Must hold: the link
    counts each in its own counter and the command after them still gets its reply."""

    async def scenario() -> None:
        link, device = await started(echo)
        unknown_type = encode_frame(Frame(msg_type=0xEE, seq=7, payload=b"\x01", flags=int(Flag.REPLY)))
        cut_short = to_wire(Message("ack", 0, {"command": "arm"}, 0))[:-3] + b"\x00"
        device._out.put_nowait(b"\x00garbage\x00" + cut_short + unknown_type)
        assert (await link.request("arm")).message.name == "ack"
        assert link.bad_messages == 1  # the unknown message type
        assert link.decoder.stats.dropped + link.decoder.stats.garbage_bytes > 0  # the noise and the cut frame
        assert link.decoder.stats.frames == 2  # the unknown-type frame and the arm ack
        await link.close()

    virtual(scenario)


def test_closing_the_link_leaves_the_transport_to_whoever_opened_it(virtual: Any) -> None:
    """Whoever opens a transport closes it: a link dropped for a reconnect must not close the port under it."""

    async def scenario() -> None:
        link, device = await started(echo)
        await link.close()
        assert not device.closed
        again = Link(device)
        await again.start()
        assert (await again.request("arm")).message.name == "ack"
        await again.close()
        await device.close()

    virtual(scenario)
