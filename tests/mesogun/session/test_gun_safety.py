"""Review findings on the Gun's safety paths: a failing record stops the gun, close() trusts the device,
and an emergency stop does not wait behind other work."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import mesogun
from firmware_protocol import DeviceState, Message
from mesogun.errors import LinkTimeout, RecordError
from mesogun.link import Link
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.testing import sim_gun
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
                seen = []
                while True:
                    event = await asyncio.wait_for(events.__anext__(), 2)
                    if isinstance(event, mesogun.ShotEvent):
                        seen.append(event.shot.index)
                        if event.shot.index == 3:
                            break
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
    """Fault: the control path is stuck behind a slow treatment record. Must hold: emergency_stop() reaches
    the device at once (the API call returns once the control path is free again)."""

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
            with pytest.raises(mesogun.MesogunError):
                await firing
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
