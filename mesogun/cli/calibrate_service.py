"""``mesogun calibrate`` through a running gun service: the calibration target over the service
(:class:`ServiceCalibrationTarget`, the :class:`~mesogun.calibration.seams.CalibrationTarget` seam over
:class:`~mesogun.service_client.ServiceClient` and the command's :class:`~mesogun.cli.remote.RemoteGun`), and the
run kept in the service's record (``POST /calibrations``).

Writes need a technician who re-authenticated within the last minutes: the PIN is asked once before the run
(``$MESOGUN_PIN`` in a scripted run), and ``POST /auth/reauth`` is sent with it right before each write of the
device's constants and before the run is saved, so a run longer than the service's freshness still writes. The
service refuses a practitioner, a wrong PIN or an expired sign-in with its own message (the Python API's errors).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import click

from mesogun.calibration.device import DeviceCalibration
from mesogun.calibration.seams import CalibrationRun, ShotSeen
from mesogun.calibration.targets import GunOperations, timed
from mesogun.cli.remote import RemoteGun
from mesogun.errors import ParameterError
from mesogun.json_forms import fired_from
from mesogun.models import FiredShots, GunInfo
from mesogun.service_client import ServiceClient

PIN_ENV = "MESOGUN_PIN"
"""Where a scripted run through the service finds the technician's PIN (never an option: a command line is public)."""


def ask_pin(*, scripted: bool, work: str = "a calibration", writes: str = "the calibration writes") -> str:
    """The technician's PIN for the re-authentications: ``$MESOGUN_PIN`` in a scripted run, else asked (hidden);
    ``work`` and ``writes`` name what it is for (a firmware update's too)."""
    pin = os.environ.get(PIN_ENV, "")
    if pin:
        return pin
    if scripted:
        raise ParameterError(
            f"{work} through the gun service re-authenticates the technician: set ${PIN_ENV} in a scripted "
            "run (or run it at a terminal, where the PIN is asked)",
            field="pin",
        )
    return str(click.prompt(f"Your PIN (re-authentication for {writes})", hide_input=True, err=True))


def calibration_from(fields: Mapping[str, Any]) -> DeviceCalibration:
    """The service's form of a device calibration (``GET``/``PUT /guns/{serial}/calibration``)."""
    return DeviceCalibration(
        calibration_id=int(fields["calibration_id"]),
        volume_gain_by_brand=MappingProxyType({str(k): float(v) for k, v in fields["volume_gain_by_brand"].items()}),
        depth_offset_um=int(fields["depth_offset_um"]),
        depth_gain=float(fields["depth_gain"]),
        rate_gain=float(fields["rate_gain"]),
        calibrated_at=_time(fields.get("calibrated_at")),
        due_at=_time(fields.get("due_at")),
        technician=str(fields.get("technician", "")),
        certificate_id=str(fields.get("certificate_id", "")),
    )


def _time(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


class ServiceCalibrationTarget(GunOperations):
    """The gun a run calibrates, on a service: its measurement moves and constants by the service's calibration
    routes, its syringe, arming and events by the command's :class:`RemoteGun` (which attends the gun while it is
    armed and makes it safe when the command ends)."""

    def __init__(self, gun: RemoteGun, client: ServiceClient, serial: str, pin: str, *, reason: str = "") -> None:
        self.gun: RemoteGun = gun
        self.client = client
        self.serial = serial
        self._pin = pin
        self.reason = reason

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(method, *args, **kwargs)

    async def reauthenticate(self) -> None:
        """``POST /auth/reauth`` with the technician's PIN (before each write)."""
        await self._call(self.client.reauth, self._pin)

    async def info(self) -> GunInfo:
        return self.gun.info

    async def read(self) -> DeviceCalibration:
        return calibration_from(await self._call(self.client.calibration, self.serial))

    async def write(self, new: DeviceCalibration) -> DeviceCalibration:
        await self.reauthenticate()
        applied = await self._call(
            self.client.write_calibration,
            self.serial,
            volume_gain_by_brand=dict(new.volume_gain_by_brand),
            depth_offset_um=new.depth_offset_um,
            depth_gain=new.depth_gain,
            rate_gain=new.rate_gain,
            calibrated_at=_iso(new.calibrated_at),
            due_at=_iso(new.due_at),
            technician=new.technician,
            certificate_id=new.certificate_id,
            reason=self.reason or f"calibration run, certificate {new.certificate_id or '(none)'}",
        )
        return calibration_from(applied)

    async def set_syringe_brand(self, brand: str) -> None:
        await self._call(self.client.set_syringe_brand, self.serial, brand)

    async def hold_depth(self, depth_mm: float) -> None:
        await self._call(self.client.hold_depth, self.serial, depth_mm)

    async def release_depth(self) -> None:
        await self._call(self.client.release_depth, self.serial)

    async def deliver(
        self, count: int, dose_ml: float, rate_hz: float, *, on_shot: ShotSeen | None = None
    ) -> FiredShots:
        async def delivery() -> FiredShots:
            return fired_from(await self._call(self.client.deliver, self.serial, count, dose_ml, rate_hz))

        if on_shot is None:
            return await delivery()
        return await timed(self.gun, on_shot, delivery())

    async def save(self, run: CalibrationRun, certificate_pdf: bytes) -> None:
        """Keep the run and its certificate in the service's record (``POST /calibrations``, re-authenticated)."""
        await self.reauthenticate()
        await self._call(
            self.client.save_calibration,
            run.to_dict(),
            certificate_pdf=certificate_pdf,
            run_id=run.run_id,
            device_serial=run.device_serial,
            kind=run.kind.value,
            syringe_brand=run.syringe_brand,
            outcome=run.outcome.value,
            technician=run.technician,
            started_at=run.started_at.isoformat(),
            finished_at=_iso(run.finished_at),
            calibration_id=run.constants_after.calibration_id if run.constants_after is not None else None,
            certificate_id=run.certificate_id,
            due_at=_iso(run.due_at),
            reason=run.reason or f"calibration run {run.run_id}",
        )
