"""``/guns``: every Gun operation and query, JSON in and out, with the Python API's validation and error codes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from firmware_protocol import Mode
from mesogun.clinic.errors import VisitNotTreatment
from mesogun.i18n import N_
from mesogun.json_forms import fired_fields, info_fields, plain, status_fields
from mesogun.record import TreatmentRecord
from mesogun.record.treatment import TreatmentBook
from mesogun.record.visits import NoSuchVisit
from mesogun.units import DEPTH, to_wire
from mesogun.wording import Wording
from mesogun_service.api.bodies import ArmBody, ConfigureBody, CountBody, FireBody, NoteBody, PrimeBody, SyringeBody
from mesogun_service.api.deps import Guns, Hosted, Limits, Record, actor_of, assistant, operator
from mesogun_service.errors import NoAttendedClient
from mesogun_service.hosted import HostedGun

router = APIRouter(prefix="/guns", tags=["guns"], dependencies=[Depends(operator)])
listing = APIRouter(prefix="/guns", tags=["guns"], dependencies=[Depends(assistant)])
"""The list of guns: an assistant too reads it (to find the treatment session open on a gun)."""


def summary(hosted: HostedGun) -> dict[str, Any]:
    """One gun as ``GET /guns`` lists it."""
    info = hosted.info
    gun = hosted.last_gun
    return {
        "serial": hosted.serial,
        "url": hosted.url,
        "connected": hosted.connected.is_set(),
        "state": gun.state.name.lower() if gun is not None else "disconnected",
        "model": info.model if info is not None else None,
        "firmware_version": info.firmware_version if info is not None else None,
        "last_error": hosted.last_error,
        "attended_by": hosted.attendance.live(),
    }


@listing.get("")
async def list_guns(guns: Guns) -> list[dict[str, Any]]:
    """The guns this service owns, connected or not."""
    return [summary(hosted) for hosted in guns]


@router.get("/{serial}")
async def identity(hosted: Hosted) -> dict[str, Any]:
    """Identity and ranges (as ``mesogun info --json``), and whether the service is connected to it now."""
    return {**info_fields(hosted.gun.info), "connected": hosted.connected.is_set()}


@router.get("/{serial}/status")
async def status(hosted: Hosted, refresh: bool = False) -> dict[str, Any]:
    """The latest status (``?refresh=true``: ask the device now), as ``mesogun status --json``."""
    gun = hosted.gun
    return status_fields(await gun.refresh_status() if refresh else gun.status)


@router.get("/{serial}/diagnostics")
async def diagnostics(hosted: Hosted) -> Any:
    """Both sides' link counters, plunger, pressure, supply, the last alarms (as ``mesogun diagnostics --json``)."""
    return plain(await hosted.gun.diagnostics())


@router.post("/{serial}/configure")
async def configure(request: Request, hosted: Hosted, soft: Limits, body: ConfigureBody) -> dict[str, Any]:
    """Set depth, dose, rate and mode (omitted ones keep their value); the status after. A depth past a soft limit
    (the mode's; a treatment session's preset's, else the body's ``preset``'s) is refused (409) unless
    ``override_reason`` says why, entered in the record before anything is sent. The device's hard limits are
    checked first and never overridden."""
    gun = hosted.gun
    if body.depth_mm is not None or body.mode is not None:
        settings = gun.status.settings
        depth = settings.depth_mm if body.depth_mm is None else body.depth_mm
        if body.depth_mm is not None:
            to_wire(DEPTH, body.depth_mm, gun.info.limits.depth_um)  # a hard limit first: never overridden
        mode = _mode_or_none(body.mode) if body.mode is not None else settings.mode
        await soft.check_configure(
            mode=mode, depth_mm=depth, preset=body.preset, reason=body.override_reason, actor=actor_of(request)
        )
    await gun.configure(
        depth_mm=body.depth_mm, dose_ml=body.dose_ml, rate_hz=body.rate_hz, mode=body.mode, wait=body.wait
    )
    return status_fields(await gun.refresh_status())  # the device's settings after the change, not the last period's


