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


def test_an_occlusion_mid_stroke_is_reported_as_a_partial_shot_with_its_estimated_volume(sim_run):
    """Liquid went in before the alarm: the cut stroke takes the next index, its event and log entry say partial
    with a volume between 0 and the dose, it comes before the alarm, and the reservoir drains by it."""

    async def test(sim, host):
        await host.ready_to_fire(dose_nl=10_000)
        host.start_heartbeat()
        before = (await host.request("get_status"))["reservoir_nl"]
        await host.request("fire", count=20)
        await host.wait_for(lambda m: m.name == "alarm")
        await asyncio.sleep(1)
        shots = host.events("shot")
        assert [s["shot_index"] for s in shots] == [1, 2, 3, 4, 5, 6]
        assert [s["partial"] for s in shots] == [False] * 5 + [True]
        assert all(s["delivered_nl"] == s["dose_nl"] == 10_000 for s in shots[:5])
        cut = shots[-1]
        assert 0 < cut["delivered_nl"] < cut["dose_nl"] == 10_000
        names = [m.name for m in host.messages if m.name in ("shot", "alarm")]
        assert names[-2:] == ["shot", "alarm"]  # the partial shot's event comes before the alarm's
        status = await host.request("get_status")
        assert (status["shots_lifetime"], status["state"].json_name) == (6, "alarm")
        assert before - status["reservoir_nl"] == 5 * 10_000 + cut["delivered_nl"]
        (entry,) = (await host.request("get_shot_log", from_index=6, count=1))["entries"]
        assert (entry["partial"], entry["delivered_nl"]) == (True, cut["delivered_nl"])

    sim_run(test, "fault=occlusion:mid_stroke=5")


def test_an_emergency_stop_mid_stroke_is_a_partial_shot_too(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(mode="continuous")
        host.start_heartbeat()
        await host.request("fire", count=0)
        await asyncio.sleep(0.51)  # the second stroke runs from 500 to 522 ms
        assert (await host.request("emergency_stop")).name == "ack"
        shots = host.events("shot")
        assert [(s["shot_index"], s["partial"]) for s in shots] == [(1, False), (2, True)]
        assert 0 < shots[1]["delivered_nl"] < shots[1]["dose_nl"]

    sim_run(test)


def test_a_fault_between_strokes_makes_no_partial_shot(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=0)
        sim.device.inject("occlusion", at_s=0.3)  # strokes at 0-22 ms and 500-522 ms
        await asyncio.sleep(2)
        assert [(s["shot_index"], s["partial"]) for s in host.events("shot")] == [(1, False)]

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
    assert str(parse_fault("occlusion:mid_stroke=5")) == "occlusion:mid_stroke=5"
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
