"""CalibrationPort over a Gun on the in-process simulator: read, write (refused while armed, out of bounds, or on
a device without the family, the device unchanged), the measurement moves, and calibration ids in info and shots,
judged by the device's snapshot and the simulator's ground truth, not by host state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import mesogun
from mesogun import json_forms
from mesogun.calibration.device import CalibrationPort, DeviceCalibration
from mesogun.errors import IncompatibleDevice, ParameterError, StateError
from mesogun.testing import sim_gun
from mesogun.transports.sim import SimTransport
from sims.nvm import FACTORY_CALIBRATION

CALIBRATED = DeviceCalibration(
    calibration_id=0,  # ignored: the device assigns it
    volume_gain_by_brand={"BD": 1.03, "Terumo": 0.97},
    depth_offset_um=80,
    depth_gain=1.0,
    rate_gain=1.0,
    calibrated_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
    due_at=datetime(2027, 1, 5, tzinfo=UTC),
    technician="A. Tech",
    certificate_id="CAL-2026-001",
)


async def ready(gun: Any, port: CalibrationPort, brand: str = "BD") -> None:
    await gun.load_syringe(capacity_ml=5, fill_ml=5)
    await port.set_syringe_brand(brand)
    await gun.prime(volume_ml=0.02)
    await gun.configure(depth_mm=2.0, dose_ml=0.02, rate_hz=10.0, mode="burst")


def test_read_and_write_round_trip_and_the_device_gives_the_id(virtual: Any) -> None:
    async def main() -> None:
        async with sim_gun() as (gun, sim):
            port = CalibrationPort(gun)
            factory = await port.read()
            assert factory == DeviceCalibration.factory()
            applied = await port.write(CALIBRATED)
            assert applied.calibration_id == 1
            assert applied == DeviceCalibration(**{**CALIBRATED.__dict__, "calibration_id": 1})
            assert dict(applied.volume_gain_by_brand) == {"BD": 1.03, "Terumo": 0.97}
            assert await port.read() == applied
            assert sim.device.snapshot().calibration.calibration_id == 1
            assert (await port.write(CALIBRATED)).calibration_id == 2

    virtual(main)


def test_a_write_while_armed_is_refused_before_sending_and_the_device_is_unchanged(virtual: Any) -> None:
    async def main() -> None:
        async with sim_gun() as (gun, sim):
            port = CalibrationPort(gun)
            await ready(gun, port)
            await gun.arm()
            with pytest.raises(StateError, match="write_calibration"):
                await port.write(CALIBRATED)
            snap = sim.device.snapshot()
            assert snap.calibration == FACTORY_CALIBRATION and snap.refused.get("write_calibration", 0) == 0

    virtual(main)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"volume_gain_by_brand": {"BD": 1.25}}, "volume_gain_by_brand[BD]"),
        ({"depth_offset_um": -501}, "depth_offset_um"),
        ({"depth_gain": 0.79}, "depth_gain"),
        ({"rate_gain": float("nan")}, "rate_gain"),
        ({"volume_gain_by_brand": {"": 1.0}}, "volume_gain_by_brand[]"),
        ({"technician": "x" * 65}, "technician"),
    ],
)
def test_out_of_bounds_is_a_parameter_error_naming_the_field_and_nothing_is_sent(
    virtual: Any, change: dict[str, Any], field: str
) -> None:
    async def main() -> None:
        async with sim_gun() as (gun, sim):
            bad = DeviceCalibration(**{**CALIBRATED.__dict__, **change})
            with pytest.raises(ParameterError) as caught:
                await CalibrationPort(gun).write(bad)
            assert caught.value.field == field and field in str(caught.value)
            assert sim.device.snapshot().executed.get("write_calibration", 0) == 0

    virtual(main)


def test_a_device_without_the_calibration_family_is_refused_naming_it(virtual: Any) -> None:
    async def main() -> None:
        async with sim_gun("calibration_fingerprint=0x12345678") as (gun, sim):
            with pytest.raises(IncompatibleDevice, match="calibration family"):
                await CalibrationPort(gun).read()
            assert sim.device.snapshot().executed.get("get_calibration", 0) == 0

    virtual(main)


def test_deliver_after_calibration_truly_delivers_the_dose_and_shots_carry_the_id(virtual: Any) -> None:
    async def main() -> None:
        async with sim_gun("volume_gain=1.03&volume_gain.Terumo=0.97") as (gun, sim):
            port = CalibrationPort(gun)
            applied = await port.write(CALIBRATED)
            await ready(gun, port, "Terumo")
            await gun.arm()
            before = len(sim.device.shot_log)
            shots = await port.deliver(20, dose_ml=0.01, rate_hz=5.0)
            assert shots.fired == 20 and len(shots) == 20
            assert {s.dose_ml for s in shots} == {0.01} and {s.calibration_id for s in shots} == {
                applied.calibration_id
            }
            truth = sim.device.shot_log[before:]
            assert sum(t.dose_nl for t in truth) == pytest.approx(20 * 10_000, rel=1e-3)
            assert gun.status.settings.dose_ml == pytest.approx(0.02), "the set dose stays"
            assert json_forms.shot_fields(shots[0])["calibration_id"] == applied.calibration_id

    virtual(main)


def test_hold_depth_waits_for_the_needle_and_release_ends_it(virtual: Any) -> None:
    async def main() -> None:
        async with sim_gun("depth_offset_um=80") as (gun, sim):
            port = CalibrationPort(gun)
            await port.hold_depth(3.0)
            assert abs(sim.device.true_needle_depth_um() - 3080) < 1e-6, "uncalibrated: 80 µm deeper"
            await port.write(CALIBRATED)
            await port.hold_depth(3.0)
            assert abs(sim.device.true_needle_depth_um() - 3000) <= 1
            assert gun.status.needle_depth_um == 3000
            await port.release_depth()
            assert sim.device.snapshot().held_depth_um is None
            with pytest.raises(ParameterError, match="depth_mm"):
                await port.hold_depth(4.5)

    virtual(main)


def test_identity_shows_the_calibration_in_force_at_connect(virtual: Any) -> None:
    async def main() -> None:
        async with sim_gun() as (gun, sim):
            assert gun.info.calibration_id == 0
            await CalibrationPort(gun).write(CALIBRATED)
            await gun.close()
            async with mesogun.connect(SimTransport.attach(sim)) as again:
                assert again.info.calibration_id == 1
                fields = json_forms.info_fields(again.info)
                assert fields["calibration_id"] == 1 and json_forms.info_from(fields).calibration_id == 1

    virtual(main)