@router.post("/{serial}/syringe")
async def load_syringe(hosted: Hosted, record: Record, body: SyringeBody) -> Any:
    """Declare a newly loaded syringe (clears priming) and its ``brand`` to the gun, so its volume calibration for
    that brand applies (no ``brand``: the open treatment session's syringe brand, if any). ``warnings``: a brand
    (or none) the volume-calibrated gun has no gain for, its doses uncorrected (a warning, never a refusal)."""
    brand = body.brand
    visit_id = hosted.recorder.visit_id
    if brand is None and visit_id is not None:
        brand = await record.call(lambda r: _session_brand(r, visit_id))
    return plain(await hosted.gun.load_syringe(capacity_ml=body.capacity_ml, fill_ml=body.fill_ml, brand=brand))


def _session_brand(r: TreatmentRecord, visit_id: int) -> str | None:
    """The syringe brand of the treatment session ``visit_id`` (``None``: none given, or a visit without one)."""
    try:
        return TreatmentBook(r).get(visit_id).syringe_brand
    except (NoSuchVisit, VisitNotTreatment):
        return None


@router.post("/{serial}/prime")
async def prime(hosted: Hosted, body: PrimeBody) -> dict[str, Any]:
    """Prime the line; returns once the device is ready again."""
    gun = hosted.gun
    primed = await gun.prime(volume_ml=body.volume_ml)
    return {"primed_ml": primed, "reservoir_ml": gun.status.reservoir_ml}


@router.post("/{serial}/arm")
async def arm(request: Request, hosted: Hosted, soft: Limits, body: ArmBody | None = None) -> dict[str, Any]:
    """Arm the gun; refused (409) unless a client is attending it (``POST /guns/{serial}/attendance``), and in a
    treatment session whose zone has no room for another shot (its preset's volume per zone) unless
    ``override_reason`` says why."""
    gun = hosted.gun
    if not hosted.attendance.live():
        raise NoAttendedClient(
            Wording(
                N_(
                    "arming gun {serial} needs a live attended client (a tablet or CLI session sending heartbeats "
                    "to POST /guns/{serial}/attendance): nobody is watching it"
                ),
                serial=hosted.serial,
            )
        )
    reason = body.override_reason if body is not None else None
    await soft.check_arm(dose_ml=gun.status.settings.dose_ml, reason=reason, actor=actor_of(request))
    await gun.arm()
    return status_fields(await gun.refresh_status())  # the device's state after the arm, not the last period's


@router.post("/{serial}/fire")
async def fire(request: Request, hosted: Hosted, soft: Limits, body: FireBody) -> dict[str, Any]:
    """Remote fire ``count`` shots (0: until stopped); returns when the burst ends, with every shot. In a treatment
    session a fire whose planned volume (``count`` × the dose) would take the zone past its preset's volume per
    zone is refused (409) unless ``override_reason`` says why."""
    gun = hosted.gun
    if body.count >= 0:
        dose = gun.status.settings.dose_ml
        await soft.check_fire(count=body.count, dose_ml=dose, reason=body.override_reason, actor=actor_of(request))
    return fired_fields(await gun.fire(body.count))


@router.post("/{serial}/burst-count")
async def burst_count(hosted: Hosted, body: CountBody) -> dict[str, Any]:
    """Shots per trigger press in burst mode."""
    return {"count": await hosted.gun.set_burst_count(body.count)}


@router.post("/{serial}/clear")
async def clear(hosted: Hosted) -> dict[str, Any]:
    """Clear latched alarms whose cause is gone, and an emergency stop."""
    gun = hosted.gun
    await gun.clear_alarm()
    return status_fields(gun.status)


def _mode_or_none(name: str) -> Mode | None:
    """The mode a configure names (``None`` for an unknown one: the Gun refuses it, naming the modes)."""
    try:
        return Mode[name.upper()]
    except KeyError:
        return None


@router.post("/{serial}/notes")
async def note(hosted: Hosted, body: NoteBody) -> dict[str, Any]:
    """An operator's note in the record (a soft-limit override and its reason), committed before the reply."""
    await hosted.gun.note(body.kind, body.detail, body.reason)
    return {}
