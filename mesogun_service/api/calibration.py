"""Calibration on the service (issue 16): a gun's device calibration read and written, the measurement moves a
technician's procedure makes (hold the needle at a depth, deliver shots into a vessel, the syringe's brand), and the
calibration runs in the record (a gun's history, a run, its certificate; a run saved).

Who: reading needs a practitioner (the gun) or an assistant (the record's history and certificates); the
measurement moves a technician; writing the device's constants and saving a run a technician who re-authenticated
within the last minutes (``POST /auth/reauth``), each write in the record's audit log (the constants old → new; the
run with the digests of its JSON and certificate) and, like every POST and PUT, in the service's audit trail.
The device talks through :class:`mesogun.calibration.device.CalibrationPort`; the record through
:class:`mesogun.record.calibrations.CalibrationBook`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from mesogun.calibration.device import CalibrationPort, DeviceCalibration
from mesogun.errors import ParameterError
from mesogun.json_forms import fired_fields, plain
from mesogun.record import TreatmentRecord
from mesogun.record.calibrations import CalibrationBook, CalibrationDue, StoredCalibration
from mesogun_service.api.bodies import Body
from mesogun_service.api.deps import Hosted, Record, actor_of, assistant, fresh_technician, operator, technician
from mesogun_service.hosted import HostedGun

router = APIRouter(tags=["calibration"])


# -------------------------------------------------------------------------------------------------- bodies


class DepthBody(Body):
    depth_mm: float = Field(description="Needle depth to hold for the gauge, mm (e.g. 1.5)")


class DeliverBody(Body):
    count: int = Field(description="Shots into the vessel")
    dose_ml: float = Field(description="Dose per shot, mL (e.g. 0.02)")
    rate_hz: float = Field(description="Firing rate, shots per second")


class BrandBody(Body):
    brand: str = Field(max_length=64, description="The loaded syringe's brand ('': unknown)")


class ConstantsBody(Body):
    volume_gain_by_brand: dict[str, float] = Field(description="Delivered/commanded per brand, e.g. {'BD': 1.03}")
    depth_offset_um: int = Field(description="True depth = gain × motor position + offset, µm (signed)")
    depth_gain: float
    rate_gain: float = Field(description="True rate / set rate")
    calibrated_at: str | None = Field(default=None, max_length=40, description="ISO 8601 (UTC if no offset)")
    due_at: str | None = Field(default=None, max_length=40, description="ISO 8601: when the next one is due")
    technician: str = Field(default="", max_length=64, description="Default: who is signed in")
    certificate_id: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=1000, description="Why the constants change (in the audit log)")


class RunBody(Body):
    run_id: str = Field(min_length=1, max_length=128)
    device_serial: str = Field(min_length=1, max_length=128)
    kind: str = Field(max_length=16, description="volume, depth or rate")
    syringe_brand: str = Field(default="", max_length=64)
    outcome: str = Field(max_length=16, description="passed, failed or aborted")
    technician: str = Field(default="", max_length=128, description="Who signed the run (default: who is signed in)")
    started_at: str = Field(max_length=40, description="ISO 8601")
    finished_at: str | None = Field(default=None, max_length=40)
    calibration_id: int | None = Field(default=None, description="The device's calibration id after the run")
    certificate_id: str = Field(default="", max_length=64)
    due_at: str | None = Field(default=None, max_length=40)
    run: dict[str, Any] = Field(description="The whole run (CalibrationRun.to_json(), as an object)")
    certificate_pdf_base64: str | None = Field(default=None, description="The certificate, base64")
    reason: str = Field(default="", max_length=1000)


# -------------------------------------------------------------------------------------------------- the device


def _port(hosted: HostedGun) -> CalibrationPort:
    return CalibrationPort(hosted.gun)


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def constants_fields(calibration: DeviceCalibration) -> dict[str, Any]:
    """A :class:`~mesogun.calibration.device.DeviceCalibration` as the API sends it (and the audit log holds it)."""
    return {
        "calibration_id": calibration.calibration_id,
        "volume_gain_by_brand": dict(calibration.volume_gain_by_brand),
        "depth_offset_um": calibration.depth_offset_um,
        "depth_gain": calibration.depth_gain,
        "rate_gain": calibration.rate_gain,
        "calibrated_at": _stamp(calibration.calibrated_at),
        "due_at": _stamp(calibration.due_at),
        "technician": calibration.technician,
        "certificate_id": calibration.certificate_id,
    }


def _when(value: str | None, field: str) -> datetime | None:
    """An optional ISO 8601 time of a body (:func:`_at`)."""
    return None if value is None else _at(value, field)


def _at(value: str, field: str) -> datetime:
    """An ISO 8601 time of a body (UTC if it names no offset); :class:`ParameterError` naming ``field``."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParameterError(
            f"{field}: {value!r} is not an ISO 8601 date and time (e.g. 2026-03-02T09:00:00+00:00)",
            field=field,
            value=value,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@router.get("/guns/{serial}/calibration", dependencies=[Depends(operator)])
