"""The simulated balance (sims.balance) spoken to in raw MT-SICS lines, in process and in virtual time: every reply,
settling, noise, readability, drift, evaporation, buoyancy, over/underload, and weighing what a gun truly delivers."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

import pytest

from mesogun.testing import sim_gun
from sims.balance import (
    BalanceConfig,
    InProcessBalance,
    air_density_g_ml,
    parse_balance_query,
    start_inprocess_balance,
)
from sims.errors import SimConfigError
from sims.vessel import water_density_mg_ul


class Line:
    """A host at the balance's in-process connection, sending command lines and reading reply lines."""

    def __init__(self, sim: InProcessBalance) -> None:
        self.sim = sim
        self.buffer = b""

    async def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("ascii") + b"\r\n"
        await self.sim.connection.write(data)

    async def reply(self) -> str:
        while b"\r\n" not in self.buffer:
            chunk = await self.sim.connection.read()
            assert chunk, "the balance's line closed"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode("ascii")

    async def ask(self, line: str | bytes) -> str:
        await self.send(line)
        return await self.reply()


def grams(reply: str) -> float:
    return float(reply.split()[2])


def test_identity_commands_and_errors(virtual: Any) -> None:
    async def scenario() -> None:
        sim = start_inprocess_balance("model=XPR205&serial_number=B123&firmware=3.1&seed=1")
        line = Line(sim)
        assert await line.ask("I2") == 'I2 A "XPR205 Excellence 220.00000 g"'
        assert await line.ask("I3") == 'I3 A "3.1"'
        assert await line.ask("I4") == 'I4 A "B123"'
        assert await line.ask("@") == 'I4 A "B123"'
        assert await line.ask("XYZ") == "ES"  # unknown command
        assert await line.ask("S 5") == "EL"  # known, with a parameter it does not take
        assert await line.ask(b"S\xff\r\n") == "ET"  # garbled bytes
        assert await line.ask(b"S" * 70) == "ET"  # too long without a line end
        assert (await line.ask("S")).startswith("S S ")  # and it still works
        sim.balance.fail_next("EL")
        assert await line.ask("S") == "EL"
        sim.close()

    virtual(scenario)


def test_zero_tare_and_readability(virtual: Any) -> None:
    """Readings are on the display's grid, with as many decimals as the readability; T answers the tare."""

    async def scenario() -> None:
        sim = start_inprocess_balance("seed=2&readability_mg=0.1&noise_mg=0&load_g=1.23456")
        line = Line(sim)
        assert await line.ask("S") == "S S     1.2346 g"
        assert await line.ask("T") == "T S     1.2346 g"
        assert await line.ask("S") == "S S     0.0000 g"
        assert await line.ask("Z") == "Z A"  # within the zero range: zeroing clears the tare
        assert await line.ask("SI") == "S S     0.0000 g"
        sim.close()

    virtual(scenario)


def test_settling_s_waits_si_answers_dynamic(virtual: Any) -> None:
    """After a load change SI shows the weight moving (S D); S waits until it is stable, settle_s later."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        sim = start_inprocess_balance("seed=3&settle_s=4&noise_mg=0")
        line = Line(sim)
        assert await line.ask("S") == "S S    0.00000 g"  # zeroed at power-on with the vessel on the pan
        changed = loop.time()
        sim.balance.vessel.receive(20_000)  # 20 µL lands
        await asyncio.sleep(1.0)
        moving = await line.ask("SI")
        assert moving.startswith("S D ")
        assert 0 < grams(moving) < 0.0199
        stable = await line.ask("S")
        assert loop.time() == pytest.approx(changed + 4.0)
        assert stable.startswith("S S ")
        assert grams(stable) == pytest.approx(20 * water_density_mg_ul(20) * sim.balance.buoyancy / 1000, abs=2e-5)
        sim.close()

    virtual(scenario)


def test_a_noisy_balance_never_settles(virtual: Any) -> None:
    """Noise above the stability band: S waits stability_wait_s then says S I; with unstable_reply=D it says S D."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        sim = start_inprocess_balance("seed=4&noise_mg=0.5&stability_wait_s=3")
        line = Line(sim)
        start = loop.time()
        assert await line.ask("S") == "S I"
        assert loop.time() == pytest.approx(start + 3)
        assert await line.ask("Z") == "Z I"
        assert await line.ask("T") == "T I"
        assert (await line.ask("SI")).startswith("S D ")
        sim.close()
        dynamic = Line(start_inprocess_balance("seed=4&noise_mg=0.5&unstable_reply=D"))
        assert (await dynamic.ask("S")).startswith("S D ")
        dynamic.sim.close()

    virtual(scenario)


