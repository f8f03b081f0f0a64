"""Safety: communication watchdog, emergency stop, stop at the end of the shot, fingerprint gate."""

from __future__ import annotations

import asyncio

import pytest

FILL = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}


def test_watchdog_trips_when_the_host_falls_silent_while_armed(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        await asyncio.sleep(0.9)
        assert sim.device.state.json_name == "armed"
        await asyncio.sleep(0.2)
        assert sim.device.state.json_name == "alarm"
        assert ("communication_lost", "high") in host.alarms_raised()
        trip = sim.device.snapshot().last_watchdog_trip
        assert trip is not None and 1000 <= trip.silent_ms < 1001  # the device's own mark: 1 s of silence

    sim_run(test)


def test_watchdog_trips_mid_burst_and_firing_stops(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(rate_mhz=10_000)
        await host.request("fire", count=0)  # until stop
        await asyncio.sleep(3)
        assert sim.device.state.json_name == "alarm"
        shots = len(host.events("shot"))
        assert 9 <= shots <= 11  # ~1 s of shots at 10/s, then nothing
        await asyncio.sleep(2)
        assert len(host.events("shot")) == shots
        assert host.alarms_raised() == [("communication_lost", "high")]

    sim_run(test)


def test_watchdog_does_not_trip_while_fed_by_heartbeats(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat(0.9)
        await asyncio.sleep(30)
        assert sim.device.state.json_name == "armed"
        assert host.alarms_raised() == []

    sim_run(test)


def test_watchdog_is_not_running_when_disarmed(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        await host.request("disarm")
        await asyncio.sleep(10)
        assert sim.device.state.json_name == "ready"
        assert host.alarms_raised() == []

    sim_run(test)


@pytest.mark.parametrize("where", ["idle", "ready", "armed", "firing", "priming", "alarm"])
def test_emergency_stop_is_accepted_in_every_state_and_latches(sim_run, where):
    async def test(sim, host):
        if where != "idle":
            await host.request("load_syringe", **FILL)
            await host.request("prime", volume_nl=100_000)
        if where not in ("idle", "priming"):
            await asyncio.sleep(2.1)
        if where in ("armed", "firing", "alarm"):
            await host.request("arm")
        if where == "firing":
            host.start_heartbeat()
            await host.request("fire", count=0)
            await asyncio.sleep(0.01)
        if where == "alarm":
            sim.device.inject("occlusion", at_s=0)
            await asyncio.sleep(0.01)
        assert sim.device.state.json_name == where
        assert (await host.request("emergency_stop")).name == "ack"
        assert sim.device.state.json_name == "emergency_stop"
        assert ("emergency_stop", "high") in host.alarms_raised()
        assert host.code(await host.request("arm")) == "alarm_active"
        assert (
            host.code(await host.request("set_parameters", depth_um=2000, dose_nl=10_000, rate_mhz=2000, mode="burst"))
            == "alarm_active"
        )
        await host.stop_heartbeat()
        await asyncio.sleep(5)
        assert sim.device.state.json_name == "emergency_stop"

    sim_run(test)


def test_emergency_stop_stops_firing_within_one_shot_period_and_needs_clear_alarm(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(rate_mhz=2000)
        host.start_heartbeat()
        await host.request("fire", count=100)
        await asyncio.sleep(1.2)  # shots at 0, 0.5, 1.0 s
        shots = len(host.events("shot"))
        await host.request("emergency_stop")
        await asyncio.sleep(2)
        assert len(host.events("shot")) == shots == 3
        assert host.code(await host.request("arm")) == "alarm_active"
        assert (await host.request("clear_alarm")).name == "ack"
        assert sim.device.state.json_name == "ready"
        assert (await host.request("arm")).name == "ack"

    sim_run(test)


def test_stop_ends_firing_at_the_end_of_the_shot_in_progress(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(rate_mhz=1000, dose_nl=200_000)  # 60 ms strokes, 1 s period
        host.start_heartbeat()
        await host.request("fire", count=10)
        await asyncio.sleep(1.03)  # second stroke in progress
        await host.request("stop")
        assert sim.device.state.json_name == "firing"
        await asyncio.sleep(0.05)
        assert sim.device.state.json_name == "armed"
        assert len(host.events("shot")) == 2
        await asyncio.sleep(3)
        assert len(host.events("shot")) == 2

    sim_run(test)


def test_stop_between_shots_ends_firing_at_once(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=10)
        await asyncio.sleep(0.2)
        assert (await host.request("stop")).name == "ack"
        assert sim.device.state.json_name == "armed"
        assert host.code(await host.request("disarm")) == ""
        assert sim.device.state.json_name == "ready"

    sim_run(test)


def test_fingerprint_mismatch_naks_everything_but_hello_stop_and_emergency_stop(sim_run):
    async def test(sim, host):
        identity = await host.request("hello")
        assert identity.name == "identity" and identity["fingerprint"] == 0x12345678
        reply = await host.request("load_syringe", **FILL)
        assert host.code(reply) == "incompatible_version" and "0x12345678" in reply["detail"]
        assert host.code(await host.request("heartbeat")) == "incompatible_version"
        assert (await host.request("stop")).name == "ack"
        assert sim.device.snapshot().last_stop is not None
        assert (await host.request("emergency_stop")).name == "ack"
        assert sim.device.state.json_name == "emergency_stop"
        assert (await host.request("hello", fingerprint=0x12345678)).name == "identity"
        assert (await host.request("clear_alarm")).name == "ack"

    sim_run(test, "fingerprint=0x12345678")
