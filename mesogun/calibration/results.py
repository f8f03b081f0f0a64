"""The record of one calibration run (issue 16): what was measured, against which limits, what was written to
the device, and who signed it. Plain frozen dataclasses and enums, JSON both ways (:meth:`CalibrationRun.to_json`,
:meth:`CalibrationRun.from_json`), so the record stores the run and the certificate renders it without either
knowing the other.

Two types are the run's own snapshots of live objects, kept as they were when the run saw them:
:class:`ConstantsSnapshot` (of a device's :class:`~mesogun.calibration.device.DeviceCalibration`: the constants
and id a certificate shows; :meth:`ConstantsSnapshot.of`) and :class:`InstrumentIdentity` (of a balance's
:class:`~mesogun.balance.BalanceIdentity` with its calibration due date, :meth:`InstrumentIdentity.of_balance`;
a depth gauge's too).
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from mesogun.balance import BalanceIdentity
    from mesogun.calibration.device import DeviceCalibration

FORMAT = 1
"""The version of a run's JSON form (``"format"``); a later change to it is a new number, read by both."""


class CalibrationKind(enum.Enum):
    """What a run calibrates: delivered volume (by weighing), needle depth (by gauge), firing rate (by clock)."""

    VOLUME = "volume"
    DEPTH = "depth"
    RATE = "rate"


class RunOutcome(enum.Enum):
    """How a run ended: as-left within limits, outside them, or stopped before its end (the old calibration kept)."""

    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True)
class Environment:
    """The laboratory's conditions during the run: they give the Z factor (water density and air buoyancy)."""

    temperature_c: float
    pressure_hpa: float
    humidity_pct: float


@dataclass(frozen=True)
class Limits:
    """The acceptance limits a series is judged against; a limit left ``None`` is not judged.

    ``systematic_pct``: |mean − nominal| / nominal × 100 at most this; ``systematic_abs``: |mean − nominal| at
    most this in the series' unit (depth: µm); ``random_pct``: the coefficient of variation at most this.
    ``source`` says where they come from ("ISO 8655-2:2002, 20 µL", "issue 16 acceptance").
    """

    systematic_pct: float | None = None
    systematic_abs: float | None = None
    random_pct: float | None = None
    source: str = ""


@dataclass(frozen=True)
class SeriesResult:
    """One test point of a run (e.g. 10 weighings at 20 µL), its raw readings and statistics.

    ``readings`` are what the instrument showed (``raw_unit``: mg on a balance, µm on a gauge, s on the host
    clock for shot arrivals); ``values`` the quantity per shot in ``unit`` after every correction (evaporation,
    Z factor, shots per reading). ``systematic_*`` is mean − nominal (signed), ``random_*`` the sample standard
    deviation of ``values`` (and its CV). ``single_shot_spread_pct`` estimates one shot's CV when several shots
    were weighed per reading (the reading's CV × √shots; ``None`` for one shot per reading).
    ``expanded_uncertainty`` is U of the mean (k = ``coverage_factor``) in ``unit``.
    """

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
class ConstantsSnapshot:
    """The device's calibration constants as a run saw them (of a ``DeviceCalibration``, without the metadata
    the run holds itself). Gains are delivered/commanded (1.0: none); ``depth_offset_um`` signed."""

    volume_gain_by_brand: Mapping[str, float]
    depth_offset_um: int
    depth_gain: float
    rate_gain: float
    calibration_id: int
    """0: factory."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "volume_gain_by_brand", types.MappingProxyType(dict(self.volume_gain_by_brand)))

    @classmethod
    def of(cls, calibration: DeviceCalibration) -> Self:
        """The snapshot of a device's calibration (its constants and id)."""
        return cls(
            volume_gain_by_brand=calibration.volume_gain_by_brand,
            depth_offset_um=calibration.depth_offset_um,
            depth_gain=calibration.depth_gain,
            rate_gain=calibration.rate_gain,
            calibration_id=calibration.calibration_id,
        )

    def volume_gain(self, brand: str) -> float:
        """The gain the device uses for ``brand`` (1.0 for a brand it has none for, as the device does)."""
        return float(self.volume_gain_by_brand.get(brand, 1.0))


@dataclass(frozen=True)
class InstrumentIdentity:
    """A reference instrument of a run: a balance (:meth:`of_balance`), a depth gauge.

    ``kind``: "balance", "depth gauge"; ``readability`` its smallest step in ``readability_unit``;
    ``calibration_due`` the instrument's own calibration due date (``None``: not known).
    """

    kind: str
    model: str
    serial_number: str
    firmware: str
    readability: float
    calibration_due: date | None
    readability_unit: str = "g"

    @classmethod
    def of_balance(cls, identity: BalanceIdentity, calibration_due: date | None) -> Self:
        """A balance as the run identified it (``calibration_due``: from its certificate, the technician's)."""
        return cls(
            kind="balance",
            model=identity.model,
            serial_number=identity.serial_number,
            firmware=identity.firmware,
            readability=identity.readability_g,
            calibration_due=calibration_due,
        )


