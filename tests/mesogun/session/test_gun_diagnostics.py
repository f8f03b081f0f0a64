"""``Gun.diagnostics()`` against the in-process simulated gun in virtual time: both sides of the link, user units."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

import mesogun
from firmware_protocol import AlarmCode, AlarmPriority
from firmware_protocol.rules import REFERENCE_LIMITS, REFERENCE_MODEL
from mesogun import HostState
from mesogun.testing import sim_gun
from sims.physics import SUPPLY_NOMINAL_MV


async def ready_to_fire(gun: mesogun.Gun) -> None:
    await gun.load_syringe(capacity_ml=5, fill_ml=5)
    await gun.prime(volume_ml=0.1)
    await gun.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=5, mode="burst")
    await gun.arm()


def test_diagnostics_are_in_user_units_and_count_the_strokes(virtual: Any) -> None:
    async def scenario() -> None:
        async with sim_gun() as (gun, sim):
            await ready_to_fire(gun)
            await gun.fire(count=4)
            d = await gun.diagnostics()
            assert d.boot_count == 1
            assert d.uptime == pytest.approx(sim.device.device_time_ms / 1000, abs=0.01)
            assert d.supply_v == pytest.approx(SUPPLY_NOMINAL_MV / 1000)
            assert d.line_pressure_kpa == 0
            stroke_ms = REFERENCE_MODEL.stroke_ms(20_000, REFERENCE_LIMITS.dose_max_nl)
            assert d.plunger.strokes == 4
            assert d.plunger.last_stroke_ms == d.plunger.max_stroke_ms == pytest.approx(stroke_ms)
            assert d.plunger.stalls == 0
            assert d.alarms == ()

    virtual(scenario)


def test_a_clean_link_shows_the_same_frames_on_both_sides(virtual: Any) -> None:
    """What the host sent the device received; what the device sent the host received (the diagnostics reply,
    counted by the host but sent after the device counted, aside)."""

    async def scenario() -> None:
        async with sim_gun() as (gun, _):
            await gun.refresh_status()
            d = await gun.diagnostics()
            assert d.device_link.frames_received == d.host_link.frames_sent
            assert d.host_link.frames_received == d.device_link.frames_sent + 1
            assert d.host_link.retries == d.device_link.replays == d.device_link.crc_errors == 0

    virtual(scenario)


def test_a_lossy_link_shows_on_both_sides_and_every_replay_was_a_host_retry(virtual: Any) -> None:
    """Bytes dropped and corrupted both ways (fixed seed): the host counts retries and damaged frames, the device
    its damaged frames and the retries it answered from its replay cache."""

    async def scenario() -> None:
        async with sim_gun("drop=0.004&corrupt=0.002&seed=7", retries=8) as (gun, sim):
            await ready_to_fire(gun)
            for _ in range(6):
                with contextlib.suppress(mesogun.LinkTimeout):
                    await gun.fire(count=5)
                await asyncio.sleep(0.3)
            d = await gun.diagnostics()
            host, device = d.host_link, d.device_link
            assert host.retries > 0
            assert host.crc_errors + host.framing_errors + host.bytes_discarded > 0
            assert device.crc_errors + device.framing_errors + device.bytes_discarded > 0
            # a replay is a retry whose original was carried out (how many depends on the seed and every frame's
            # length; tests/sims/test_diagnostics.py pins a replay counted exactly)
            assert device.replays <= host.retries
            assert device.replays == sim.device.counters.duplicates  # one power-on: the device's own count

    virtual(scenario)


def test_diagnostics_are_read_in_emergency_stop_with_the_alarm_and_its_time(virtual: Any) -> None:
    async def scenario() -> None:
        async with sim_gun() as (gun, _):
            await asyncio.sleep(0.5)
            await gun.emergency_stop()
            assert gun.state is HostState.EMERGENCY_STOP
            d = await gun.diagnostics()
            (change,) = d.alarms
            assert (change.code, change.priority, change.raised) == (
                AlarmCode.EMERGENCY_STOP,
                AlarmPriority.HIGH,
                True,
            )
            assert change.boot == d.boot_count
            assert change.device_time == pytest.approx(0.5, abs=0.01)
            assert change.device_time <= d.uptime
            assert gun.state is HostState.EMERGENCY_STOP  # it changed nothing

    virtual(scenario)


def test_a_brownout_shows_as_one_more_boot_with_its_alarm_on_the_new_boot(virtual: Any) -> None:
    async def scenario() -> None:
        async with sim_gun() as (gun, sim):
            await asyncio.sleep(1.0)
            before = await gun.diagnostics()
            sim.device.brownout()
            after = await gun.diagnostics()
            assert after.boot_count == before.boot_count + 1
            assert after.uptime < before.uptime
            assert after.supply_v < SUPPLY_NOMINAL_MV / 1000
            assert [(a.code, a.boot) for a in after.alarms] == [(AlarmCode.BROWNOUT_RESET, after.boot_count)]

    virtual(scenario)
