"""The calibration family on the simulated gun, over the wire: the device calibration in NVM (written atomically,
kept through brown-outs and restarts, refused while armed or firing or out of bounds, whatever the host), and the
hidden truth it corrects (volume per syringe brand, depth, rate), judged against the simulator's ground truth."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from sims.inprocess import start_inprocess
from sims.nvm import FACTORY_CALIBRATION

FACTORY_PPM = 1_000_000


def calibration(**changes):
    """Valid ``write_calibration`` fields (volume +3 % for BD, depth +80 µm), with ``changes``."""
    fields = {
        "volume_gains": [{"brand": "BD", "gain_ppm": 1_030_000}],
        "depth_offset_um": 80,
        "depth_gain_ppm": FACTORY_PPM,
        "rate_gain_ppm": FACTORY_PPM,
        "calibrated_at": 1_767_225_600,
        "due_at": 1_798_761_600,
        "technician": "A. Tech",
        "certificate_id": "CAL-2026-001",
    }
    return {**fields, **changes}


async def write(host, **changes):
    return await host.request("write_calibration", **calibration(**changes))


def test_factory_calibration_is_the_identity_with_id_0(sim_run):
    async def test(sim, host):
        identity = await host.request("hello")
        assert identity["calibration_id"] == 0
        reply = await host.request("get_calibration")
        assert reply.name == "calibration"
        assert reply["calibration_id"] == 0 and reply["volume_gains"] == []
        assert (reply["depth_offset_um"], reply["depth_gain_ppm"], reply["rate_gain_ppm"]) == (0, 1_000_000, 1_000_000)
        assert sim.device.snapshot().calibration == FACTORY_CALIBRATION

    sim_run(test)


def test_a_write_gets_the_next_id_and_shows_in_identity_and_every_shot(sim_run):
    async def test(sim, host):
        await host.request("hello")
        first = await write(host)
        assert first.name == "calibration" and first["calibration_id"] == 1
        assert first["volume_gains"] == [{"brand": "BD", "gain_ppm": 1_030_000}]
        second = await write(host, depth_offset_um=-40, technician="B. Tech")
        assert second["calibration_id"] == 2 and second["depth_offset_um"] == -40
        assert (await host.request("get_calibration")).fields == second.fields
        assert (await host.request("hello"))["calibration_id"] == 2
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=3)
        await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == 3)
        assert {s["calibration_id"] for s in host.events("shot")} == {2}
        log = await host.request("get_shot_log", from_index=1, count=3)
        assert [e["calibration_id"] for e in log["entries"]] == [2, 2, 2]

    sim_run(test)


@pytest.mark.parametrize("state", ["armed", "firing", "priming"])
def test_a_write_while_armed_firing_or_priming_is_refused_and_changes_nothing(sim_run, state):
    async def test(sim, host):
        await host.ready_to_fire(mode="continuous")
        host.start_heartbeat()
        if state == "firing":
            await host.request("fire", count=0)
        elif state == "priming":
            await host.request("disarm")
            await host.request("prime", volume_nl=50_000)
        before = sim.device.snapshot()
        assert before.state.json_name == state
        writes = sim.device.nvm.writes
        reply = await write(host)
        assert host.code(reply) == ("busy" if state == "priming" else "wrong_state")
        assert state in reply["detail"]
        after = sim.device.snapshot()
        assert (after.calibration, after.next_calibration_id) == (FACTORY_CALIBRATION, 1)
        assert sim.device.nvm.writes == writes or state == "firing"  # firing writes only the lifetime counter
        assert (await host.request("get_calibration"))["calibration_id"] == 0

    sim_run(test)


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"volume_gains": [{"brand": "BD", "gain_ppm": 1_300_000}]}, ["volume_gains[BD].gain_ppm=1300000", "1200000"]),
        ({"volume_gains": [{"brand": "BD", "gain_ppm": 700_000}]}, ["gain_ppm=700000 ppm below min 800000 ppm"]),
        ({"depth_offset_um": 501}, ["depth_offset_um=501 µm above max 500 µm"]),
        ({"depth_offset_um": -600}, ["depth_offset_um=-600 µm below min -500 µm"]),
        ({"depth_gain_ppm": 1_250_000}, ["depth_gain_ppm=1250000 ppm above max"]),
        ({"rate_gain_ppm": 0}, ["rate_gain_ppm=0 ppm below min 800000 ppm"]),
        ({"volume_gains": [{"brand": "", "gain_ppm": 1_000_000}]}, ["volume_gains[0].brand is empty"]),
        (
            {"volume_gains": [{"brand": "BD", "gain_ppm": 1_000_000}, {"brand": "BD", "gain_ppm": 1_010_000}]},
            ["volume_gains[1].brand='BD' is listed twice"],
        ),
        ({"volume_gains": [{"brand": f"B{i}", "gain_ppm": 1_000_000} for i in range(17)]}, ["17 brands", "max 16"]),
        ({"technician": "x" * 65}, ["technician is 65 bytes, above max 64 bytes"]),
    ],
)
def test_out_of_bounds_is_refused_by_the_device_itself(sim_run, changes, needles):
    """Sent raw (no host checks): the device enforces its own bounds and changes nothing."""

    async def test(sim, host):
        await host.request("hello")
        writes = sim.device.nvm.writes
        reply = await write(host, **changes)
        assert host.code(reply) == "out_of_range"
        for needle in needles:
            assert needle in reply["detail"]
        assert sim.device.snapshot().calibration == FACTORY_CALIBRATION and sim.device.nvm.writes == writes

    sim_run(test)


def test_the_calibration_survives_a_brownout_and_a_restart(sim_run, tmp_path):
    nvm = tmp_path / "gun.json"

    async def write_then_brownout(sim, host):
        await host.request("hello")
        written = await write(host)
        sim.device.brownout()
        await asyncio.sleep(0.1)
        assert (await host.request("get_calibration")).fields == written.fields
        assert sim.device.snapshot().boots == 2
        assert (await write(host, due_at=0))["calibration_id"] == 2

    sim_run(write_then_brownout, f"nvm={nvm}")
    stored = json.loads(nvm.read_text())
    assert stored["calibration"]["calibration_id"] == 2 and stored["next_calibration_id"] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == [], "no temp file left behind"

    async def after_restart(sim, host):
        assert (await host.request("hello"))["calibration_id"] == 2
        reply = await host.request("get_calibration")
        assert (reply["calibration_id"], reply["due_at"], reply["depth_offset_um"]) == (2, 0, 80)
        assert (await write(host))["calibration_id"] == 3, "an id is never given twice"

    sim_run(after_restart, f"nvm={nvm}")


def test_an_nvm_file_from_before_calibrations_loads_as_factory(tmp_path, virtual):
    nvm = tmp_path / "gun.json"

    async def make_file():
        sim = await start_inprocess(f"nvm={nvm}")
        await sim.close()

    virtual(make_file)
    old = json.loads(nvm.read_text())
    del old["calibration"], old["next_calibration_id"]
    nvm.write_text(json.dumps({**old, "volume_gain": 1.03, "depth_offset_um": 80}))  # the old hidden error

    async def load():
        sim = await start_inprocess(f"nvm={nvm}")
        try:
            snap = sim.device.snapshot()
            assert (snap.calibration, snap.next_calibration_id) == (FACTORY_CALIBRATION, 1)
            assert sim.device.identity["calibration_id"] == 0
        finally:
            await sim.close()

    virtual(load)


def test_after_writing_the_gain_for_a_brand_100_shots_of_20_ul_truly_deliver_20_ul(sim_run):
    """Ground truth (what a balance would weigh): uncalibrated +3 %; calibrated for BD, 20 µL ± 0.1 %; another
    brand with its own hidden error keeps it until calibrated for it too."""

    async def fire_100(sim, host, brand):
        await host.request("disarm")
        await host.request("load_syringe", capacity_nl=5_000_000, fill_nl=5_000_000)
        assert (await host.request("set_syringe_brand", brand=brand)).name == "ack"
        await host.request("prime", volume_nl=20_000)
        await asyncio.sleep(1)
        await host.request("arm")
        before, last = len(sim.device.shot_log), sim.device.shots_lifetime + 100
        await host.request("fire", count=100)
        start = len(host.messages)
        await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == last, start=start)
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed", start=start)
        truth = sim.device.shot_log[before:]
        assert len(truth) == 100 and {t.set_dose_nl for t in truth} == {20_000}
        return sum(t.dose_nl for t in truth) / 100

    async def test(sim, host):
        await host.ready_to_fire(mode="burst", dose_nl=20_000, rate_mhz=10_000)
        host.start_heartbeat()
        assert await fire_100(sim, host, "BD") == pytest.approx(20_600, rel=1e-3), "uncalibrated: +3 %"
        await host.request("disarm")
        assert (await write(host))["calibration_id"] == 1
        await host.request("arm")
        assert await fire_100(sim, host, "BD") == pytest.approx(20_000, rel=1e-3)
        assert await fire_100(sim, host, "Terumo") == pytest.approx(19_400, rel=1e-3), "its own error, uncorrected"
        await host.request("disarm")
        gains = [{"brand": "BD", "gain_ppm": 1_030_000}, {"brand": "Terumo", "gain_ppm": 970_000}]
        await write(host, volume_gains=gains)
        await host.request("arm")
        assert await fire_100(sim, host, "Terumo") == pytest.approx(20_000, rel=1e-3)
        assert {s["dose_nl"] for s in host.events("shot")} == {20_000}, "reported: the set dose, always"

    sim_run(test, "volume_gain=1.03&volume_gain.Terumo=0.97")


def test_the_declared_brand_lasts_until_the_next_load(sim_run):
    async def test(sim, host):
        await host.request("hello")
        await host.request("load_syringe", capacity_nl=2_000_000, fill_nl=2_000_000)
        await host.request("set_syringe_brand", brand="Terumo")
        assert sim.device.snapshot().syringe_brand == "Terumo"
        await host.request("load_syringe", capacity_nl=2_000_000, fill_nl=2_000_000)
        assert sim.device.snapshot().syringe_brand == ""
        reply = await host.request("set_syringe_brand", brand="x" * 33)
        assert host.code(reply) == "out_of_range" and "brand is 33 bytes, above max 32 bytes" in reply["detail"]

    sim_run(test)


def test_depth_after_the_offset_correction_is_within_1_um_of_the_set_depth(sim_run):
    """Uncalibrated the needle is 80 µm deep (and 2 % too far per µm with a depth gain); once the device's
    calibration says so, a held depth and a shot's depth are true to 1 µm, and the reported depth stays the set one."""

    async def test(sim, host):
        await host.request("hello")
        host.start_heartbeat()  # a host that stops talking has its hold released by the device
        device = sim.device
        for depth in (1000, 2500, 4000):
            assert (await host.request("hold_depth", depth_um=depth))["depth_um"] == depth
            await asyncio.sleep(1)
            assert device.snapshot().held_depth_um == depth
            assert device.true_needle_depth_um() == pytest.approx(1.02 * depth + 80)
            assert (await host.request("get_status"))["needle_depth_um"] == depth
        await write(host, depth_offset_um=80, depth_gain_ppm=1_020_000)
        for depth in (1000, 2500, 4000):
            await host.request("hold_depth", depth_um=depth)
            await asyncio.sleep(1)
            assert abs(device.true_needle_depth_um() - depth) <= 1
            assert (await host.request("get_status"))["needle_depth_um"] == depth
        await host.request("release_depth")
        assert device.snapshot().held_depth_um is None
        await host.ready_to_fire(mode="single")
        await host.request("fire", count=1)
        shot = await host.wait_for(lambda m: m.name == "shot")
        assert shot["depth_um"] == 2000 and abs(device.shot_log[-1].depth_um - 2000) <= 1

    sim_run(test, "depth_offset_um=80&depth_gain=1.02")


