"""Hardware-in-the-loop scenarios, written once: they run on the simulator (default, virtual time) or on a
real gun with ``python -m pytest tests/hil --gun-url /dev/ttyACM0``. Scenarios that need fault injection
use the ``sim`` fixture and are skipped on hardware.

Every scenario checks the treatment record against the device's own counters: no shot lost, none twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from firmware_protocol import AlarmCode, AlarmPriority, DeviceState
from mesogun import AlarmEvent, DeviceAlarm, Gun, HostState, ShotEvent
from mesogun.record import TreatmentRecord
from mesogun.testing.pytest_plugin import GunConnect
from sims.inprocess import InProcessSim

FACE_RATE_HZ = 4.0
FACE: dict[str, Any] = {"depth_mm": 1.5, "dose_ml": 0.02, "rate_hz": FACE_RATE_HZ, "mode": "burst"}
"""The face preset every scenario configures."""
CALIBRATION_TOLERANCE = 0.05
"""How far a shot's reported depth and dose may be from the set values (relative): shot values are what the
device believes it delivered, from its own calibration (docs/protocol.md), so a real gun's differ slightly."""


async def make_ready(gun: Gun, *, capacity_ml: float = 5, fill_ml: float | None = None) -> None:
    """Load, prime and configure the face preset: the gun ends ready to arm."""
    await gun.load_syringe(capacity_ml=capacity_ml, fill_ml=fill_ml)
    await gun.prime(volume_ml=0.05)
    await gun.configure(**FACE)


def recorded_indices(record: TreatmentRecord) -> list[int]:
    """Lifetime indices of every shot in the record (received or not), all sessions."""
    return [shot.shot_index for summary in record.sessions() for shot in record.shots(summary.session)]


def assert_record_matches_device(record: TreatmentRecord, first_index: int, device_lifetime: int) -> None:
    """Every shot from first_index to the device's lifetime counter is on record exactly once."""
    indices = recorded_indices(record)
    assert len(indices) == len(set(indices)), "a shot is on record twice"
    assert sorted(indices) == list(range(first_index, device_lifetime + 1)), "a shot is missing from the record"


async def test_full_treatment_every_shot_on_record(gun: Gun, gun_record: TreatmentRecord) -> None:
    """Load, prime, preset, arm, 20 shots, disarm: 20 shots come back and are all on record."""
    start = (await gun.refresh_status()).shots_lifetime
    await make_ready(gun)
    await gun.arm()
    shots = await gun.fire(count=20)
    await gun.disarm()
    status = await gun.refresh_status()
    assert [s.index for s in shots] == list(range(start + 1, start + 21))
    for shot in shots:  # the device's own estimate: its calibration may differ from the set values
        assert shot.depth_mm == pytest.approx(FACE["depth_mm"], rel=CALIBRATION_TOLERANCE)
        assert shot.dose_ml == pytest.approx(FACE["dose_ml"], rel=CALIBRATION_TOLERANCE)
    assert status.shots_lifetime == start + 20
    assert gun.state is HostState.READY
    assert_record_matches_device(gun_record, start + 1, status.shots_lifetime)


async def test_occlusion_mid_burst_stops_firing_and_is_recorded(
    gun: Gun, sim: InProcessSim, gun_record: TreatmentRecord
) -> None:
    """Fault: occlusion after 5 shots of a 20-shot burst. Must hold: firing stops at 5, high alarm, all 5 recorded."""
    await make_ready(gun)
    await gun.arm()
    sim.device.inject("occlusion", after_shots=5)
    with pytest.raises(DeviceAlarm) as caught:
        await gun.fire(count=20)
    assert caught.value.alarm is AlarmCode.OCCLUSION
    assert len(caught.value.shots) == 5
    status = await gun.refresh_status()
    assert status.state is DeviceState.ALARM and AlarmCode.OCCLUSION in status.active_alarms
    assert gun.state is HostState.ALARM
    assert sim.device.shots_lifetime == 5
    assert_record_matches_device(gun_record, 1, 5)


async def test_reservoir_empties_mid_burst(gun: Gun, gun_record: TreatmentRecord) -> None:
    """Fault: a syringe holding less than the burst needs. Must hold: firing stops with reservoir_empty, no
    shot lost or invented, the reservoir never goes negative."""
    start = (await gun.refresh_status()).shots_lifetime
    await make_ready(gun, capacity_ml=2, fill_ml=0.2)
    await gun.arm()
    with pytest.raises(DeviceAlarm) as caught:
        await gun.fire(count=50)
    assert caught.value.alarm is AlarmCode.RESERVOIR_EMPTY
    status = await gun.refresh_status()
    delivered = status.shots_lifetime - start
    assert 0 < delivered < 50
    assert len(caught.value.shots) == delivered
    assert status.reservoir_nl >= 0 and gun.state is HostState.ALARM
    assert_record_matches_device(gun_record, start + 1, status.shots_lifetime)


