"""The treatment page's gun controls: "Arm" (this tablet attends the gun first, so the service's fail-safe hears
its heartbeats; a zone at its volume limit asks for a reason), "Disarm" (confirmed first while a series is in
progress: shots fired since arming), "Stop" (ends a burst) and the gun's state. Disarm and Stop make the gun safe:
they are never refused (not as stale, not as sent twice), as the API's safe commands never are."""

from __future__ import annotations

import logging
from typing import Any, Final

import pydantic
from fastapi import APIRouter, Request
from starlette.responses import Response

from mesogun.clinic.errors import ReasonRequired, SoftLimitExceeded
from mesogun.errors import MesogunError
from mesogun_service.accounts import Principal, Role
from mesogun_service.accounts.auth import SESSION_COOKIE
from mesogun_service.api import attendance, guns, safety
from mesogun_service.api.bodies import ArmBody, AttendBody
from mesogun_service.errors import http_status
from mesogun_service.hosted import HostedGun
from mesogun_service.tablet.forms import FieldErrors, FormGuard
from mesogun_service.tablet.i18n import N_, language_of
from mesogun_service.tablet.page import go_to, layout, page_user, safe_command_user, sign_in_url
from mesogun_service.tablet.refusals import invalid, say
from mesogun_service.tablet.templating import render
from mesogun_service.tablet.treat_forms import fresh, page_path, posted
from mesogun_service.tablet.treat_gun import (
    ARMED,
    arm_marks,
    hosted_of,
    in_series,
    open_session,
    state_of,
    state_text,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/tablet/guns/{serial}/treat", include_in_schema=False)

ATTENDANCE_COOKIE: Final = "mesogun_attendance"
"""This tablet's attendance of a gun (``SERIAL:ID``): the page sends its heartbeats while it is live."""


def attendance_of(request: Request, hosted: HostedGun) -> str | None:
    """This tablet's live attendance of the gun (``None``: none, or it lapsed)."""
    serial, _, attendee = request.cookies.get(ATTENDANCE_COOKIE, "").rpartition(":")
    if serial != hosted.serial or not attendee or attendee not in hosted.attendance:
        return None
    return attendee


def controls_values(
    request: Request, hosted: HostedGun, session: dict[str, Any] | None, **changes: Any
) -> dict[str, Any]:
    """What the controls show: the gun's state, which of Arm or Disarm, whether a disarm asks first."""
    state = state_of(hosted)
    return {
        "state": state,
        "state_text": state_text(language_of(request), state),
        "seen_state": state,
        "armed": state in ARMED,
        "series": in_series(request, hosted) if state in ARMED else False,
        "visit_id": (session or {}).get("visit_id"),
        "errors": None,
        "soft_limit": None,
        "reason": "",
        "ask_disarm": False,
        **changes,
    }


def _controls(request: Request, serial: str, values: dict[str, Any], status: int = 200) -> Response:
    guard: FormGuard = request.app.state.tablet_forms
    context = layout(request, None, gun=serial, serial=serial, controls={**values, "form_id": guard.new_id()})
    return render(request, "_treat_controls.html", context, status_code=status)


@router.get("/controls")
async def controls(request: Request, serial: str) -> Response:
    """The controls again (the page asks when the live stream says the gun's state changed)."""
    await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    return _controls(request, serial, controls_values(request, hosted, await open_session(request, hosted)))


async def _attend(request: Request, who: Principal, hosted: HostedGun) -> str:
    """This tablet's attendance of the gun: its live one, else a new one (``attendance.attend``)."""
    live = attendance_of(request, hosted)
    if live is not None:
        return live
    joined = await attendance.attend(hosted, AttendBody(client=f"tablet {who.user}"))
    attendee: str = joined["id"]
    return attendee


@router.post("/arm")
async def arm(request: Request, serial: str) -> Response:
    """ "Arm": attend the gun, then arm it (``guns.arm``); a zone at its volume limit asks for a reason first."""
    who = await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    errors = FieldErrors(language_of(request))
    form = await posted(request)
    session = await open_session(request, hosted)
    asked = form.get("reason_asked") == "1"
    changes: dict[str, Any] = {"reason": form.get("override_reason", "")}
    status = 409
    if fresh(request, errors, hosted, form):
        try:
            attendee = await _attend(request, who, hosted)
            body = ArmBody(override_reason=form.get("override_reason", "")) if asked else None
            await guns.arm(request, hosted, request.app.state.soft_limits[hosted.url], body)
        except pydantic.ValidationError as exc:
            errors.form = "; ".join(invalid(errors.language, problem) for problem in exc.errors())
            status = 422
        except SoftLimitExceeded as exc:
            changes["soft_limit"] = say(exc, errors.language)
            errors.say_form(N_("This zone is at its volume limit: say why to arm all the same (kept in the record)."))
        except ReasonRequired:
            changes["soft_limit"] = form.get("soft_limit", "")
            errors.say("override_reason", N_("Reason: say why the zone's limit is crossed (kept in the record)"))
            status = 422
        except MesogunError as exc:
            errors.form = say(exc, errors.language)
            status = http_status(exc)
        else:
            arm_marks(request).armed(hosted)
            reply = go_to(request, page_path(serial))
            reply.set_cookie(
                ATTENDANCE_COOKIE, f"{serial}:{attendee}", path="/tablet", httponly=True, samesite="strict"
            )
            return reply
    if asked and changes.get("soft_limit") is None:
        changes["soft_limit"] = form.get("soft_limit", "")
    values = controls_values(request, hosted, session, errors=errors, **changes)
    return _controls(request, serial, values, status)


@router.post("/disarm")
async def disarm(request: Request, serial: str) -> Response:
    """ "Disarm" (the API's safe command, never refused): during a series not confirmed on the page, the page asks
    first (its controls come back asking), and disarms once confirmed. The gun is made safe before anything else is
    looked up (who asked is read afterwards), and a question that cannot be asked disarms at once."""
    hosted = hosted_of(request, serial)
    form = await posted(request)
    if form.get("confirmed") != "1" and SESSION_COOKIE in request.cookies:
        try:
            if state_of(hosted) in ARMED and in_series(request, hosted):
                values = controls_values(request, hosted, await open_session(request, hosted), ask_disarm=True)
                return _controls(request, serial, values)
        except Exception:  # the question could not be put: disarm without it
            log.exception("gun %s: the disarm's confirmation could not be asked; disarming at once", serial)
    await safety.disarm(hosted)
    arm_marks(request).disarmed(hosted)
    who = await safe_command_user(request)
    return go_to(request, page_path(serial) if who is not None else sign_in_url(page_path(serial)))


@router.post("/stop")
async def stop(request: Request, serial: str) -> Response:
    """ "Stop": end the burst in progress at the end of its shot (the API's safe command, never refused; who asked
    is read after)."""
    hosted = hosted_of(request, serial)
    await safety.stop(hosted)
    who = await safe_command_user(request)
    if who is None:
        return go_to(request, sign_in_url(page_path(serial)))
    if state_of(hosted) not in ARMED:
        return go_to(request, page_path(serial))
    return _controls(request, serial, controls_values(request, hosted, await open_session(request, hosted)))