def test_a_held_depth_is_released_when_the_host_goes_silent_past_the_watchdog_period(sim_run):
    async def test(sim, host):
        await host.request("hello")
        host.start_heartbeat()
        await host.request("hold_depth", depth_um=3000)
        await asyncio.sleep(3)  # a technician reading the gauge, the host's heartbeat going on: held
        assert sim.device.snapshot().held_depth_um == 3000
        await host.stop_heartbeat()
        await asyncio.sleep(1.5)  # the host silent for more than the 1 s watchdog period
        snap = sim.device.snapshot()
        assert snap.held_depth_um is None and snap.last_watchdog_trip is not None
        assert snap.needle_depth_um == 2000  # back at the set depth

    sim_run(test)


def test_a_held_depth_is_released_when_the_host_connection_goes(sim_run):
    async def test(sim, host):
        await host.request("hello")
        host.start_heartbeat()
        await host.request("hold_depth", depth_um=3000)
        await asyncio.sleep(0.5)
        sim.unplug()  # the cable pulled
        await asyncio.sleep(0.5)
        snap = sim.device.snapshot()
        assert snap.held_depth_um is None and snap.needle_depth_um == 2000

    sim_run(test)


def test_hold_depth_is_refused_armed_and_arming_ends_it(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        assert host.code(await host.request("hold_depth", depth_um=3000)) == "wrong_state"
        await host.request("disarm")
        await host.request("hold_depth", depth_um=3000)
        assert host.code(await host.request("hold_depth", depth_um=4100)) == "out_of_range"
        await host.request("arm")
        await asyncio.sleep(1)
        snap = sim.device.snapshot()
        assert snap.held_depth_um is None and snap.needle_depth_um == 2000

    sim_run(test)


def test_the_rate_correction_scales_the_true_period_and_the_device_clock_cannot_see_it(sim_run):
    """A 2 % fast hidden rate: the device's timestamps show the set period either way; the loop's clock (the truth,
    as a host measures it) shows 2 % fast until the rate gain is written, then the set period."""

    async def test(sim, host):
        await host.ready_to_fire(mode="burst", rate_mhz=2000)  # 500 ms
        host.start_heartbeat()
        loop = asyncio.get_running_loop()

        async def span(first: int) -> float:
            """Host-clock seconds from shot ``first`` to shot ``first + 4`` (arrival, as a host measures it)."""
            await host.request("fire", count=5)
            await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == first)
            t0 = loop.time()
            await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == first + 4)
            return loop.time() - t0

        true_span = await span(1)
        shots = host.events("shot")
        assert [b["device_time_ms"] - a["device_time_ms"] for a, b in itertools.pairwise(shots)] == [500] * 4
        assert true_span == pytest.approx(4 * 0.5 / 1.02, rel=1e-3), "truly 2 % fast"
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed", start=len(host.messages))
        await host.request("disarm")
        await write(host, rate_gain_ppm=1_020_000, depth_offset_um=0)  # no depth change: no move before firing
        await host.request("arm")
        assert await span(6) == pytest.approx(4 * 0.5, rel=1e-3), "truly the set rate once corrected"
        later = host.events("shot")[5:]
        assert [b["device_time_ms"] - a["device_time_ms"] for a, b in itertools.pairwise(later)] == [510] * 4

    sim_run(test, "rate_gain=1.02")


