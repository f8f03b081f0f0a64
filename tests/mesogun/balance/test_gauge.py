"""The depth gauge driver (mesogun.balance.gauge) against the simulated dial indicator: readings, identity, errors,
and the coupling to an in-process simulated gun by serial number."""

from __future__ import annotations

from typing import Any, cast

import pytest

from mesogun.balance.errors import BalanceTimeout, GaugeDisconnected, GaugeReadError, GaugeTimeout
from mesogun.balance.gauge import GaugeIdentity, open_gauge
from mesogun.errors import ParameterError
from mesogun.testing import sim_gun
from sims.device import SimulatedGun


class Needle:
    """A stand-in for a simulated gun's true needle depth (SimulatedGun.true_needle_depth_um)."""

    def __init__(self, depth_um: float) -> None:
        self.depth_um = depth_um

    def true_needle_depth_um(self) -> float:
        return self.depth_um


def test_reads_depth_and_identity(virtual: Any) -> None:
    async def scenario() -> None:
        needle = Needle(1580.0)
        async with await open_gauge("sim-gauge://?noise_um=0&serial=G7", simulated_gun=cast(Any, needle)) as gauge:
            assert await gauge.identify() == GaugeIdentity("SIM-DI-127", "G7", "1.0", 0.001, 12.7)
            assert await gauge.read_mm() == pytest.approx(1.580)
            needle.depth_um = 2080.4
            assert await gauge.read_mm() == pytest.approx(2.080)
            needle.depth_um = -20.0  # the tip above the contact face
            with pytest.raises(GaugeReadError, match="answered '\\?' with 'ERR 2 out of range'"):
                await gauge.read_mm()

    virtual(scenario)


def test_silence_and_disconnect(virtual: Any) -> None:
    async def scenario() -> None:
        gauge = await open_gauge("sim-gauge://", reply_timeout_s=1)
        assert gauge.simulator is not None
        gauge.simulator.gauge.detach()
        with pytest.raises(GaugeTimeout, match="no reply from the depth gauge at sim-gauge:// to '\\?' within 1 s"):
            await gauge.read_mm()
        assert issubclass(GaugeTimeout, BalanceTimeout)
        gauge.simulator.unplug()
        with pytest.raises(GaugeDisconnected):
            await gauge.read_mm()
        await gauge.close()

    virtual(scenario)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sim://", "is a simulated gun; a simulated depth gauge is sim-gauge://"),
        ("sim-gauge://?noise_um=-1", "noise_um=-1 is out of range"),
        ("sim-gauge://?gun=NOSUCH", "gun=NOSUCH names no simulated gun running in this process"),
    ],
)
def test_bad_urls(virtual: Any, url: str, message: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ParameterError, match=message):
            await open_gauge(url)

    virtual(scenario)


@pytest.mark.skipif(
    not hasattr(SimulatedGun, "true_needle_depth_um"), reason="SimulatedGun.true_needle_depth_um is not in yet"
)
def test_reads_a_simulated_guns_true_depth(virtual: Any) -> None:
    """The gauge found by the gun's serial number (sim-gauge://?gun=…) reads the gun's hidden truth."""

    async def scenario() -> None:
        async with sim_gun("serial=SIMD0001") as (gun, sim):
            await gun.configure(depth_mm=1.5)
            async with await open_gauge("sim-gauge://?gun=SIMD0001&noise_um=0") as gauge:
                truth_um = cast(Any, sim.device).true_needle_depth_um()
                assert await gauge.read_mm() == pytest.approx(truth_um / 1000, abs=0.001)

    virtual(scenario)