async def test_watchdog_stops_an_armed_gun_when_the_host_vanishes(gun: Gun, gun_connect: GunConnect) -> None:
    """Fault: the host's connection dies while the gun is armed (no disarm). Must hold: within the watchdog
    period the device disarms itself and raises a high-priority communication_lost alarm."""
    await make_ready(gun)
    await gun.arm()
    watchdog_s = gun.info.watchdog_ms / 1000
    await gun.transport.close()  # the host vanishes: no disarm, no more frames
    await asyncio.sleep(watchdog_s * 2)
    async with gun_connect() as again:
        status = await again.refresh_status()
        assert status.state is DeviceState.ALARM
        assert AlarmCode.COMMUNICATION_LOST in status.active_alarms
        assert again.state is HostState.ALARM
        await again.clear_alarm()
        assert again.state in (HostState.IDLE, HostState.READY)


async def test_brownout_mid_session_keeps_the_lifetime_counter_and_the_record(
    gun: Gun, sim: InProcessSim, gun_record: TreatmentRecord
) -> None:
    """Fault: brown-out reset mid-burst. Must hold: the device comes back idle with brownout_reset (medium),
    its lifetime counter survives, and every shot it counted is on record once."""
    await make_ready(gun)
    await gun.arm()
    events = gun.events()
    sim.device.inject("brownout", after_shots=4)
    with pytest.raises(DeviceAlarm):
        await gun.fire(count=20)
    alarms: list[AlarmEvent] = []
    while not alarms:
        event = await asyncio.wait_for(events.__anext__(), 5)
        if isinstance(event, AlarmEvent) and event.raised:
            alarms.append(event)
    events.close()
    assert alarms[0].code is AlarmCode.BROWNOUT_RESET and alarms[0].priority is AlarmPriority.MEDIUM
    status = await gun.refresh_status()
    assert status.state is DeviceState.IDLE
    assert status.shots_session == 0  # RAM state lost
    assert status.shots_lifetime == sim.device.shots_lifetime >= 4  # NVM kept
    assert_record_matches_device(gun_record, 1, status.shots_lifetime)


@pytest.mark.sim_options(corrupt=0.0008, seed=7)
async def test_noisy_link_1000_commands_no_shot_duplicated_or_lost(
    gun: Gun, sim: InProcessSim, gun_record: TreatmentRecord
) -> None:
    """Fault: bit error rate 1e-4 (≈ 8e-4 per byte corrupted) both ways over 1,000 commands. Must hold: every
    command completes (retries reuse the seq), no shot fired twice, none missing from the record: a shot
    event lost on the line is on record as counted-but-unreceived."""
    await make_ready(gun, capacity_ml=10)
    await gun.configure(dose_ml=0.005)  # 500 shots must fit in the syringe
    await gun.arm()
    commands = 7  # hello, get_status, load, prime, two configures, arm
    fired = bursts = 0
    while commands < 1000:
        shots = await gun.fire(count=2)
        fired += len(shots)
        bursts += 1
        await gun.refresh_status()
        commands += 2
    await gun.disarm()
    status = await gun.refresh_status()
    assert status.shots_lifetime == sim.device.shots_lifetime
    assert sim.device.counters.executed["fire"] == bursts  # no retried fire executed twice
    assert status.shots_lifetime == 2 * bursts  # so no burst fired twice either
    unreceived = sum(s.shots_unreceived for s in gun_record.sessions())
    assert fired + unreceived == status.shots_lifetime  # a shot event lost on the line is on record as unreceived
    assert sim.device.counters.duplicates > 0, "no reply was lost: the link was not noisy enough to test retries"
    assert_record_matches_device(gun_record, 1, status.shots_lifetime)


async def test_emergency_stop_while_firing_stops_within_one_shot_period(gun: Gun) -> None:
    """Emergency stop during continuous fire. Must hold: no shot lands later than one shot period after the
    device took the stop (its emergency_stop alarm time); the gun latches emergency_stop until clear."""
    await make_ready(gun)
    await gun.arm()
    before = (await gun.refresh_status()).shots_session
    events = gun.events()
    firing = asyncio.create_task(gun.fire(count=0))
    shot_times: list[float] = []
    stop_alarm: AlarmEvent | None = None

    async def watch() -> None:
        nonlocal stop_alarm
        async for event in events:
            if isinstance(event, ShotEvent):
                shot_times.append(event.shot.device_time)
            elif isinstance(event, AlarmEvent) and event.code is AlarmCode.EMERGENCY_STOP and event.raised:
                stop_alarm = event

    watcher = asyncio.create_task(watch())
    while len(shot_times) < 5:
        await asyncio.sleep(0.05)
    await gun.emergency_stop()
    with pytest.raises(DeviceAlarm):
        await firing
    await asyncio.sleep(1.0)  # any shot that would still land, lands now
    events.close()
    await watcher
    assert stop_alarm is not None and stop_alarm.priority is AlarmPriority.HIGH
    period = 1 / FACE_RATE_HZ
    assert max(shot_times) <= stop_alarm.device_time + period
    status = await gun.refresh_status()
    assert status.state is DeviceState.EMERGENCY_STOP and gun.state is HostState.EMERGENCY_STOP
    assert status.shots_session - before == len(shot_times)  # every shot fired was reported
    await gun.clear_alarm()
    assert gun.state is HostState.READY
