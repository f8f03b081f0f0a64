"""Review findings on the Gun's safety paths: a failing record stops the gun, close() trusts the device,
and an emergency stop does not wait behind other work."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

import mesogun
from firmware_protocol import AlarmCode, DeviceState, Flag, Message, StreamDecoder, decode_message
from mesogun.errors import ConnectionLost, LinkTimeout, RecordError
from mesogun.link import Link
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.testing import sim_gun
from mesogun.transports.base import Receiver
from mesogun.transports.sim import SimTransport
from sims.inprocess import start_inprocess


async def ready_to_fire(gun: mesogun.Gun) -> None:
    await gun.load_syringe(capacity_ml=10)
    await gun.prime(volume_ml=0.1)
    await gun.configure(depth_mm=2.0, dose_ml=0.005, rate_hz=10, mode="burst")
    await gun.arm()


class FailingRecord(TreatmentRecord):
    """A treatment record whose disk fails from the third shot on."""

    def log_message(self, session_id: int, direction: str, message: Message) -> None:
        if message.name == "shot" and message["shot_index"] >= 3:
            raise RecordError("disk I/O error (simulated)")
        super().log_message(session_id, direction, message)


def test_a_record_that_fails_mid_burst_stops_the_gun_and_fails_the_burst(virtual: Any, tmp_path: Path) -> None:
    """Fault: the record cannot write shot 3 of 8. Must hold: fire() raises RecordError (CLI exit 6), the
    device stops firing at once instead of finishing the burst, and the shot is still in the event stream."""

    async def scenario() -> None:
        with FailingRecord(tmp_path / "r.sqlite") as record:
            async with sim_gun(recorder=SessionRecorder(record)) as (gun, sim):
                await ready_to_fire(gun)
                events = gun.events()
                with pytest.raises(RecordError, match="firing stopped"):
                    await gun.fire(count=8)
                assert sim.device.state is not DeviceState.FIRING
                assert sim.device.shots_lifetime < 8
                seen: list[int] = []
                while len(seen) < 3:
                    event = await asyncio.wait_for(events.__anext__(), 2)
                    if isinstance(event, mesogun.ShotEvent):
                        seen.append(event.shot.index)
                assert seen == [1, 2, 3]  # the shot the record lost still reached the caller
                events.close()

    virtual(scenario)


def test_close_stops_a_gun_whose_fire_ack_was_lost(virtual: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault: the device starts firing but every fire ack is lost (the host believes it is only armed).
    Must hold: leaving the session stops and disarms the device anyway."""
    exchange = Link.exchange

    async def lose_fire_acks(self: Link, message: Message, **kwargs: Any) -> Any:
        received = await exchange(self, message, **kwargs)
        if message.name == "fire":
            raise LinkTimeout("fire got no reply (simulated)", command="fire")
        return received

    async def scenario() -> None:
        sim = await start_inprocess("status_period_ms=0")
        try:
            async with mesogun.connect(SimTransport.attach(sim)) as gun:
                await ready_to_fire(gun)
                monkeypatch.setattr(Link, "exchange", lose_fire_acks)
                with pytest.raises(LinkTimeout):
                    await gun.fire(count=0)
                monkeypatch.setattr(Link, "exchange", exchange)
                await asyncio.sleep(0.5)
                assert sim.device.state is DeviceState.FIRING
            assert sim.device.state is DeviceState.READY
        finally:
            await sim.close()

    virtual(scenario)


def test_emergency_stop_does_not_wait_for_a_stalled_control_path(virtual: Any) -> None:
    """Fault: the treatment record stalls on shots. Must hold: emergency_stop() reaches the device at once
    (the record has its own lane), and the running fire() ends with the emergency stop once the record
    has the shots it was given."""

    class SlowRecorder:
        def __init__(self) -> None:
            self.stall = False
            self.released = asyncio.Event()

        async def on_connected(self, *args: Any) -> None:
            pass

        async def on_message(self, direction: str, message: Message) -> None:
            if self.stall and message.name == "shot":
                await self.released.wait()

        async def on_disconnected(self, reason: str) -> None:
            pass

    async def scenario() -> None:
        recorder = SlowRecorder()
        async with sim_gun(recorder=recorder) as (gun, sim):
            await ready_to_fire(gun)
            recorder.stall = True
            firing = asyncio.create_task(gun.fire(count=0))
            while sim.device.shots_lifetime < 2:
                await asyncio.sleep(0.05)
            stopping = asyncio.create_task(gun.emergency_stop())
            await asyncio.sleep(0.2)
            assert sim.device.state is DeviceState.EMERGENCY_STOP  # while the control path is still stuck
            recorder.released.set()
            await stopping
            with pytest.raises(mesogun.DeviceAlarm) as caught:
                await firing
            assert caught.value.alarm is AlarmCode.EMERGENCY_STOP
            assert gun.state is mesogun.HostState.EMERGENCY_STOP

    virtual(scenario)


