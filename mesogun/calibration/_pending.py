"""Stand-ins for the parts of issue 16 other branches are building (the device API, the balance, the run's
record), declared exactly as DESIGN-16 names them, so the procedure is written and tested against their seams.

TODO(merge): each block below goes once its part is on main; :mod:`mesogun.calibration.seams` is the one place
that imports from here, so the swap is one import line per name.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mesogun.errors import MesogunError

# ---------------------------------------------------------- TODO(merge): protosim, mesogun/calibration/device.py


@dataclass(frozen=True)
class DeviceCalibration:
    """The constants a technician writes to the device, and their metadata (DESIGN-16)."""

    calibration_id: int
    volume_gain_by_brand: Mapping[str, float]
    depth_offset_um: int
    depth_gain: float
    rate_gain: float
    calibrated_at: datetime | None
    due_at: datetime | None
    technician: str
    certificate_id: str


FACTORY = DeviceCalibration(0, {}, 0, 1.0, 1.0, None, None, "", "")
"""The identity calibration a device leaves the factory with (id 0)."""


# ---------------------------------------------------------- TODO(merge): balance, mesogun/balance/__init__.py


@dataclass(frozen=True)
class BalanceIdentity:
    """Who the balance is (``I2``/``I4``) and what it can weigh."""

    model: str
    serial_number: str
    firmware: str
    readability_g: float
    capacity_g: float


@dataclass(frozen=True)
class Reading:
    """One weight the balance sent, in grams; ``stable`` when it was a stable (``S S``) reading."""

    grams: float
    stable: bool


class BalanceError(MesogunError):
    """The balance failed or refused (never settles, overload, disconnected, wrong model…): the run aborts."""

    code = "MG1000"
    exit_code = 4


class WrongModel(BalanceError):
    """The balance cannot do this job (its readability or capacity does not suit the volumes weighed)."""

    code = "MG1006"
    exit_code = 2


# ---------------------------------------------------------- TODO(merge): metrology, results.py


class CalibrationKind(enum.Enum):
    """What a run calibrates."""

    VOLUME = "volume"
    DEPTH = "depth"
    RATE = "rate"


class RunOutcome(enum.Enum):
    """How a run ended."""

    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True)
class Environment:
    """The laboratory's conditions during a run."""

    temperature_c: float
    pressure_hpa: float
    humidity_pct: float


@dataclass(frozen=True)
class Signature:
    """The technician's sign-off: who, when (UTC), and what the signature means."""

    signer: str
    signed_at: datetime
    meaning: str


@dataclass(frozen=True)
class Limits:
    """The acceptance limits a series is judged against; a limit left ``None`` is not judged."""

    systematic_pct: float | None = None
    systematic_abs: float | None = None
    random_pct: float | None = None
    source: str = ""


@dataclass(frozen=True)
class SeriesResult:
    """One test point's readings and statistics against its limits."""

    nominal: float
    unit: str
    raw_unit: str
    readings: tuple[float, ...]
    values: tuple[float, ...]
    shots_per_reading: int
    mean: float
    systematic_error: float
    systematic_pct: float
    random_sd: float
    random_pct: float
    single_shot_spread_pct: float | None
    limits: Limits
    expanded_uncertainty: float
    passed: bool
    coverage_factor: float = 2.0


@dataclass(frozen=True)
class CalibrationRun:
    """The record of one run, passed, failed or aborted (DESIGN-16)."""

    run_id: str
    kind: CalibrationKind
    device_serial: str
    device_model: str
    firmware_version: str
    syringe_brand: str
    balance: BalanceIdentity | None
    reference: str
    environment: Environment | None
    z_factor: float | None
    technician: str
    started_at: datetime
    finished_at: datetime | None
    as_found: tuple[SeriesResult, ...]
    as_left: tuple[SeriesResult, ...]
    constants_before: DeviceCalibration | None
    constants_after: DeviceCalibration | None
    outcome: RunOutcome
    reason: str
    certificate_id: str
    due_at: datetime | None
    signature: Signature | None

    def to_json(self) -> str:
        import json

        from mesogun.calibration.prompts import plain

        return json.dumps(plain(self), ensure_ascii=False)