async def read_constants(hosted: Hosted) -> dict[str, Any]:
    """The device's calibration constants and their metadata, as the device reports them."""
    return constants_fields(await _port(hosted).read())


@router.put("/guns/{serial}/calibration", dependencies=[Depends(fresh_technician)])
async def write_constants(request: Request, hosted: Hosted, record: Record, body: ConstantsBody) -> dict[str, Any]:
    """Write the device's calibration constants (a technician, re-authenticated): the device refuses them while
    armed, firing or priming (409) and outside plausible bounds (422 naming the field); the device assigns the new
    calibration id. The audit log holds the constants before and after."""
    serial, actor = hosted.serial or hosted.url, actor_of(request)
    port = _port(hosted)
    old = await port.read()
    new = DeviceCalibration(
        calibration_id=0,
        volume_gain_by_brand=dict(body.volume_gain_by_brand),
        depth_offset_um=body.depth_offset_um,
        depth_gain=body.depth_gain,
        rate_gain=body.rate_gain,
        calibrated_at=_when(body.calibrated_at, "calibrated_at") or datetime.now(UTC),
        due_at=_when(body.due_at, "due_at"),
        technician=body.technician or actor.name,
        certificate_id=body.certificate_id,
    )
    applied = constants_fields(await port.write(new))
    before = constants_fields(old)
    reason = body.reason
    await record.call(
        lambda r: CalibrationBook(r).audit_device_write(serial, old=before, new=applied, actor=actor, reason=reason)
    )
    return applied


@router.post("/guns/{serial}/calibration/hold-depth", dependencies=[Depends(technician)])
async def hold_depth(hosted: Hosted, body: DepthBody) -> dict[str, Any]:
    """Drive the needle to ``depth_mm`` and hold it extended for a depth gauge (the gun disarmed); ended by
    ``release-depth``, or any arm or fire."""
    await _port(hosted).hold_depth(body.depth_mm)
    return {"holding_mm": body.depth_mm}


@router.post("/guns/{serial}/calibration/release-depth", dependencies=[Depends(technician)])
async def release_depth(hosted: Hosted) -> dict[str, Any]:
    """End a depth hold: the needle retracts."""
    await _port(hosted).release_depth()
    return {}


@router.post("/guns/{serial}/calibration/deliver", dependencies=[Depends(technician)])
async def deliver(hosted: Hosted, body: DeliverBody) -> dict[str, Any]:
    """Fire ``count`` shots of ``dose_ml`` at ``rate_hz`` into a vessel (the gun armed; within its hard limits);
    returns when they are done, with every shot."""
    return fired_fields(await _port(hosted).deliver(body.count, body.dose_ml, body.rate_hz))


@router.post("/guns/{serial}/calibration/syringe-brand", dependencies=[Depends(technician)])
async def syringe_brand(hosted: Hosted, body: BrandBody) -> dict[str, Any]:
    """The loaded syringe's brand (its volume gain applies until the next load or power-on; '': unknown)."""
    await _port(hosted).set_syringe_brand(body.brand)
    return {"brand": body.brand}


# -------------------------------------------------------------------------------------------------- the record


def run_fields(run: StoredCalibration, *, with_run: bool = False) -> dict[str, Any]:
    """A run as the API sends it (``with_run``: its whole JSON too, as an object)."""
    fields: dict[str, Any] = plain(run)
    run_json = fields.pop("run_json")
    return fields | ({"run": json.loads(run_json)} if with_run else {})


