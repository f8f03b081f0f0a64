"""Non-volatile memory across simulator restarts, and virtual time for long bursts."""

from __future__ import annotations

import asyncio
import json

import pytest

from sims.clock import run_virtual
from sims.errors import NvmError
from sims.inprocess import start_inprocess


def test_lifetime_counter_survives_a_restart_of_the_simulator(sim_run, tmp_path):
    nvm = tmp_path / "gun.json"

    async def fire_three(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=3)
        await host.wait_for(
            lambda m: m.name == "status" and m["shots_session"] == 3 and m["state"].json_name == "armed"
        )

    sim_run(fire_three, f"nvm={nvm}&serial=SIMNVM")
    assert json.loads(nvm.read_text())["shots_lifetime"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["gun.json"], "no temp file left behind"

    async def check(sim, host):
        status = await host.request("get_status")
        assert (status["shots_lifetime"], status["shots_session"]) == (3, 0)
        identity = await host.request("hello")
        assert identity["serial_number"] == "SIMNVM"
        await fire_three(sim, host)
        assert sim.device.shots_lifetime == 6
        assert [s["shot_index"] for s in host.events("shot")] == [4, 5, 6]

    sim_run(check, f"nvm={nvm}&serial=OTHER")  # an existing NVM keeps its identity


def test_a_damaged_nvm_file_is_reported_clearly(tmp_path):
    nvm = tmp_path / "gun.json"
    nvm.write_text("{ not json")

    async def main():
        await start_inprocess(f"nvm={nvm}")

    with pytest.raises(NvmError, match="not valid JSON"):
        run_virtual(main)


@pytest.mark.slow
def test_a_1000_shot_burst_at_2_shots_per_second_completes_in_virtual_time(sim_run):
    """Over 8 simulated minutes; asserts the shot count and index contiguity, never wall time."""

    async def test(sim, host):
        loop = asyncio.get_running_loop()
        await host.ready_to_fire(rate_mhz=2000, dose_nl=1000)
        host.start_heartbeat(0.5)
        start = loop.time()
        await host.request("fire", count=1000)
        done = await host.wait_for(
            lambda m: m.name == "status" and m["state"].json_name == "armed" and m["shots_session"] == 1000,
            timeout=1000,
        )
        shots = host.events("shot")
        assert [s["shot_index"] for s in shots] == list(range(1, 1001))
        assert {s["fire_seq"] for s in shots} == {shots[0]["fire_seq"]}
        assert done["shots_lifetime"] == 1000
        assert 499 <= loop.time() - start <= 501  # simulated seconds: 999 periods of 0.5 s
        assert host.alarms_raised() == []

    sim_run(test)
