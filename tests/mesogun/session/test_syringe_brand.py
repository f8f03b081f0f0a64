"""A syringe load declares its brand to the gun, so a volume calibration for that brand applies in treatment:
judged by the simulator's ground truth (the volume that truly left the needle), not by the host's numbers."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

import pytest

from mesogun.calibration.device import CalibrationPort, DeviceCalibration
from mesogun.errors import ParameterError
from mesogun.testing import sim_gun
from tests.conftest import Runner

BD_CALIBRATED = DeviceCalibration(
    calibration_id=0,
    volume_gain_by_brand={"BD": 1.03},  # the simulator's default hidden volume error, as a technician measured it
    depth_offset_um=0,
    depth_gain=1.0,
    rate_gain=1.0,
    calibrated_at=datetime(2026, 1, 5, tzinfo=UTC),
    due_at=datetime(2027, 1, 5, tzinfo=UTC),
    technician="T. Tech",
    certificate_id="CAL-1",
)


async def treat(brand: str | None, *, calibrate: bool = True) -> dict[str, Any]:
    """A calibrated gun, a practitioner's load (with ``brand``), 20 shots of 20 µL: the truth of each, and the load."""
    async with sim_gun() as (gun, sim):
        if calibrate:
            await CalibrationPort(gun).write(BD_CALIBRATED)
        loaded = await gun.load_syringe(capacity_ml=5, brand=brand)
        await gun.prime(volume_ml=0.02)
        await gun.configure(depth_mm=1.0, dose_ml=0.02, rate_hz=5.0, mode="burst")
        await gun.set_burst_count(20)
        await gun.arm()
        before = len(sim.device.shot_log)
        fired = await gun.fire(20)
        await gun.disarm()
        truth = [s.dose_nl / 1000 for s in sim.device.shot_log[before:]]
        return {"loaded": loaded, "truth": truth, "fired": fired, "brand": sim.device.snapshot().syringe_brand}


def error_pct(truth: list[float]) -> float:
    return (statistics.fmean(truth) - 20.0) / 20.0 * 100


def test_a_load_with_the_calibrated_brand_delivers_20_ul_within_0_1_percent(virtual: Runner) -> None:
    found = virtual(lambda: treat("BD"))
    assert len(found["truth"]) == 20
    assert abs(error_pct(found["truth"])) <= 0.1
    assert found["loaded"].brand == "BD" and found["loaded"].warnings == ()
    assert found["brand"] == "BD"


def test_a_load_without_a_brand_is_3_percent_off_and_says_so(virtual: Runner) -> None:
    found = virtual(lambda: treat(None))
    assert abs(error_pct(found["truth"]) - 3.0) < 0.1  # the hidden error, uncorrected
    (warning,) = found["loaded"].warnings
    assert "no syringe brand declared" in warning and "BD" in warning and "not corrected" in warning


def test_a_brand_without_a_volume_gain_warns_and_loads(virtual: Runner) -> None:
    found = virtual(lambda: treat("Terumo"))
    (warning,) = found["loaded"].warnings
    assert "'Terumo' has no volume calibration" in warning and "calibrated for BD" in warning
    assert found["brand"] == "Terumo"


def test_an_uncalibrated_gun_loads_any_brand_without_a_warning(virtual: Runner) -> None:
    found = virtual(lambda: treat("Terumo", calibrate=False))
    assert found["loaded"].warnings == () and found["brand"] == "Terumo"


def test_a_brand_in_another_case_is_refused_naming_the_calibrated_one_and_nothing_is_loaded(virtual: Runner) -> None:
    async def main() -> Any:
        async with sim_gun() as (gun, sim):
            await CalibrationPort(gun).write(BD_CALIBRATED)
            with pytest.raises(ParameterError, match=r"brand='bd'.*BD") as refused:
                await gun.load_syringe(capacity_ml=5, brand="bd")
            return refused.value, sim.device.snapshot()

    error, snap = virtual(main)
    assert error.field == "brand"
    assert snap.syringe_capacity_nl == 0  # nothing loaded
