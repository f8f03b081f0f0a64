"""``/tablet/guns``: the gun picker. Each gun the service owns as a card (serial, model, firmware, connected or not,
its state, its calibration status in words from the record's :class:`~mesogun.record.calibrations.CalibrationBook`,
as the API's ``calibration_warning`` reads it); "Use this gun" keeps the pick in the tablet's
:data:`~mesogun_service.tablet.page.GUN_COOKIE` and opens the session wizard. A gun not connected cannot be picked,
and the card says why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from mesogun.record import TreatmentRecord
from mesogun.record.calibrations import CalibrationBook, CalibrationDue, DueState
from mesogun.wording import Wording
from mesogun_service.api.guns import summary
from mesogun_service.hosted import HostedGun
from mesogun_service.record_access import SharedRecord
from mesogun_service.registry import GunRegistry
from mesogun_service.tablet.i18n import N_, gettext, language_of
from mesogun_service.tablet.page import GUN_COOKIE, go_to, layout, page_user, remember_gun
from mesogun_service.tablet.refusals import notice, worded
from mesogun_service.tablet.templating import render
from mesogun_service.tablet.treat_gun import state_text

router = APIRouter(prefix="/tablet", include_in_schema=False)


@dataclass(frozen=True)
class GunCard:
    """One gun as the picker shows it, its words already in the page's language."""

    serial: str | None
    url: str
    model: str | None
    firmware: str | None
    connected: bool
    state: str
    """The state's name as the API gives it (``idle``, ``armed``, ``disconnected``…): a CSS class too."""
    state_text: str
    calibration: str
    calibration_ok: bool
    picked: bool
    why_not: str | None
    """Why it cannot be picked now (``None``: it can)."""


def calibration_text(language: str, due: CalibrationDue | None) -> tuple[str, bool]:
    """The gun's calibration status in words (in force until DATE, overdue since DATE, never calibrated) and
    whether it is in force; ``due`` ``None``: the gun's serial number is not known yet."""
    if due is None:
        return gettext(language, N_("Calibration: not known until the gun is connected")), False
    if due.state is DueState.NEVER:
        return gettext(language, N_("Never calibrated")), False
    if due.state is DueState.IN_FORCE:
        if due.due_at is None:
            return gettext(language, N_("Calibration in force")), True
        return gettext(language, N_("Calibration in force until {date}")).format(date=due.due_at[:10]), True
    late = sorted(k.due_at[:10] for k in due.kinds if k.state is DueState.OVERDUE and k.due_at)
    if late:
        return gettext(language, N_("Calibration overdue since {date}")).format(date=late[0]), False
    never = Wording(N_("Calibration incomplete: {kinds} never calibrated"), kinds=due.never_calibrated())
    return worded(never, language), False


def card(language: str, hosted: HostedGun, due: CalibrationDue | None, picked: str | None) -> GunCard:
    """The card of one gun."""
    fields = summary(hosted)
    state = str(fields["state"])
    connected = bool(fields["connected"])
    why_not = None
    if not connected:
        why_not = gettext(language, N_("Not connected: switch the gun on and check its cable or network."))
        last_error = fields["last_error"]
        if isinstance(last_error, str) and last_error:
            why = notice(last_error, language)
            why_not += " " + why[:1].upper() + why[1:]  # a sentence of its own
    calibration, ok = calibration_text(language, due)
    return GunCard(
        serial=hosted.serial,
        url=hosted.url,
        model=fields["model"],
        firmware=fields["firmware_version"],
        connected=connected,
        state=state,
        state_text=state_text(language, state),
        calibration=calibration,
        calibration_ok=ok,
        picked=picked is not None and picked == hosted.serial,
        why_not=why_not,
    )


async def cards(request: Request, guns: list[HostedGun]) -> list[GunCard]:
    """The cards of ``guns``, their calibration read from the record in one worker call."""
    record: SharedRecord = request.app.state.record
    serials = [hosted.serial for hosted in guns if hosted.serial]
    today = datetime.now(UTC).date()

    def read(r: TreatmentRecord) -> dict[str, CalibrationDue]:
        book = CalibrationBook(r)
        return {serial: book.due(serial, today) for serial in serials}

    dues = await record.call(read) if serials else {}
    language = language_of(request)
    picked = request.cookies.get(GUN_COOKIE)
    return [card(language, hosted, dues.get(hosted.serial or ""), picked) for hosted in guns]


@router.get("/guns")
async def pick_gun(request: Request) -> Response:
    """Every gun, connected or not, as a card to pick it by."""
    who = await page_user(request)
    registry: GunRegistry = request.app.state.registry
    return render(request, "guns.html", layout(request, who, guns=await cards(request, list(registry))))


@router.post("/guns/{serial}/pick")
async def pick(request: Request, serial: str) -> Response:
    """Use this gun: kept in the tablet's cookie, on to its session wizard. A gun not connected is refused on its
    card (409), nothing kept."""
    who = await page_user(request)
    registry: GunRegistry = request.app.state.registry
    hosted = registry.get(serial)
    if not hosted.connected.is_set() or hosted.serial is None:
        found = (await cards(request, [hosted]))[0]
        return render(request, "_gun_card.html", layout(request, who, g=found), status_code=409)
    reply = go_to(request, f"/tablet/guns/{hosted.serial}/session")
    remember_gun(reply, hosted.serial)
    return reply