@pytest.mark.parametrize("stop_after_s", [0.53, 1.0, 1.27])
def test_fire_until_stop_returns_every_shot_the_device_fired(virtual: Any, stop_after_s: float) -> None:
    """Latency 40 ms: the stop's status reply overtakes shot events still queued on the host. Must hold: fire()
    returns every shot the device counted, so the delivered volume shown to the practitioner is right."""

    async def scenario() -> None:
        async with sim_gun("latency_ms=40") as (gun, sim):
            await ready_to_fire(gun)
            firing = asyncio.create_task(gun.fire(count=0))
            await asyncio.sleep(stop_after_s)
            await gun.stop()
            shots = await firing
            assert len(shots) == sim.device.shots_session > 0
            assert [s.index for s in shots] == list(range(1, len(shots) + 1))

    virtual(scenario)


# ---------------------------------------------------------------------------------------------- the record fails


class WireTap(SimTransport):
    """A ``sim://`` transport that owns its simulator and logs every message on the wire, in order."""

    def __init__(self, url: str = "sim://") -> None:
        super().__init__(url)
        self.wire: list[tuple[str, Message]] = []
        self._to_device, self._from_device = StreamDecoder(), StreamDecoder()

    async def write(self, data: bytes) -> None:
        self.wire += [("host", decode_message(f)) for f in self._to_device.feed(data)]
        await super().write(data)

    def _tap(self, data: bytes | ConnectionLost) -> None:
        if isinstance(data, bytes):
            self.wire += [("device", decode_message(f)) for f in self._from_device.feed(data)]

    async def read(self) -> bytes:
        data = await super().read()
        self._tap(data)
        return data

    def set_receiver(self, receiver: Receiver | None) -> bool:
        if receiver is None:
            return super().set_receiver(None)

        def tapped(data: bytes | ConnectionLost) -> None:  # pushed bytes are tapped as read ones would be
            self._tap(data)
            receiver(data)

        return super().set_receiver(tapped)

    def after(self, direction: str, name: str) -> list[Message]:
        """Every message after the first ``name`` seen going ``direction`` (empty if there was none)."""
        for i, (d, m) in enumerate(self.wire):
            if d == direction and m.name == name:
                return [m for _, m in self.wire[i + 1 :]]
        return []


KINDS = ["connected", "command", "reply", "shot", "alarm", "disconnected", "handler"]


