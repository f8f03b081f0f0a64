"""Virtual time (``sims.clock``): a burst of simulated minutes runs in a fraction of a second."""

from __future__ import annotations

import asyncio

import pytest


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
