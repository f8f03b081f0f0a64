"""The simulated dial indicator (sims.gauge): it reads a depth source's true needle depth on its line protocol."""

from __future__ import annotations

from typing import Any

import pytest

from sims.errors import SimConfigError
from sims.gauge import GaugeConfig, SimulatedGauge, parse_gauge_options, start_inprocess_gauge


class Needle:
    """A stand-in for SimulatedGun.true_needle_depth_um: where the needle tip truly is."""

    def __init__(self, depth_um: float) -> None:
        self.depth_um = depth_um

    def true_needle_depth_um(self) -> float:
        return self.depth_um


async def ask(sim: Any, line: str) -> str:
    await sim.connection.write(line.encode() + b"\r\n")
    return (await sim.connection.read()).decode().strip()


def test_reads_the_true_depth_on_its_grid(virtual: Any) -> None:
    async def scenario() -> None:
        needle = Needle(1580.4)
        sim = start_inprocess_gauge("noise_um=0&serial=G42", source=needle)
        assert await ask(sim, "?") == "+01.580 mm"
        needle.depth_um = 3080.0
        assert await ask(sim, "?") == "+03.080 mm"
        assert await ask(sim, "ID?") == "ID SIM-DI-127,G42,1.0,0.001,12.7"
        assert await ask(sim, "HELLO") == "ERR 1 unknown command"
        needle.depth_um = 13_000
        assert await ask(sim, "?") == "ERR 2 out of range"
        sim.close()

    virtual(scenario)


def test_noise_and_zero_error_are_seeded(virtual: Any) -> None:
    async def scenario() -> None:
        def readings(seed: int) -> list[float]:
            gauge = SimulatedGauge(GaugeConfig(seed=seed, noise_um=2.0, offset_um=10.0), Needle(2000.0))
            return [gauge.reading_mm() for _ in range(100)]

        first = readings(1)
        assert first == readings(1) != readings(2)
        assert sum(first) / len(first) == pytest.approx(2.010, abs=0.001)

    virtual(scenario)


def test_bad_options_and_an_unknown_gun() -> None:
    with pytest.raises(SimConfigError, match="resolution_um=0 is out of range"):
        parse_gauge_options({"resolution_um": ["0"]})
    with pytest.raises(SimConfigError, match="gun=NOPE names no simulated gun"):
        start_inprocess_gauge("gun=NOPE")
