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
    expected = ["gun.json", "gun.json.flash", "gun.json.shots.jsonl"]
    assert files == expected, "no temp file left behind (the shot log and the program flash sit beside it)"

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


def test_two_simulators_have_distinct_serials_and_hardware_ids_unless_given_one(virtual):
    async def main():
        first, second, fixed = await start_inprocess(), await start_inprocess(), await start_inprocess("serial=SIMX")
        try:
            a, b = first.device.identity, second.device.identity
            assert a["serial_number"] != b["serial_number"] and a["serial_number"].startswith("SIM-")
            assert a["hardware_id"] != b["hardware_id"] and len(a["hardware_id"]) == 24
            assert a["counter_epoch"] != 0 and b["counter_epoch"] != 0
            assert fixed.device.identity["serial_number"] == "SIMX"
        finally:
            for sim in (first, second, fixed):
                await sim.close()

    virtual(main)


def test_identity_survives_a_restart_and_a_counter_reset_draws_a_new_epoch(tmp_path, virtual):
    nvm = tmp_path / "gun.json"

    async def main():
        sim = await start_inprocess(f"nvm={nvm}&lifetime_shots=7")
        before = sim.device.identity
        await sim.close()
        again = await start_inprocess(f"nvm={nvm}")
        same = again.device.identity
        assert (same["serial_number"], same["hardware_id"], same["counter_epoch"]) == (
            before["serial_number"],
            before["hardware_id"],
            before["counter_epoch"],
        )
        assert again.device.shots_lifetime == 7
        again.device.reset_lifetime_counter()
        reset = again.device.identity
        assert again.device.shots_lifetime == 0 and reset["hardware_id"] == before["hardware_id"]
        assert reset["counter_epoch"] != before["counter_epoch"]
        assert json.loads(nvm.read_text())["counter_epoch"] == reset["counter_epoch"]
        await again.close()

    virtual(main)


def test_an_nvm_file_from_before_hardware_ids_gains_them_once(tmp_path, virtual):
    nvm = tmp_path / "gun.json"
    old = {"format": 1, "serial_number": "OLD1", "hardware_revision": "SIM-A", "shots_lifetime": 4}
    nvm.write_text(json.dumps({**old, "volume_gain": 1.0, "depth_offset_um": 0}))

    async def main():
        sim = await start_inprocess(f"nvm={nvm}")
        identity = sim.device.identity
        await sim.close()
        assert identity["serial_number"] == "OLD1" and sim.device.shots_lifetime == 4
        saved = json.loads(nvm.read_text())
        assert (saved["hardware_id"], saved["counter_epoch"]) == (identity["hardware_id"], identity["counter_epoch"])

    virtual(main)
