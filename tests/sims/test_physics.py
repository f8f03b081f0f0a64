"""Physics: shots at the set rate, plunger time, the reported reservoir (the device's estimate) against the
hidden truth (calibration error)."""

from __future__ import annotations

import asyncio
import itertools

import pytest


def test_shots_come_at_the_set_rate_with_a_running_index(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(rate_mhz=4000)  # 4 shots/s → 250 ms period
        host.start_heartbeat()
        fire = await host.request("fire", count=5)
        await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == 5)
        shots = host.events("shot")
        times = [s["device_time_ms"] for s in shots]
        assert [b - a for a, b in itertools.pairwise(times)] == [250] * 4
        assert [s["shot_index"] for s in shots] == [1, 2, 3, 4, 5]
        assert {s["fire_seq"] for s in shots} == {fire.seq}
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed")
        assert sim.device.shots_session == 5

    sim_run(test)


def test_each_shot_takes_the_plunger_time(sim_run):
    """A 200 µL dose takes the full 60 ms stroke: the shot is reported 60 ms after fire."""

    async def test(sim, host):
        await host.ready_to_fire(mode="single", dose_nl=200_000, rate_mhz=1000)
        start_ms = sim.device.device_time_ms
        await host.request("fire", count=1)
        shot = await host.wait_for(lambda m: m.name == "shot")
        assert shot["device_time_ms"] - start_ms == 60

    sim_run(test)


def test_status_reports_the_commanded_volume_and_the_truth_stays_in_the_physics(sim_run):
    """Hidden calibration error (gain 1.03, +80 µm offset): the device reports what it commanded - shots,
    priming and the reservoir in ``status`` - and only the physical model knows what really left the syringe."""

    async def test(sim, host):
        await host.ready_to_fire(dose_nl=10_000)
        host.start_heartbeat()
        status = await host.request("get_status")
        assert status["reservoir_nl"] == sim.device.reservoir_nl == 2_000_000 - 50_000  # the 50 µL it primed
        assert sim.device.snapshot().true_reservoir_nl == 2_000_000 - 51_500  # 50 µL x 1.03 really left
        await host.request("fire", count=4)
        await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == 4)
        status = await host.request("get_status")
        assert status["reservoir_nl"] == 2_000_000 - 50_000 - 4 * 10_000, "status carries the commanded volumes"
        assert sim.device.snapshot().true_reservoir_nl == 2_000_000 - 51_500 - 4 * 10_300
        truth = sim.device.shot_log[-1]
        assert (truth.dose_nl, truth.set_dose_nl) == (10_300, 10_000)
        assert (truth.depth_um, truth.set_depth_um) == (2080, 2000)
        shot = host.events("shot")[-1]
        assert (shot["dose_nl"], shot["depth_um"]) == (10_000, 2000), "the device reports what it commanded"

    sim_run(test, "volume_gain=1.03&depth_offset_um=80")


def test_the_plunger_bottoming_out_is_reservoir_empty_before_the_estimate_runs_out(sim_run):
    """With a gain above 1 the syringe really runs dry while the device's estimate still shows liquid: the
    stroke that cannot be delivered raises ``reservoir_empty`` and the estimate goes to 0."""

    async def test(sim, host):
        await host.request("hello")
        await host.request("load_syringe", capacity_nl=2_000_000, fill_nl=1_000_000)
        await host.request("prime", volume_nl=100_000)
        await asyncio.sleep(3)
        await host.request("set_parameters", depth_um=2000, dose_nl=100_000, rate_mhz=1000, mode="continuous")
        assert (await host.request("arm")).name == "ack"
        host.start_heartbeat()
        await host.request("fire", count=0)
        await host.wait_for(lambda m: m.name == "alarm" and m["code"].json_name == "reservoir_empty")
        # 900 µL commanded is 9 doses, but 9 x 110 µL really is more than the 890 µL left after priming
        assert len(host.events("shot")) == 8
        assert sim.device.reservoir_nl == 0 and sim.device.snapshot().true_reservoir_nl == 1_000_000 - 9 * 110_000

    sim_run(test, "volume_gain=1.1")


def test_priming_takes_time_and_uses_volume(sim_run):
    async def test(sim, host):
        await host.request("load_syringe", capacity_nl=2_000_000, fill_nl=1_000_000)
        await host.request("prime", volume_nl=100_000)  # 50 µL/s → 2 s
        assert sim.device.state.json_name == "priming"
        await asyncio.sleep(1.9)
        assert sim.device.state.json_name == "priming"
        await asyncio.sleep(0.2)
        assert sim.device.state.json_name == "ready" and sim.device.primed
        assert sim.device.reservoir_nl == 1_000_000 - 100_000

    sim_run(test, "volume_gain=1.0")


def test_status_is_pushed_every_status_period(sim_run):
    async def test(sim, host):
        await asyncio.sleep(1.01)
        statuses = host.events("status")
        assert len(statuses) == 4  # every 250 ms
        times = [s["device_time_ms"] for s in statuses]
        assert times == [250, 500, 750, 1000]
        assert [s.seq for s in statuses] == list(range(statuses[0].seq, statuses[0].seq + 4))

    sim_run(test, "status_period_ms=250")


def test_the_simulator_defaults_are_the_reference_model() -> None:
    from firmware_protocol.rules import REFERENCE_MODEL
    from sims.config import DeviceConfig

    config = DeviceConfig()
    for dose in (0, 1000, 10_000, 200_000):
        assert config.physics.plunger_s(dose, 200_000) * 1000 == pytest.approx(REFERENCE_MODEL.stroke_ms(dose, 200_000))
    assert config.physics.motor_speed_um_s == REFERENCE_MODEL.depth_speed_um_s
    assert config.physics.prime_rate_nl_s == REFERENCE_MODEL.prime_rate_nl_s
    assert (config.boot_depth_um, config.boot_dose_nl, config.boot_rate_mhz, config.boot_mode) == (
        REFERENCE_MODEL.power_on_depth_um,
        REFERENCE_MODEL.power_on_dose_nl,
        REFERENCE_MODEL.power_on_rate_mhz,
        REFERENCE_MODEL.power_on_mode,
    )
