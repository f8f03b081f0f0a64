"""Calibration runs made by hand for the record's and the certificate's tests: a passed volume run (three test
volumes, several shots per reading at 2 µL), a failed depth run, an aborted rate run, built with the real
metrology from readings a simulated gun with the default hidden error (+3 %, +80 µm) would give."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from mesogun.calibration import metrology
from mesogun.calibration.results import (
    CalibrationKind,
    CalibrationRun,
    ConstantsSnapshot,
    Environment,
    InstrumentIdentity,
    RunOutcome,
    SeriesResult,
    Signature,
)

LAB = Environment(temperature_c=21.4, pressure_hpa=1008.0, humidity_pct=47.0)
STARTED = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
FACTORY = ConstantsSnapshot({}, 0, 1.0, 1.0, 0)
BALANCE = InstrumentIdentity(
    kind="balance",
    model="XPR226DRQ",
    serial_number="B849301277",
    firmware="2.1.4",
    readability=0.00001,
    calibration_due=date(2026, 9, 30),
)
GAUGE = InstrumentIdentity(
    kind="depth gauge",
    model="ID-C112XB",
    serial_number="G-55120",
    firmware="—",
    readability=1.0,
    calibration_due=date(2026, 6, 1),
    readability_unit="µm",
)


def _volume(nominal_ul: float, gain: float, shots: int, seed: int) -> SeriesResult:
    noise = random.Random(seed)
    z = metrology.z_factor(LAB.temperature_c, LAB.pressure_hpa)
    blank = metrology.Evaporation(0.00012, 0.00002)
    readings = [
        round(nominal_ul * shots * gain * (1 + noise.gauss(0, 0.0015)) / z - blank.loss_mg(20.0), 2) for _ in range(10)
    ]
    return metrology.volume_series(
        nominal_ul=nominal_ul,
        readings_mg=readings,
        shots_per_reading=shots,
        environment=LAB,
        cycle_time_s=20.0,
        readability_mg=0.01,
        evaporation=blank,
    )


def volume_passed() -> CalibrationRun:
    as_found = tuple(_volume(v, 1.03, s, seed) for seed, (v, s) in enumerate(((20.0, 1), (10.0, 1), (2.0, 10))))
    gain = metrology.corrected_volume_gain(1.0, as_found, brand="BD")
    as_left = tuple(
        _volume(v, 1.03 / gain, s, seed + 10) for seed, (v, s) in enumerate(((20.0, 1), (10.0, 1), (2.0, 10)))
    )
    return CalibrationRun(
        run_id="run-2026-03-02-0915-SIM0001",
        kind=CalibrationKind.VOLUME,
        device_serial="SIM0001",
        device_model="MesoGun S1 (simulated)",
        firmware_version="1.4.0",
        syringe_brand="BD",
        balance=BALANCE,
        reference="check weight CW-20g-0117 (OIML E2, 20 g)",
        environment=LAB,
        z_factor=metrology.z_factor(LAB.temperature_c, LAB.pressure_hpa),
        technician="Inès Lefèvre",
        started_at=STARTED,
        finished_at=STARTED + timedelta(minutes=48),
        as_found=as_found,
        as_left=as_left,
        constants_before=FACTORY,
        constants_after=ConstantsSnapshot({"BD": round(gain, 6)}, 0, 1.0, 1.0, 7),
        outcome=RunOutcome.PASSED,
        reason="",
        certificate_id="CAL-SIM0001-0007",
        due_at=STARTED + timedelta(days=365),
        signature=Signature(
            signer="Inès Lefèvre",
            signed_at=STARTED + timedelta(minutes=50),
            meaning="performed this calibration and verified its results",
        ),
        evaporation_mg_per_s=0.00012,
        notes=("Check weight 20 g read 20.00003 g (tolerance ±0.08 mg).", "Weighing cycle 20 s."),
    )


def depth_failed() -> CalibrationRun:
    noise = random.Random(7)
    sets = (1000.0, 2000.0, 3000.0, 4000.0)

    def point(s: float, error_um: float) -> SeriesResult:
        readings = [round(s + error_um + noise.gauss(0, 2)) for _ in range(5)]
        return metrology.depth_series(set_depth_um=s, gauge_readings_um=readings, gauge_resolution_um=1.0)

    as_found = tuple(point(s, 80.0) for s in sets)
    offset, gain = metrology.corrected_depth(0, 1.0, metrology.fit_depth_series(as_found))
    as_left = tuple(point(s, 0.04 * s - 100) for s in sets)  # a worn guide: 60 µm out at 1 and 4 mm
    return CalibrationRun(
        run_id="run-2026-03-02-1030-SIM0001",
        kind=CalibrationKind.DEPTH,
        device_serial="SIM0001",
        device_model="MesoGun S1 (simulated)",
        firmware_version="1.4.0",
        syringe_brand="",
        balance=GAUGE,
        reference="gauge block set GB-112 (grade 1)",
        environment=LAB,
        z_factor=None,
        technician="Inès Lefèvre",
        started_at=STARTED + timedelta(hours=1, minutes=15),
        finished_at=STARTED + timedelta(hours=1, minutes=40),
        as_found=as_found,
        as_left=as_left,
        constants_before=FACTORY,
        constants_after=replace(FACTORY, depth_offset_um=offset, depth_gain=round(gain, 6), calibration_id=8),
        outcome=RunOutcome.FAILED,
        reason="as-left depth at 1.0 mm and 4.0 mm outside ±0.05 mm",
        certificate_id="CAL-SIM0001-0008",
        due_at=None,
        signature=None,
    )


def rate_aborted() -> CalibrationRun:
    return CalibrationRun(
        run_id="run-2026-03-02-1200-SIM0001",
        kind=CalibrationKind.RATE,
        device_serial="SIM0001",
        device_model="MesoGun S1 (simulated)",
        firmware_version="1.4.0",
        syringe_brand="",
        balance=None,
        reference="host clock (NTP-disciplined)",
        environment=None,
        z_factor=None,
        technician="Inès Lefèvre",
        started_at=STARTED + timedelta(hours=3),
        finished_at=STARTED + timedelta(hours=3, minutes=1),
        as_found=(),
        as_left=(),
        constants_before=FACTORY,
        constants_after=None,
        outcome=RunOutcome.ABORTED,
        reason="aborted by the technician (Ctrl-C) during the as-found run; the device keeps its calibration",
        certificate_id="",
        due_at=None,
        signature=None,
    )


def rate_passed() -> CalibrationRun:
    """A rate run at 1 and 2 shots/s over 65 s each: the gun fires 2 % slow, then within 0.1 % as left."""
    noise = random.Random(11)

    def point(rate_hz: float, true_factor: float) -> SeriesResult:
        count = int(65 * rate_hz) + 1
        times = [n / (rate_hz * true_factor) + noise.gauss(0, 0.0008) for n in range(count)]
        return metrology.rate_series(set_rate_hz=rate_hz, arrival_times_s=times)

    as_found = (point(1.0, 0.98), point(2.0, 0.98))
    gain = metrology.corrected_rate_gain(1.0, as_found)
    as_left = (point(1.0, 0.98 / gain), point(2.0, 0.98 / gain))
    return replace(
        rate_aborted(),
        run_id="run-2026-03-02-1300-SIM0001",
        finished_at=STARTED + timedelta(hours=3, minutes=12),
        as_found=as_found,
        as_left=as_left,
        constants_after=replace(FACTORY, rate_gain=round(gain, 6), calibration_id=9),
        outcome=RunOutcome.PASSED,
        reason="",
        certificate_id="CAL-SIM0001-0009",
        due_at=STARTED + timedelta(days=365),
        signature=Signature("Inès Lefèvre", STARTED + timedelta(hours=3, minutes=14), "performed this calibration"),
    )


def volume_aborted_halfway() -> CalibrationRun:
    """The volume run stopped after its as-found weighings: nothing written, nothing signed."""
    run = volume_passed()
    return replace(
        run,
        run_id="run-2026-03-02-1400-SIM0001",
        as_left=(),
        constants_after=None,
        outcome=RunOutcome.ABORTED,
        reason="the balance disconnected during the as-left run",
        certificate_id="",
        due_at=None,
        signature=None,
    )
