"""The tablet's Emergency stop: one touch, no confirmation, no sign-in (an expired session must never stand
between a practitioner and the stop), waiting for no disk. It stops the gun the page names, or every gun the
service owns when the page names none; who asked goes to the audit trail after the reply (the request trail)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import JSONResponse, Response

from mesogun.errors import MesogunError
from mesogun_service.hosted import HostedGun
from mesogun_service.registry import GunRegistry
from mesogun_service.tablet.i18n import N_, gettext, language_of
from mesogun_service.tablet.page import layout
from mesogun_service.tablet.templating import render

log = logging.getLogger(__name__)

router = APIRouter(prefix="/tablet", include_in_schema=False)


STOP_TIMEOUT_S = 2.0
"""How long the reply waits for one gun's emergency stop: a gun that does not answer does not hold up the reply
about the others (its own watchdog stops it when the service goes silent)."""


async def _stop(hosted: HostedGun) -> str | None:
    """Emergency-stop one gun; why it could not be reached, if it could not."""
    try:
        await asyncio.wait_for(hosted.gun.emergency_stop(), STOP_TIMEOUT_S)
    except MesogunError as exc:
        return str(exc)
    except TimeoutError:
        return f"no answer within {STOP_TIMEOUT_S:g} s"
    except Exception as exc:  # whatever it was, the other guns are stopped all the same, and the page says so
        log.exception("tablet emergency stop of %s", hosted.url)
        return f"{type(exc).__name__}: {exc}"
    return None


@router.post("/emergency-stop")
async def emergency_stop(request: Request, gun: Annotated[str, Form(max_length=128)] = "") -> Response:
    """Emergency-stop the gun ``gun`` names (a serial number), else every gun; ``{"stopped": [...], "failed":
    {serial: why}}``. A gun named that the service does not own stops every gun instead: never refused."""
    registry: GunRegistry = request.app.state.registry
    guns = [hosted for hosted in registry if gun and hosted.serial == gun] or list(registry)
    failures = await asyncio.gather(*(_stop(hosted) for hosted in guns))
    failed = {hosted.serial or hosted.url: why for hosted, why in zip(guns, failures, strict=True) if why is not None}
    for name, why in failed.items():
        log.error("tablet emergency stop of %s failed: %s", name, why)
    stopped = [hosted.serial or hosted.url for hosted, why in zip(guns, failures, strict=True) if why is None]
    status = 200 if not failed else 503
    if request.headers.get("sec-fetch-mode") == "navigate":  # the form posted without tablet.js: say it as a page
        language = language_of(request)
        heading = gettext(language, N_("Emergency stop sent") if not failed else N_("Emergency stop not confirmed"))
        message = gettext(language, N_("Stopped: {guns}.")).format(guns=", ".join(stopped) or "—")
        if failed:
            message += " " + gettext(language, N_("Not reached: {guns}. Press the stop on the gun.")).format(
                guns=", ".join(failed)
            )
        return render(
            request,
            "message.html",
            layout(request, None, heading=heading, message=message, back="/tablet/guns"),
            status_code=status,
        )
    return JSONResponse({"stopped": stopped, "failed": failed}, status_code=status)
