"""Non-volatile memory (``sims.nvm``): the lifetime counter across simulator restarts, a damaged file."""

from __future__ import annotations

import json

import pytest

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
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["gun.json", "gun.json.shots.jsonl"], "no temp file left behind (the shot log sits beside it)"

    async def check(sim, host):
        status = await host.request("get_status")
        assert (status["shots_lifetime"], status["shots_session"]) == (3, 0)
        identity = await host.request("hello")
        assert identity["serial_number"] == "SIMNVM"
        await fire_three(sim, host)
        assert sim.device.shots_lifetime == 6
        assert [s["shot_index"] for s in host.events("shot")] == [4, 5, 6]

    sim_run(check, f"nvm={nvm}&serial=OTHER")  # an existing NVM keeps its identity


def test_a_damaged_nvm_file_is_reported_clearly(tmp_path, virtual):
    nvm = tmp_path / "gun.json"
    nvm.write_text("{ not json")

    async def main():
        await start_inprocess(f"nvm={nvm}")

    with pytest.raises(NvmError, match="not valid JSON"):
        virtual(main)
