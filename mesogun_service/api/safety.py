"""The safe commands: stop, emergency stop, disarm. Making the gun safe is idempotent and never refused for a
wrong reason, so these need no sign-in (an expired token must not stand between a practitioner and the stop) and
wait for no disk: who asked is entered in the audit trail after the reply (:mod:`.audit`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mesogun.json_forms import status_fields
from mesogun_service.api.deps import Hosted

router = APIRouter(prefix="/guns", tags=["safety"])


@router.post("/{serial}/disarm")
async def disarm(hosted: Hosted) -> dict[str, Any]:
    """Stop firing and disarm (idempotent: a gun that is not armed stays as it is)."""
    gun = hosted.gun
    await gun.make_safe()
    return status_fields(await gun.refresh_status())


@router.post("/{serial}/stop")
async def stop(hosted: Hosted) -> dict[str, Any]:
    """Stop firing or priming at the end of the shot in progress (idempotent)."""
    gun = hosted.gun
    await gun.stop()
    return status_fields(gun.status)


@router.post("/{serial}/emergency-stop")
async def emergency_stop(hosted: Hosted) -> dict[str, Any]:
    """Emergency stop: overtakes queued work and reaches the device first; latched until ``clear``."""
    gun = hosted.gun
    await gun.emergency_stop()
    return status_fields(gun.status)
