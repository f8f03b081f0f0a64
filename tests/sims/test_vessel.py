"""The vessel (sims.vessel): true volumes in, mass out through water's density, less evaporation over loop time."""

from __future__ import annotations

import pytest

from sims.vessel import Vessel, water_density_mg_ul


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("celsius", "density"), [(15, 0.99910), (20, 0.99821), (25, 0.99705), (30, 0.99565)])
def test_water_density_is_the_reference_tables(celsius: float, density: float) -> None:
    assert water_density_mg_ul(celsius) == pytest.approx(density, abs=1e-5)


def test_mass_from_volume_less_evaporation() -> None:
    clock = Clock()
    vessel = Vessel(clock, container_g=5.0, temperature_c=20.0, evaporation_mg_s=0.002)
    changes: list[float] = []
    vessel.listeners.append(lambda: changes.append(clock.now))
    vessel.receive(20_600)  # nL
    assert vessel.liquid_mg() == pytest.approx(20.6 * 0.998207, rel=1e-6)
    assert vessel.mass_g() == pytest.approx(5.0 + 0.0205631, rel=1e-6)
    clock.now = 100.0
    assert vessel.liquid_mg() == pytest.approx(20.6 * 0.998207 - 0.2, rel=1e-6)
    clock.now = 1e6
    assert vessel.liquid_mg() == 0.0  # dry, not negative
    vessel.receive(1000)
    assert vessel.received_nl == 21_600
    assert changes == [0.0, 1e6]
    vessel.empty()
    assert vessel.liquid_mg() == 0.0
