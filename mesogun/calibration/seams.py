"""What the calibration procedure drives, as protocols: the gun (:class:`CalibrationTarget`, directly or through
the gun service), the balance (:class:`WeighingInstrument`), the depth gauge (:class:`DepthGauge`), the technician
(:class:`Prompter`) and where its progress goes (:class:`Reporter`).

The procedure imports the boundary types from here only, so it never depends on how each part is reached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from mesogun.balance import BalanceIdentity, Reading
from mesogun.balance.errors import BalanceError, WrongBalanceModel
from mesogun.calibration.device import DeviceCalibration
from mesogun.calibration.results import (
    CalibrationKind,
    CalibrationRun,
    ConstantsSnapshot,
    Environment,
    InstrumentIdentity,
    Limits,
    RunOutcome,
    SeriesResult,
    Signature,
)
from mesogun.models import FiredShots, GunInfo, ShotRecord

NumberCheck = Callable[[float], None]
"""A check of a number the technician gives: raises :class:`~mesogun.errors.ParameterError` naming the field, the
value, the limit and the unit (a terminal asks again with it, a scripted run is refused with it)."""
ShotSeen = Callable[[ShotRecord, float], None]
"""Told of each shot of a :meth:`CalibrationTarget.deliver` as it arrives, with the host's clock then (seconds)."""


class CalibrationTarget(Protocol):
    """The gun being calibrated: :class:`~mesogun.calibration.device.CalibrationPort`'s methods, ``info()``, and
    the few gun operations a measurement needs (a syringe loaded and primed, armed for delivering)."""

    async def info(self) -> GunInfo: ...
    async def read(self) -> DeviceCalibration: ...
    async def write(self, new: DeviceCalibration) -> DeviceCalibration:
        """Write ``new`` (its id ignored); the calibration the device applied, with the id it assigned."""
        ...

    async def set_syringe_brand(self, brand: str) -> None: ...
    async def hold_depth(self, depth_mm: float) -> None: ...
    async def release_depth(self) -> None: ...
    async def deliver(
        self, count: int, dose_ml: float, rate_hz: float, *, on_shot: ShotSeen | None = None
    ) -> FiredShots: ...
    async def load_syringe(self, capacity_ml: float, fill_ml: float) -> None: ...
    async def prime(self, volume_ml: float) -> None: ...
    async def arm(self) -> None: ...
    async def disarm(self) -> None: ...


class WeighingInstrument(Protocol):
    """The balance (:class:`mesogun.balance.Balance`): what the volume procedure asks of it."""

    async def identify(self) -> BalanceIdentity: ...
    async def zero(self) -> None: ...
    async def tare(self) -> float: ...
    async def stable_weight(self, timeout_s: float = 30.0) -> Reading: ...


class DepthGauge(Protocol):
    """A dial indicator under the needle: where the needle tip is, mm beyond the nozzle face."""

    @property
    def reference(self) -> str:
        """The gauge's identification (model and serial number), for the certificate."""
        ...

    @property
    def resolution_um(self) -> float: ...

    async def read_mm(self) -> float: ...


class Prompter(Protocol):
    """The technician. Every question has a stable ``key`` (what a scripted run answers it by, and what
    ``--json`` reports); the answers come back as text, a number, a yes/no or one of the choices."""

    async def ask(self, key: str, question: str, *, default: str | None = None) -> str: ...
    async def ask_number(
        self, key: str, question: str, *, unit: str, default: float | None = None, check: NumberCheck | None = None
    ) -> float:
        """A number in ``unit``; with ``check``, one it accepts (a terminal asks again with its reason)."""
        ...

    async def confirm(self, key: str, question: str) -> bool:
        """True to go on; False is the technician declining (the procedure aborts)."""
        ...

    async def choose(self, key: str, question: str, choices: Sequence[str], *, default: str | None = None) -> str: ...
    def show(self, message: str) -> None: ...


class Reporter(Protocol):
    """Where a run's progress goes as it happens: each step, each reading, the end (plain lines or JSON lines)."""

    def step(self, step: str, status: str, **fields: object) -> None:
        """``status``: started, done, refused or aborted; ``fields``: what the step found."""
        ...

    def reading(self, series: str, **fields: object) -> None: ...
    def finished(self, run: CalibrationRun) -> None: ...


__all__ = [
    "BalanceError",
    "BalanceIdentity",
    "CalibrationKind",
    "CalibrationRun",
    "CalibrationTarget",
    "ConstantsSnapshot",
    "DepthGauge",
    "DeviceCalibration",
    "Environment",
    "InstrumentIdentity",
    "Limits",
    "NumberCheck",
    "Prompter",
    "Reading",
    "Reporter",
    "RunOutcome",
    "SeriesResult",
    "ShotSeen",
    "Signature",
    "WeighingInstrument",
    "WrongBalanceModel",
]