class BrokenRecord:
    """A recorder whose disk fails for one kind of write, once ``armed`` (or its failure handler fires)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.armed = kind == "connected"
        self.calls_after_failure = 0
        self.failed = False
        self._handler: Any = None

    def on_failure(self, handler: Any) -> None:
        self._handler = handler

    def _fail(self) -> None:
        self.failed = True
        raise RecordError("database or disk is full (simulated)")

    async def on_connected(self, *args: Any) -> None:
        self.calls_after_failure += self.failed
        if self.armed and self.kind == "connected":
            self._fail()

    async def on_message(self, direction: str, message: Message) -> None:
        self.calls_after_failure += self.failed
        if not self.armed or self.failed:
            return
        is_reply = bool(message.flags & Flag.REPLY)
        if (
            (self.kind == "command" and direction == "host")
            or (self.kind == "reply" and direction == "device" and is_reply)
            or (self.kind == message.name and self.kind in ("shot", "alarm"))
        ):
            self._fail()
        if self.kind == "handler" and message.name == "shot":
            self.failed = True
            self._handler(RecordError("the record's writer thread died (simulated)"))

    async def on_note(self, kind: str, detail: str, reason: str) -> None:
        self.calls_after_failure += self.failed

    async def on_disconnected(self, reason: str) -> None:
        self.calls_after_failure += self.failed
        if self.armed and self.kind == "disconnected":
            self._fail()


@pytest.mark.parametrize("kind", KINDS)
def test_a_record_that_fails_any_write_stops_and_disarms_the_gun(virtual: Any, kind: str) -> None:
    """Fault: the record's disk fills up during ``fire(count=0)``, for each kind of write. Must hold, on the
    device's side of the wire: a stop arrives, at most the shot in progress follows it, then nothing; the
    gun ends disarmed; the host neither hangs nor spins, and later arming is refused with RecordError."""

    async def scenario() -> None:
        record = BrokenRecord(kind)
        tap = WireTap("sim://?" + ("fault=occlusion:after_shots=4" if kind == "alarm" else ""))
        if kind == "connected":
            with pytest.raises(RecordError):
                async with mesogun.connect(tap, recorder=record):
                    pass
            assert tap.after("host", "stop")  # the gun was made safe before connect() raised
            return
        gun_cm = mesogun.connect(tap, recorder=record)
        gun = await gun_cm.__aenter__()
        try:
            await ready_to_fire(gun)
            device = tap.sim.device
            firing = asyncio.create_task(gun.fire(count=0))
            await asyncio.sleep(0.35)
            record.armed = True
            if kind in ("command", "reply"):
                with contextlib.suppress(RecordError):
                    await gun.refresh_status()  # a recorded command while firing
            if kind == "disconnected":
                await gun_cm.__aexit__(None, None, None)  # leaving makes it safe; then the record fails
                await asyncio.wait_for(firing, 5)  # stopped by leaving: the shots so far
            else:
                with pytest.raises(RecordError if kind != "alarm" else (RecordError, mesogun.DeviceAlarm)):
                    await asyncio.wait_for(firing, 5)
            await asyncio.sleep(2.0)  # the host is idle, not spinning; the device stays stopped
            after_stop = tap.after("host", "stop")
            assert after_stop, "the device never received stop"
            stop_ack = next(i for i, (d, m) in enumerate(tap.wire) if d == "device" and m.get("command") == "stop")
            shots_after = [m for d, m in tap.wire[stop_ack + 1 :] if m.name == "shot"]
            assert len(shots_after) <= 1  # only the shot in progress ends after a stop
            if kind == "alarm":
                assert device.state is DeviceState.ALARM
            else:
                assert device.state is DeviceState.READY
                assert any(d == "host" and m.name == "disarm" for d, m in tap.wire)
            if kind != "disconnected":
                with pytest.raises(RecordError, match="refused"):
                    await gun.arm()
            assert record.calls_after_failure == 0  # the record was not touched again
        finally:
            if kind != "disconnected":
                await gun_cm.__aexit__(None, None, None)

    virtual(scenario)


def test_reconnect_works_on_a_plain_sim_url_whose_transport_owns_its_simulator(virtual: Any) -> None:
    """Fault: the cable is pulled on ``sim://`` (no simulator attached by the test). Must hold:
    reconnect() finds the same gun again, because only the Gun, which opened the transport, closes it."""

    async def scenario() -> None:
        async with mesogun.connect("sim://?serial=SIM0555") as gun:
            await gun.load_syringe(capacity_ml=5)
            assert isinstance(gun.transport, SimTransport)
            simulator = gun.transport.sim
            simulator.unplug()
            with pytest.raises(mesogun.ConnectionLost):
                await gun.refresh_status()
            assert gun.state is mesogun.HostState.DISCONNECTED
            await gun.reconnect(attempts=3, interval=0.1)
            assert gun.info.serial_number == "SIM0555"
            assert gun.transport.sim is simulator  # the same simulator, still running
            assert gun.state is mesogun.HostState.IDLE
            assert (await gun.refresh_status()).reservoir_nl == 5_000_000  # it kept the syringe
        assert simulator.device.state is DeviceState.IDLE

    virtual(scenario)


def test_making_a_safe_gun_safe_returns_normally(virtual: Any) -> None:
    """disarm() on a ready gun, stop() when not firing, clear_alarm() with nothing latched: no StateError.
    disarm() says it had nothing to do (False) and sends nothing; the device stays ready."""

    async def scenario() -> None:
        async with sim_gun() as (gun, sim):
            await gun.load_syringe(capacity_ml=10)
            await gun.prime(volume_ml=0.1)
            before = sim.device.snapshot()
            assert await gun.disarm() is False
            await gun.stop()
            await gun.clear_alarm()
            after = sim.device.snapshot()
            assert after.executed.get("disarm", 0) == before.executed.get("disarm", 0)
            assert after.refused == before.refused
            assert sim.device.state is DeviceState.READY
            await gun.arm()
            assert await gun.disarm() is True
            assert sim.device.state is DeviceState.READY

    virtual(scenario)


def test_a_brownout_reset_notice_is_clearable(virtual: Any) -> None:
    """After a brown-out the device is idle with the brownout_reset notice: clear_alarm() is sent and clears it."""

    async def scenario() -> None:
        async with sim_gun() as (gun, sim):
            sim.device.brownout()
            status = await gun.refresh_status()
            assert AlarmCode.BROWNOUT_RESET in status.active_alarms
            await gun.clear_alarm()
            assert AlarmCode.BROWNOUT_RESET not in sim.device.snapshot().active_alarms
            assert AlarmCode.BROWNOUT_RESET not in gun.status.active_alarms

    virtual(scenario)


def test_closing_while_the_actor_is_stuck_fails_every_waiting_caller(virtual: Any) -> None:
    """Fault: a piece of the actor's work outlasts ``close_grace`` (a stuck callback), with a command queued
    behind it. Must hold: close() returns, and both callers get ConnectionLost instead of waiting forever;
    two overlapping close() calls both return without CancelledError; the device is left safe by its own
    watchdog at the latest, and nothing new is accepted."""

    async def scenario() -> None:
        timeouts = mesogun.Timeouts(close_grace=1.0)
        async with sim_gun(timeouts=timeouts) as (gun, _sim):
            actor = gun._actor  # the unit under test: the actor's shutdown contract

            async def stuck() -> None:
                await asyncio.sleep(30)

            in_progress = asyncio.create_task(actor.call("stuck", stuck))
            await asyncio.sleep(0)
            queued = asyncio.create_task(gun.refresh_status())
            await asyncio.sleep(0)
            await asyncio.gather(gun.close(), gun.close())
            for task in (in_progress, queued):
                with pytest.raises(mesogun.ConnectionLost):
                    await asyncio.wait_for(task, 1.0)
            with pytest.raises(mesogun.ConnectionLost):
                await gun.refresh_status()

    virtual(scenario)