def due_fields(due: CalibrationDue) -> dict[str, Any]:
    """Whether a gun's calibration is in force, overdue or never done, per kind, and the warning a practitioner
    reads."""
    return {
        "state": due.state.value,
        "overdue": due.overdue,
        "due_at": due.due_at,
        "run_id": due.run_id,
        "calibration_id": due.calibration_id,
        "kinds": [
            {
                "kind": k.kind,
                "syringe_brand": k.syringe_brand,
                "state": k.state.value,
                "due_at": k.due_at,
                "run_id": k.run_id,
                "calibration_id": k.calibration_id,
            }
            for k in due.kinds
        ],
        "warning": due.warning(),
    }


@router.get("/calibrations", dependencies=[Depends(assistant)])
async def history(
    record: Record, device: Annotated[str, Query(min_length=1, max_length=128, description="The gun's serial")]
) -> dict[str, Any]:
    """A gun's calibration runs, oldest first (failed and aborted ones too), and whether its calibration is due
    today."""
    today = datetime.now(UTC).date()

    def read(r: TreatmentRecord) -> dict[str, Any]:
        book = CalibrationBook(r)
        return {
            "device_serial": device,
            "due": due_fields(book.due(device, today)),
            "runs": [run_fields(run) for run in book.history(device)],
        }

    return await record.call(read)


@router.get("/calibrations/{run_id}", dependencies=[Depends(assistant)])
async def get_run(record: Record, run_id: str) -> dict[str, Any]:
    """One run, with its whole JSON (404 naming ``run_id`` if none)."""
    return run_fields(await record.call(lambda r: CalibrationBook(r).get(run_id)), with_run=True)


@router.get("/calibrations/{run_id}/certificate", dependencies=[Depends(assistant)])
async def certificate(record: Record, run_id: str) -> Response:
    """The run's certificate as issued (``application/pdf``; 404 naming ``run_id`` if none)."""
    pdf = await record.call(lambda r: CalibrationBook(r).certificate(run_id))
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{run_id}.pdf"'}
    )


@router.post("/calibrations", dependencies=[Depends(fresh_technician)])
async def save_run(request: Request, record: Record, body: RunBody) -> dict[str, Any]:
    """Save a calibration run (passed, failed or aborted) with its certificate (a technician, re-authenticated):
    one transaction with its audit entry. The run's ``technician`` is who is signed in (another name is refused,
    naming ``technician``); a ``run_id`` on record already is refused (409)."""
    actor = actor_of(request)
    if body.technician and body.technician != actor.name:
        raise ParameterError(
            f"technician: the run names {body.technician!r}, but {actor.name!r} is signed in (a run is saved by the "
            "technician who signed it)",
            field="technician",
            value=body.technician,
        )
    pdf = _pdf(body.certificate_pdf_base64)
    started, finished, due = (
        _at(body.started_at, "started_at"),
        _when(body.finished_at, "finished_at"),
        _when(body.due_at, "due_at"),
    )
    run_json = json.dumps(body.run, ensure_ascii=False)

    def save(r: TreatmentRecord) -> StoredCalibration:
        return CalibrationBook(r).save(
            run_json,
            run_id=body.run_id,
            device_serial=body.device_serial,
            kind=body.kind,
            syringe_brand=body.syringe_brand,
            outcome=body.outcome,
            technician=actor.name,
            started_at=started,
            finished_at=finished,
            calibration_id=body.calibration_id,
            certificate_id=body.certificate_id,
            due_at=due,
            certificate_pdf=pdf,
            actor=actor,
            reason=body.reason,
        )

    return run_fields(await record.call(save))


def _pdf(encoded: str | None) -> bytes | None:
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ParameterError(
            "certificate_pdf_base64 is not base64", field="certificate_pdf_base64", value=encoded[:20]
        ) from None


# -------------------------------------------------------------------------------------------------- session start


def calibration_warning(r: TreatmentRecord, serial: str, today: date | None = None) -> str | None:
    """The warning a visit or treatment session started on gun ``serial`` carries when its calibration is overdue
    or it was never calibrated (``None``: in force). A warning, never a refusal."""
    return CalibrationBook(r).due(serial, today or datetime.now(UTC).date()).warning()


def with_warning(reply: Mapping[str, Any], warning: str | None) -> dict[str, Any]:
    """``reply`` with ``warning`` added to its ``warnings`` (if any)."""
    fields = dict(reply)
    fields["warnings"] = [*fields.get("warnings", ()), *([warning] if warning else [])]
    return fields
