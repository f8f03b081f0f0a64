"""``/tablet/guns/{serial}/treat``: the treatment page of a gun. The gun's state and controls (Arm, Disarm, Stop:
:mod:`.treat_controls`), the live readings (the live stream's ``counters``), loading and priming, the preset and
settings, the zone map (:mod:`.treat_forms`), and "Finish" to the session's close page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mesogun_service.accounts import Role
from mesogun_service.tablet.feed import feed_for
from mesogun_service.tablet.forms import FormGuard
from mesogun_service.tablet.i18n import language_of
from mesogun_service.tablet.page import layout, page_user, remember_gun
from mesogun_service.tablet.templating import render
from mesogun_service.tablet.treat_controls import attendance_of, controls_values
from mesogun_service.tablet.treat_forms import prime_values, settings_values, syringe_values, zone_values
from mesogun_service.tablet.treat_gun import hosted_of, open_session, state_of

router = APIRouter(prefix="/tablet/guns", include_in_schema=False)


@router.get("/{serial}/treat")
async def treat_page(request: Request, serial: str) -> Response:
    """The treatment page: every form with the gun's state as seen now (the stale page rule) and a new form id."""
    who = await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    gun = hosted.gun
    language = language_of(request)
    session = await open_session(request, hosted)
    guard: FormGuard = request.app.state.tablet_forms
    seen = state_of(hosted)

    def form(values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "form_id": guard.new_id(), "seen_state": seen}

    attendee = attendance_of(request, hosted)
    feed = feed_for(request.app, hosted)
    await feed.refresh()  # the session's counts as the record has them now, then the live stream's
    live = feed.snapshot()
    context = layout(
        request,
        who,
        gun=serial,
        serial=serial,
        session=session,
        attendance=attendee,
        heartbeat_s=hosted.attendance.heartbeat_s,
        live=live,
        alarms=live.alarms,
        controls=form(controls_values(request, hosted, session)),
        syringe=form(syringe_values(language, gun.info, session)),
        prime=form(prime_values()),
        settings=form(await settings_values(request, hosted, session)),
        zones=form(zone_values(language, session)),
    )
    reply = render(request, "treat.html", context)
    remember_gun(reply, serial)
    return reply
