"""What the routes depend on: the service's guns, the gun a path names, and who is asking (a practitioner for
every gun operation, a technician for diagnostics and calibration, re-authenticated to write it, an assistant or
better for the clinical workflow's records, an admin for an erasure; the safe commands need nobody: see
:mod:`.safety`), as the clinic's rules see them (:func:`actor_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from mesogun.clinic.actors import Actor
from mesogun_service.accounts import Principal, Role, effective_roles
from mesogun_service.accounts.auth import require_fresh, require_role
from mesogun_service.hosted import HostedGun
from mesogun_service.record_access import SharedRecord
from mesogun_service.registry import GunRegistry
from mesogun_service.soft_limits import SoftLimits


def _registry(request: Request) -> GunRegistry:
    guns: GunRegistry = request.app.state.registry
    return guns


# ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, a hop (0.5 ms and more on a busy
# machine) that every gun request, the emergency stop included, would wait for; these two never block.


async def registry(request: Request) -> GunRegistry:
    """The service's guns."""
    return _registry(request)


async def hosted_gun(
    request: Request, serial: Annotated[str, Path(max_length=128, description="The gun's serial number")]
) -> HostedGun:
    """The gun ``{serial}`` names; 404 naming the known ones if there is none."""
    return _registry(request).get(serial)


async def shared_record(request: Request) -> SharedRecord:
    """The service's treatment record (:class:`SharedRecord`: use it through ``await record.call(work)``)."""
    record: SharedRecord = request.app.state.record
    return record


async def soft_limits(request: Request, hosted: Annotated[HostedGun, Depends(hosted_gun)]) -> SoftLimits:
    """The soft limits of the gun ``{serial}`` names (its open treatment session's)."""
    found: SoftLimits = request.app.state.soft_limits[hosted.url]
    return found


Hosted = Annotated[HostedGun, Depends(hosted_gun)]
Guns = Annotated[GunRegistry, Depends(registry)]
Record = Annotated[SharedRecord, Depends(shared_record)]
Limits = Annotated[SoftLimits, Depends(soft_limits)]


_ASSISTANT = require_role(Role.ASSISTANT)
_PRACTITIONER = require_role(Role.PRACTITIONER)
_TECHNICIAN = require_role(Role.TECHNICIAN)
_ADMIN = require_role(Role.ADMIN)
_FRESH_TECHNICIAN = require_fresh(Role.TECHNICIAN)


def assistant(request: Request, who: Annotated[Principal, Depends(_ASSISTANT)]) -> Principal:
    """A signed-in assistant (or better: practitioners, technicians and admins are assistants too), kept on the
    request. What an assistant may not do (start, sign off) the clinic's rules refuse by role (:func:`actor_of`)."""
    request.state.principal = who
    return who


def admin(request: Request, who: Annotated[Principal, Depends(_ADMIN)]) -> Principal:
    """A signed-in admin."""
    request.state.principal = who
    return who


def operator(request: Request, who: Annotated[Principal, Depends(_PRACTITIONER)]) -> Principal:
    """A signed-in practitioner (or better), kept on the request for the record and the audit trail."""
    request.state.principal = who
    return who


def technician(request: Request, who: Annotated[Principal, Depends(_TECHNICIAN)]) -> Principal:
    """A signed-in technician (or admin)."""
    request.state.principal = who
    return who


def fresh_technician(request: Request, who: Annotated[Principal, Depends(_FRESH_TECHNICIAN)]) -> Principal:
    """A signed-in technician (or admin) who re-authenticated within the last minutes (``POST /auth/reauth``): what a
    calibration write needs."""
    request.state.principal = who
    return who


def actor_of(request: Request) -> Actor:
    """Who acts, as the record and the clinic's rules see it: the request's principal (set by its access
    dependency) with every role it holds, implied ones included."""
    who: Principal = request.state.principal
    return Actor.of(who.user, (role.value for role in effective_roles(who.roles)))


@dataclass(frozen=True)
class IdentifiedRead:
    """A read that asks for a patient's identifying details (``?identified=true``): who asks, through which route,
    and why: what its ``patient.read_identified`` audit entry holds
    (:func:`mesogun.record.patients.note_identified_read`)."""

    read_by: str
    via: str
    """The route: ``GET /treatments/12/summary``."""
    reason: str


READ_REASON_MAX = 1000
"""The longest reason given for an identified read, characters (as a correction's)."""


def identified_read(
    request: Request,
    who: Annotated[Principal, Depends(assistant)],
    reason: Annotated[
        str,
        Query(
            max_length=READ_REASON_MAX,
            description="Why the identifying details are read (with identified=true; kept in the audit log with"
            " who read them)",
        ),
    ] = "",
) -> IdentifiedRead:
    """Who reads, through this route, and why (the signed-in assistant or better, as :func:`actor_of` names them)."""
    return IdentifiedRead(actor_of(request).name, f"{request.method} {request.url.path}", reason)


Reader = Annotated[IdentifiedRead, Depends(identified_read)]
Operator = Annotated[Principal, Depends(operator)]
Technician = Annotated[Principal, Depends(technician)]
FreshTechnician = Annotated[Principal, Depends(fresh_technician)]
Assistant = Annotated[Principal, Depends(assistant)]
Admin = Annotated[Principal, Depends(admin)]
