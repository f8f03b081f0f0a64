"""Injected faults: each raises its alarm with its priority and stops firing; brown-out keeps NVM only."""

from __future__ import annotations

import asyncio

import pytest

from sims.errors import SimConfigError

FILL = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}


def test_occlusion_after_5_shots_delivers_exactly_5_then_alarms_and_stops(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=20)
        await host.wait_for(lambda m: m.name == "alarm")
        await asyncio.sleep(3)
        assert [s["shot_index"] for s in host.events("shot")] == [1, 2, 3, 4, 5]
        assert host.alarms_raised() == [("occlusion", "high")]
        assert sim.device.state.json_name == "alarm"
        assert host.code(await host.request("arm")) == "alarm_active"
        await host.request("clear_alarm")
        assert sim.device.state.json_name == "ready"

    sim_run(test, "fault=occlusion:after_shots=5")


def test_occlusion_at_a_time_stops_a_running_burst(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=0)
        sim.device.inject("occlusion", at_s=1.2)  # shots at 0, 0.5, 1.0 s
        await asyncio.sleep(4)
        assert len(host.events("shot")) == 3
        assert sim.device.state.json_name == "alarm"
        assert host.alarms_raised() == [("occlusion", "high")]

    sim_run(test)


def test_empty_syringe_fault_mid_burst_raises_reservoir_empty_and_stops(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        sim.device.inject("empty", after_shots=3)
        await host.request("fire", count=10)
        await asyncio.sleep(6)
        assert len(host.events("shot")) == 3
        assert host.alarms_raised() == [("reservoir_empty", "high")]
        assert sim.device.reservoir_nl == 0 and sim.device.state.json_name == "alarm"

    sim_run(test)


def test_the_reservoir_really_running_out_stops_the_burst(sim_run):
    """No injected fault: 100 µL after priming 50 µL, 10 µL doses ×1.03 → 4 shots, then reservoir_empty."""

    async def test(sim, host):
        await host.request("load_syringe", capacity_nl=2_000_000, fill_nl=100_000)
        await host.request("prime", volume_nl=50_000)
        await asyncio.sleep(1.5)
        await host.request("set_parameters", depth_um=2000, dose_nl=10_000, rate_mhz=5000, mode="burst")
        await host.request("arm")
        host.start_heartbeat()
        await host.request("fire", count=100)
        await host.wait_for(lambda m: m.name == "alarm" and m["code"].json_name == "reservoir_empty")
        assert len(host.events("shot")) == 4
        assert ("reservoir_low", "low") in host.alarms_raised()
        assert sim.device.state.json_name == "alarm"

    sim_run(test)


def test_motor_stall_raises_a_high_alarm_and_stops_firing(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=10)
        sim.device.inject("stall", at_s=0.7)
        await asyncio.sleep(3)
        assert len(host.events("shot")) == 2
        assert host.alarms_raised() == [("motor_stall", "high")]
        assert sim.device.state.json_name == "alarm"

    sim_run(test)


def test_brownout_loses_ram_keeps_nvm_and_the_connection_survives(sim_run, tmp_path):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", seq=300, count=3)
        await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == 3)
        await asyncio.sleep(0.2)
        sim.device.inject("brownout", at_s=0.1)
        await asyncio.sleep(0.2)
        device = sim.device
        assert device.state.json_name == "idle"
        assert (device.syringe_capacity_nl, device.primed, device.shots_session) == (0, False, 0)
        assert device.shots_lifetime == 3 and device.identity["serial_number"] == "SIMBO"
        assert host.alarms_raised() == [("brownout_reset", "medium")]
        status = await host.request("get_status")  # same connection still works
        assert status["shots_lifetime"] == 3 and status["device_time_ms"] < 1000
        assert [a.json_name for a in status["active_alarms"]] == ["brownout_reset"]
        # The replay cache was RAM: the same seq is a new command now (and refused: not armed).
        assert host.code(await host.request("fire", seq=300, count=3)) == "wrong_state"
        await host.request("clear_alarm")
        assert device.active_alarms == []

    sim_run(test, f"serial=SIMBO&nvm={tmp_path / 'gun.json'}")


def test_fault_options_are_checked():
    from sims.faults import parse_fault

    assert str(parse_fault("occlusion:after_shots=5")) == "occlusion:after_shots=5"
    for bad, words in [
        ("leak:after_shots=1", "not a known fault"),
        ("occlusion", "malformed"),
        ("occlusion:after_shots=-1", "out of range"),
        ("occlusion:after_shots=1.5", "integer"),
        ("stall:when=3", "one trigger"),
        ("brownout:at_s=abc", "not a number"),
    ]:
        with pytest.raises(SimConfigError, match=words):
            parse_fault(bad)