def test_commands_queue_behind_a_waiting_s_and_reset_cancels_them(virtual: Any) -> None:
    async def scenario() -> None:
        sim = start_inprocess_balance("seed=5&noise_mg=0.5&stability_wait_s=60")
        line = Line(sim)
        await line.send("S")
        await line.send("I4")
        await asyncio.sleep(1)
        assert line.buffer == b""  # both wait
        assert await line.ask("@") == 'I4 A "B900000001"'  # @ overtakes, cancels S and the queued I4
        await asyncio.sleep(120)
        assert await line.ask("I3") == 'I3 A "2.40.1"'  # nothing else came in between
        sim.close()

    virtual(scenario)


@pytest.mark.parametrize(
    ("query", "s_reply", "z_reply", "t_reply"),
    [
        ("load_g=300", "S +", "Z +", "T +"),  # more than the 220 g capacity
        ("load_g=-5", "S -", "Z -", "T -"),  # the pan lifted: below the initial zero
    ],
)
def test_overload_and_underload(virtual: Any, query: str, s_reply: str, z_reply: str, t_reply: str) -> None:
    async def scenario() -> None:
        sim = start_inprocess_balance(query)
        line = Line(sim)
        assert await line.ask("S") == s_reply
        assert await line.ask("SI") == s_reply
        assert await line.ask("Z") == z_reply
        assert await line.ask("T") == t_reply
        sim.close()

    virtual(scenario)


def test_zero_range_refuses_a_large_load_but_tare_takes_it(virtual: Any) -> None:
    async def scenario() -> None:
        sim = start_inprocess_balance("noise_mg=0&load_g=50")
        line = Line(sim)
        assert await line.ask("Z") == "Z +"  # 50 g is beyond ±2 % of 220 g around the initial zero
        assert await line.ask("T") == "T S   50.00000 g"
        sim.close()

    virtual(scenario)


def test_noise_is_gaussian_and_the_same_under_the_same_seed(virtual: Any) -> None:
    async def readings(query: str) -> list[float]:
        sim = start_inprocess_balance(query)
        line = Line(sim)
        values = [grams(await line.ask("S")) for _ in range(200)]
        sim.close()
        return values

    async def scenario() -> None:
        first = await readings("seed=7&noise_mg=0.02")
        assert first == await readings("seed=7&noise_mg=0.02")
        assert first != await readings("seed=8&noise_mg=0.02")
        assert statistics.stdev(first) * 1000 == pytest.approx(0.02, rel=0.2)  # mg
        assert all(round(v * 1e5) == pytest.approx(v * 1e5, abs=1e-6) for v in first)  # on the 0.01 mg grid

    virtual(scenario)