@dataclass(frozen=True)
class Signature:
    """An electronic signature as 21 CFR 11.50 asks: the signer's printed name, when, and what it means
    (e.g. "performed and verified this calibration")."""

    signer: str
    signed_at: datetime
    """UTC."""
    meaning: str


@dataclass(frozen=True)
class CalibrationRun:
    """One calibration run, passed, failed or aborted: who, what, where, the measurements as found and as left
    (one :class:`SeriesResult` per test point), the constants before and after (``constants_after`` ``None``:
    nothing was written), why it failed or was aborted (``reason``), and the sign-off.

    Times are UTC. ``balance`` is the run's reference instrument (a balance for volume, the gauge for depth,
    ``None`` for rate); ``reference`` names other references (check weight, gauge block ids).
    """

    run_id: str
    kind: CalibrationKind
    device_serial: str
    device_model: str
    firmware_version: str
    syringe_brand: str
    balance: InstrumentIdentity | None
    reference: str
    environment: Environment | None
    z_factor: float | None
    """µL/mg, volume runs only."""
    technician: str
    started_at: datetime
    finished_at: datetime | None
    as_found: tuple[SeriesResult, ...]
    as_left: tuple[SeriesResult, ...]
    constants_before: ConstantsSnapshot | None
    constants_after: ConstantsSnapshot | None
    outcome: RunOutcome
    reason: str
    certificate_id: str
    due_at: datetime | None
    signature: Signature | None
    evaporation_mg_per_s: float | None = None
    """Volume runs: the blank's evaporation rate added back to each reading (``None``: no blank taken)."""
    notes: tuple[str, ...] = ()
    """Facts of the run the certificate lists under its method (the check weight's reading, the cycle time)."""

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON values (``"format"`` first), what :meth:`from_dict` reads back."""
        return {"format": FORMAT, **_encode(self)}

    def to_json(self) -> str:
        """The run as a JSON text (strict JSON: no NaN)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A run from :meth:`to_dict`'s form; a ``ValueError`` naming what is wrong if it is not one."""
        version = data.get("format")
        if version != FORMAT:
            raise ValueError(f"a calibration run's JSON format must be {FORMAT}, not {version!r}")
        run: Self = _decode(cls, {key: value for key, value in data.items() if key != "format"}, "run")
        return run

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """A run from :meth:`to_json`'s text."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a calibration run's JSON must be an object")
        return cls.from_dict(data)


# --- the JSON form, derived from the dataclasses' annotations -----------------------------------------------


def _encode(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: _encode(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    return value


def _decode(kind: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        if data is None:
            return None
        return _decode(options[0], data, where)
    if origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"{where} must be a list")
        item_kind = typing.get_args(kind)[0]
        return tuple(_decode(item_kind, item, f"{where}[{index}]") for index, item in enumerate(data))
    if origin is Mapping or origin is dict:
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object")
        value_kind = typing.get_args(kind)[1]
        return {str(key): _decode(value_kind, item, f"{where}.{key}") for key, item in data.items()}
    if isinstance(kind, type) and is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object")
        hints = typing.get_type_hints(kind)
        known = {item.name for item in fields(kind) if item.init}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{where} has unknown fields {sorted(unknown)}")
        arguments = {name: _decode(hints[name], item, f"{where}.{name}") for name, item in data.items()}
        try:
            return kind(**arguments)
        except TypeError as error:
            raise ValueError(f"{where}: {error}") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            raise ValueError(f"{where}={data!r} is not one of {[m.value for m in kind]}") from None
    if kind is datetime:
        return datetime.fromisoformat(_string(data, where))
    if kind is date:
        return date.fromisoformat(_string(data, where))
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ValueError(f"{where} must be a number")
        return float(data)
    if kind is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise ValueError(f"{where} must be a whole number")
        return data
    if kind is bool:
        if not isinstance(data, bool):
            raise ValueError(f"{where} must be true or false")
        return data
    if kind is str:
        return _string(data, where)
    raise TypeError(f"{where}: no JSON form for {kind!r}")  # a programming error: a new field's type


def _string(data: Any, where: str) -> str:
    if not isinstance(data, str):
        raise ValueError(f"{where} must be a string")
    return data


__all__ = [
    "FORMAT",
    "CalibrationKind",
    "CalibrationRun",
    "ConstantsSnapshot",
    "Environment",
    "InstrumentIdentity",
    "Limits",
    "RunOutcome",
    "SeriesResult",
    "Signature",
]