def test_deliver_fires_its_own_count_dose_and_rate_and_keeps_the_set_parameters(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(mode="single", dose_nl=10_000, rate_mhz=2000)
        host.start_heartbeat()
        ack = await host.request("deliver", count=4, dose_nl=5_000, rate_mhz=4000)
        assert ack.name == "ack" and (ack["count"], ack["dose_nl"], ack["rate_mhz"]) == (4, 5_000, 4000)
        await host.wait_for(lambda m: m.name == "shot" and m["shot_index"] == 4)
        shots = host.events("shot")
        assert {s["fire_seq"] for s in shots} == {ack.seq} and {s["dose_nl"] for s in shots} == {5_000}
        assert [b["device_time_ms"] - a["device_time_ms"] for a, b in itertools.pairwise(shots)] == [250] * 3
        status = await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed")
        assert (status["dose_nl"], status["rate_mhz"], status["mode"].json_name) == (10_000, 2000, "single")
        refused = await host.request("deliver", count=0, dose_nl=5_000, rate_mhz=4000)
        assert host.code(refused) == "out_of_range" and "count=0 below min 1" in refused["detail"]
        too_much = await host.request("deliver", count=1000, dose_nl=100_000, rate_mhz=1000)
        assert host.code(too_much) == "insufficient_volume"

    sim_run(test)
