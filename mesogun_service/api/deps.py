"""What the routes depend on: the service's guns, the gun a path names, and who is asking (a practitioner for
every gun operation, a technician for diagnostics; the safe commands need nobody: see :mod:`.safety`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from mesogun_service.accounts import Principal, Role
from mesogun_service.accounts.auth import require_role
from mesogun_service.hosted import HostedGun
from mesogun_service.record_access import SharedRecord
from mesogun_service.registry import GunRegistry


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


Hosted = Annotated[HostedGun, Depends(hosted_gun)]
Guns = Annotated[GunRegistry, Depends(registry)]
Record = Annotated[SharedRecord, Depends(shared_record)]


_PRACTITIONER = require_role(Role.PRACTITIONER)
_TECHNICIAN = require_role(Role.TECHNICIAN)


def operator(request: Request, who: Annotated[Principal, Depends(_PRACTITIONER)]) -> Principal:
    """A signed-in practitioner (or better), kept on the request for the record and the audit trail."""
    request.state.principal = who
    return who


def technician(request: Request, who: Annotated[Principal, Depends(_TECHNICIAN)]) -> Principal:
    """A signed-in technician (or admin)."""
    request.state.principal = who
    return who


Operator = Annotated[Principal, Depends(operator)]
Technician = Annotated[Principal, Depends(technician)]
