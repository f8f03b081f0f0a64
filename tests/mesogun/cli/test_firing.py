"""arm_fire_disarm: the count the progress counts to is the one the device acknowledged."""

from __future__ import annotations

from typing import Any

from mesogun.cli.firing import arm_fire_disarm
from mesogun.testing import sim_gun


def test_the_acknowledged_count_is_reported_single_mode_one(virtual: Any) -> None:
    """Asked for 3 in single mode, the device acknowledges 1 and fires 1: on_ack gets 1, one shot comes back."""

    async def scenario() -> tuple[list[int], int]:
        async with sim_gun() as (gun, _):
            await gun.load_syringe(capacity_ml=5, fill_ml=5)
            await gun.prime(volume_ml=0.1)
            await gun.configure(mode="single")
            acks: list[int] = []
            shots = await arm_fire_disarm(gun, 3, lambda shot: None, on_ack=acks.append)
            return acks, len(shots)

    assert virtual(scenario) == ([1], 1)
