"""The tablet's Emergency stop: one touch, no confirmation, no sign-in (an expired session must never stand
between a practitioner and the stop), waiting for no disk. It stops the gun the page names, or every gun the
service owns when the page names none; who asked goes to the audit trail after the reply (the request trail)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import JSONResponse

from mesogun.errors import MesogunError
from mesogun_service.hosted import HostedGun
from mesogun_service.registry import GunRegistry

log = logging.getLogger(__name__)

router = APIRouter(prefix="/tablet", include_in_schema=False)


async def _stop(hosted: HostedGun) -> str | None:
    """Emergency-stop one gun; why it could not be reached, if it could not."""
    try:
        await hosted.gun.emergency_stop()
    except MesogunError as exc:
        return str(exc)
    return None


@router.post("/emergency-stop")
async def emergency_stop(request: Request, gun: Annotated[str, Form(max_length=128)] = "") -> JSONResponse:
    """Emergency-stop the gun ``gun`` names (a serial number), else every gun; ``{"stopped": [...], "failed":
    {serial: why}}``. A gun named that the service does not own stops every gun instead: never refused."""
    registry: GunRegistry = request.app.state.registry
    guns = [hosted for hosted in registry if gun and hosted.serial == gun] or list(registry)
    failures = await asyncio.gather(*(_stop(hosted) for hosted in guns))
    failed = {hosted.serial or hosted.url: why for hosted, why in zip(guns, failures, strict=True) if why is not None}
    for name, why in failed.items():
        log.error("tablet emergency stop of %s failed: %s", name, why)
    stopped = [hosted.serial or hosted.url for hosted, why in zip(guns, failures, strict=True) if why is None]
    return JSONResponse({"stopped": stopped, "failed": failed}, status_code=200 if not failed else 503)