def test_drift_and_evaporation_show_over_time(virtual: Any) -> None:
    async def scenario() -> None:
        drifting = start_inprocess_balance("noise_mg=0&drift_mg_min=0.06&evaporation_mg_s=0")
        line = Line(drifting)
        await asyncio.sleep(600)
        assert grams(await line.ask("S")) == pytest.approx(0.0006, abs=1e-5)  # 0.06 mg/min for 10 min
        assert await line.ask("Z") == "Z A"
        assert grams(await line.ask("S")) == 0.0
        drifting.close()

        evaporating = start_inprocess_balance("noise_mg=0&settle_s=0&evaporation_mg_s=0.01")
        line = Line(evaporating)
        evaporating.balance.vessel.receive(20_000)
        before = grams(await line.ask("S"))
        await asyncio.sleep(100)
        after = grams(await line.ask("S"))
        assert (before - after) * 1000 == pytest.approx(1.0 * evaporating.balance.buoyancy, abs=0.011)  # 0.01 mg/s
        await asyncio.sleep(10_000)
        assert grams(await line.ask("S")) == 0.0  # all gone, never below the empty vessel
        evaporating.close()

    virtual(scenario)


def test_buoyancy_makes_reading_times_z_the_true_volume() -> None:
    """ISO 8655-6's Z factor at 20 °C and 1013 hPa is 1.0029 µL/mg: the displayed mass of 1 µL of water × Z = 1 µL."""
    rho_air = air_density_g_ml(20, 1013.25, 50)
    rho_water = water_density_mg_ul(20)
    assert rho_water == pytest.approx(0.99821, abs=1e-5)
    assert rho_air == pytest.approx(0.0012, abs=1e-5)
    z = (1 - rho_air / 8.0) / (rho_water - rho_air)
    assert z == pytest.approx(1.0029, abs=1e-4)
    buoyancy = (1 - rho_air / rho_water) / (1 - rho_air / 8.0)
    assert rho_water * buoyancy * z == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("noise_mg=abc", "noise_mg=abc is not a number"),
        ("capacity_g=0", "capacity_g=0 is out of range"),
        ("unstable_reply=X", "unstable_reply=X is not a reply: allowed I or D"),
        ("colour=red", "colour=red is not a balance option"),
        ("seed=1&seed=2", "seed=1,2 is given more than once"),
    ],
)
def test_bad_options_name_option_and_value(query: str, message: str) -> None:
    with pytest.raises(SimConfigError, match=message):
        parse_balance_query(query)


def test_defaults_are_a_semi_micro_balance() -> None:
    config = parse_balance_query("")
    assert config == BalanceConfig()
    assert (config.model, config.capacity_g, config.readability_g) == ("XPR205", 220.0, 0.00001)


def test_gun_option_needs_a_live_gun(virtual: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(SimConfigError, match="gun=NOSUCH names no simulated gun running in this process"):
            start_inprocess_balance("gun=NOSUCH")

    virtual(scenario)


def test_the_vessel_weighs_what_the_gun_truly_delivered(virtual: Any) -> None:
    """10 shots of 20 µL from a gun with the default hidden gain (1.03) weigh 10 × 20 µL × 1.03 × ρ(20 °C), shown
    with air buoyancy, less a little evaporation; found by the gun's serial number (sim-balance://?gun=…)."""

    async def scenario() -> None:
        async with sim_gun("serial=SIMBAL01&seed=1") as (gun, _sim):
            await gun.load_syringe(capacity_ml=5, fill_ml=5)
            await gun.prime(volume_ml=0.1)  # before the vessel is under the needle
            await gun.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=5, mode="burst")
            await gun.arm()
            sim = start_inprocess_balance("gun=SIMBAL01&seed=1&evaporation_mg_s=0.001")
            line = Line(sim)
            assert (await line.ask("T")).startswith("T S ")
            await gun.fire(count=10)
            await gun.disarm()
            weighed_mg = grams(await line.ask("S")) * 1000
            assert sim.balance.vessel.received_nl == 10 * round(20_000 * 1.03)
            expected = 10 * 20 * 1.03 * water_density_mg_ul(20) * sim.balance.buoyancy
            assert weighed_mg == pytest.approx(expected, rel=5e-4)  # evaporation and noise: < 0.05 %
            sim.close()
            await gun.prime(volume_ml=0.01)
            assert sim.balance.vessel.received_nl == 10 * round(20_000 * 1.03)  # closed: no longer under the needle

    virtual(scenario)
