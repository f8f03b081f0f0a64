"""The handpiece trigger and the foot pedal (sims/trigger.py): what each press fires per mode, its ``trigger``
events, presses the device ignores, the burst count, and a device that refuses remote fire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from firmware_protocol import DeviceState, ShotSource
from sims.errors import SimConfigError
from sims.inprocess import InProcessSim
from tests.sims.conftest import Host

RATE_MHZ = 5000
"""5 shots/s: a shot every 200 ms."""


def _shots(host: Host) -> list[tuple[int, str]]:
    """(fire_seq, source) of every shot event so far."""
    return [(m["fire_seq"], m["source"].json_name) for m in host.events("shot")]


def _triggers(host: Host) -> list[tuple[str, bool]]:
    return [(m["source"].json_name, bool(m["pressed"])) for m in host.events("trigger")]


async def _armed(host: Host, mode: str) -> None:
    host.start_heartbeat()
    await host.ready_to_fire(mode=mode, rate_mhz=RATE_MHZ)


def test_single_fires_one_shot_per_press_however_long_it_is_held(sim_run: Callable[..., None]) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        await _armed(host, "single")
        assert sim.device.press_trigger() is None
        await asyncio.sleep(2.0)
        assert _shots(host) == [(0, "trigger")]
        assert sim.device.state is DeviceState.ARMED
        assert sim.device.release_trigger() is None
        assert sim.device.press_trigger("pedal") is None
        await asyncio.sleep(0.5)
        assert sim.device.release_trigger() is None
        await asyncio.sleep(0.1)
        assert _shots(host) == [(0, "trigger"), (0, "pedal")]
        assert _triggers(host) == [("trigger", True), ("trigger", False), ("pedal", True), ("pedal", False)]

    sim_run(test)


def test_burst_fires_the_burst_count_per_press_even_if_let_go_early(sim_run: Callable[..., None]) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        await _armed(host, "burst")
        reply = await host.request("set_burst_count", burst_count=4)
        assert (reply.name, reply["burst_count"]) == ("ack", 4)
        assert sim.device.hold_trigger(50) is None  # let go long before the fourth shot
        await asyncio.sleep(2.0)
        assert _shots(host) == [(0, "trigger")] * 4
        assert sim.device.state is DeviceState.ARMED
        assert sim.device.trigger_pressed is None

    sim_run(test)


@pytest.mark.parametrize("mode", ["continuous", "nappage"])
def test_continuous_and_nappage_fire_at_the_rate_while_held(sim_run: Callable[..., None], mode: str) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        await _armed(host, mode)
        assert sim.device.hold_trigger(1000, "pedal") is None  # strokes at 0, 200, …, 800 ms; let go at 1000
        await asyncio.sleep(2.0)
        assert _shots(host) == [(0, "pedal")] * 5
        assert sim.device.state is DeviceState.ARMED
        assert _triggers(host) == [("pedal", True), ("pedal", False)]
        log = (await host.request("get_shot_log", from_index=1, count=5))["entries"]
        assert [entry["source"] for entry in log] == [ShotSource.PEDAL] * 5

    sim_run(test)


def test_a_press_while_not_armed_is_ignored_and_changes_nothing(sim_run: Callable[..., None]) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        assert (await host.request("hello")).name == "identity"
        before = sim.device.snapshot()
        refusal = sim.device.press_trigger()
        assert refusal == "trigger press ignored: the device is idle, not armed; nothing fired"
        assert sim.device.release_trigger() == "release ignored: no trigger or pedal press is held"
        await asyncio.sleep(0.5)
        after = sim.device.snapshot()
        assert (after.state, after.shots_lifetime, after.firing) == (before.state, before.shots_lifetime, before.firing)
        assert host.events("trigger") == host.events("shot") == []

    sim_run(test)


def test_a_second_press_while_one_is_held_is_ignored(sim_run: Callable[..., None]) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        await _armed(host, "continuous")
        assert sim.device.press_trigger() is None
        assert sim.device.press_trigger("pedal") == "pedal press ignored: the trigger is already pressed; nothing fired"
        assert sim.device.release_trigger() is None
        await asyncio.sleep(0.5)
        assert _triggers(host) == [("trigger", True), ("trigger", False)]

    sim_run(test)


def test_bad_trigger_input_is_refused_with_the_value_and_what_is_allowed(sim_run: Callable[..., None]) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        with pytest.raises(
            SimConfigError, match="source=remote is not a trigger source: allowed one of trigger, pedal"
        ):
            sim.device.press_trigger("remote")
        assert sim.device.hold_trigger(0) == "ms=0 out of range: 0 < ms <= 3600000 ms"

    sim_run(test)


@pytest.mark.parametrize(("count", "detail"), [(0, "burst_count=0 below min 1"), (21, "burst_count=21 above max 20")])
def test_burst_count_outside_its_limits_is_refused(sim_run: Callable[..., None], count: int, detail: str) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        identity = await host.request("hello")
        assert identity["burst_count_max"] == 20
        reply = await host.request("set_burst_count", burst_count=count)
        assert (Host.code(reply), reply["detail"]) == ("out_of_range", detail)
        assert sim.device.burst_count == 3  # the power-on value, unchanged

    sim_run(test)


def test_remote_fire_is_refused_with_a_clear_nak_when_disabled(sim_run: Callable[..., None]) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        await _armed(host, "burst")
        identity = await host.request("hello")
        assert identity["remote_fire"] is False
        reply = await host.request("fire", count=3)
        assert Host.code(reply) == "remote_fire_disabled"
        assert (
            reply["detail"] == "fire refused: this device fires from its trigger and pedal only (remote fire disabled)"
        )
        assert sim.device.state is DeviceState.ARMED
        assert sim.device.press_trigger() is None  # the trigger still fires
        await asyncio.sleep(1.0)
        assert _shots(host) == [(0, "trigger")] * 3

    sim_run(test, "remote_fire=0")


def test_remote_fire_shots_say_so(sim_run: Callable[..., None]) -> None:
    async def test(sim: InProcessSim, host: Host) -> None:
        await _armed(host, "burst")
        assert (await host.request("hello"))["remote_fire"] is True
        fire = await host.request("fire", count=2)
        await asyncio.sleep(1.0)
        assert _shots(host) == [(fire.seq, "remote")] * 2
        assert sim.device.press_trigger() is None  # after the remote burst the trigger fires again

    sim_run(test)
