"""``/tablet/guns/{serial}/session``: the session wizard, one page in steps a practitioner works down with one
hand: the patient (search by pseudonym, or add one), the course (pick one of theirs, or open one), the product lot
(pick one on record, or enter one: an expired one refused at its expiry, one near it warned), then the session
itself (syringe, needle, first zone, how consent was given, every checklist item answered Yes or No) and "Start
session" (the API's ``treatments.start``) → the treat page. A gun with a session open offers "Continue session".

Every write goes through the API's route functions (:mod:`mesogun_service.api.clinic`,
:mod:`~mesogun_service.api.treatments`), so the clinic's rules decide; an assistant may prepare (patient, course,
lot), only a practitioner starts. A refusal is said at its field and changes nothing; a form posted twice acts once
(:class:`~mesogun_service.tablet.forms.FormGuard`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from mesogun.clinic import lots as lot_rules
from mesogun.clinic.actors import PRACTITIONER
from mesogun.clinic.errors import ClinicError, LotExpired
from mesogun.errors import AccessDenied, MesogunError
from mesogun.record.visits import NoSuchVisit, VisitAlreadyOpen
from mesogun_service.accounts import Principal, Role
from mesogun_service.api import clinic, treatments
from mesogun_service.api.clinic import checklist_items
from mesogun_service.api.deps import IdentifiedRead, actor_of
from mesogun_service.hosted import HostedGun
from mesogun_service.record_access import SharedRecord
from mesogun_service.registry import GunRegistry
from mesogun_service.tablet import setup_form
from mesogun_service.tablet.forms import FORM_ID_FIELD, FieldErrors, FormGuard
from mesogun_service.tablet.guns import cards
from mesogun_service.tablet.i18n import N_, gettext, language_of
from mesogun_service.tablet.page import go_to, layout, page_user
from mesogun_service.tablet.refusals import at_field, notice
from mesogun_service.tablet.templating import render
from mesogun_service.tablet.treat_gun import is_stale, say_stale, state_of

router = APIRouter(prefix="/tablet/guns/{serial}/session", include_in_schema=False)

SEARCH_RESULTS = 20
"""The most patients a search lists (type more of the pseudonym to narrow it)."""


@dataclass(frozen=True)
class Picks:
    """What the wizard has picked so far (kept in the page's address, so a reload or a step's form keeps it)."""

    patient: int | None = None
    course: int | None = None
    lot: int | None = None

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Picks:
        """The picks of a query string or a form (``patient``, ``course``, ``lot``; anything else ignored)."""

        def number(name: str) -> int | None:
            raw = values.get(name, "").strip()
            return int(raw) if raw.isdigit() else None

        return cls(number("patient"), number("course"), number("lot"))

    def url(self, serial: str, anchor: str = "", **changes: int | None) -> str:
        """The wizard's address with these picks (``changes`` replacing some), at ``#anchor``."""
        values = {"patient": self.patient, "course": self.course, "lot": self.lot, **changes}
        query = urlencode({k: v for k, v in values.items() if v is not None})
        return f"/tablet/guns/{serial}/session" + (f"?{query}" if query else "") + (f"#{anchor}" if anchor else "")


def _hosted(request: Request, serial: str) -> HostedGun:
    registry: GunRegistry = request.app.state.registry
    return registry.get(serial)


def _record(request: Request) -> SharedRecord:
    record: SharedRecord = request.app.state.record
    return record


def _guard(request: Request) -> FormGuard:
    guard: FormGuard = request.app.state.tablet_forms
    return guard


async def _open_session(request: Request, hosted: HostedGun) -> dict[str, Any] | None:
    """The treatment session open on the gun (``treatments.current``), or ``None``."""
    try:
        found: dict[str, Any] = await treatments.current(hosted, _record(request))
    except NoSuchVisit:
        return None
    return found


def _reader(request: Request) -> IdentifiedRead:
    """Who reads a patient (never their identifying details here: the wizard shows the pseudonym only)."""
    return IdentifiedRead(actor_of(request).name, f"{request.method} {request.url.path}", "")


async def _patient(request: Request, patient_id: int | None) -> dict[str, Any] | None:
    """The patient picked (with their courses), or ``None`` (none picked, or no such patient)."""
    if patient_id is None:
        return None
    try:
        found: dict[str, Any] = await clinic.show_patient(_record(request), _reader(request), patient_id)
    except ClinicError:
        return None
    return found


async def _search(request: Request, typed: str) -> list[dict[str, Any]]:
    """The patients whose pseudonym holds ``typed`` (any case), newest first, at most :data:`SEARCH_RESULTS`."""
    if not typed:
        return []
    wanted = typed.casefold()
    everyone: list[dict[str, Any]] = await clinic.list_patients(_record(request))
    found = [p for p in reversed(everyone) if wanted in str(p["pseudonym"]).casefold()]
    return found[:SEARCH_RESULTS]


def _presets(language: str, listed: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each preset as the pickers list it: its name and description (a built-in one's in the page's language)."""

    def text(preset: dict[str, Any]) -> str:
        description = str(preset.get("description") or "")
        return f"{preset['name']} — {gettext(language, description)}" if description else str(preset["name"])

    return [(str(p["name"]), text(p)) for p in listed]


async def _choices(request: Request) -> dict[str, Any]:
    """What the start and course forms choose from: lots (each with ``expired`` and its ``warning``), presets,
    zones, the checklist."""
    record = _record(request)
    language = language_of(request)
    lots = [
        {**lot, "warning": notice(lot["warning"], language) if lot.get("warning") else None}
        for lot in await clinic.list_lots(record)
    ]
    return {
        "lots": lots,
        "presets": _presets(language, await clinic.list_presets(record)),
        "zones": [(z["id"], gettext(language, z["label"])) for z in await clinic.list_zones()],
        "items": checklist_items(request),
    }


async def _context(
    request: Request,
    who: Principal,
    hosted: HostedGun,
    picks: Picks,
    *,
    errors: Mapping[str, FieldErrors] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Everything the wizard page (or one of its form fragments) needs; ``errors`` and ``values`` by form
    (``patient``, ``course``, ``lot``, ``start``): what was typed and what was refused, to show again."""
    serial = hosted.serial or hosted.url
    patient = await _patient(request, picks.patient)
    courses = [c for c in (patient or {}).get("courses", []) if c.get("closed") is None]
    guard = _guard(request)
    choices = await _choices(request)
    return layout(
        request,
        who,
        gun=serial,
        serial=serial,
        picks=picks,
        patient=patient,
        courses=courses,
        gun_card=(await cards(request, [hosted]))[0],
        seen_state=state_of(hosted),
        may_start=who.has(Role.PRACTITIONER),
        errors={name: (errors or {}).get(name) for name in ("patient", "course", "lot", "start")},
        values={name: dict((values or {}).get(name, {})) for name in ("patient", "course", "lot", "start")},
        form_ids={name: guard.new_id() for name in ("patient", "course", "lot", "start")},
        wizard_url=picks.url,
        picked_course=next((c for c in courses if c["id"] == picks.course), None),
        picked_lot=next((lot for lot in choices["lots"] if lot["id"] == picks.lot), None),
        **choices,
        **extra,
    )


@router.get("")
async def wizard(request: Request, serial: str, q: str = "") -> Response:
    """The wizard, at the step its picks have reached; the session open on the gun instead, if there is one."""
    who = await page_user(request)
    hosted = _hosted(request, serial)
    current = await _open_session(request, hosted)
    if current is not None:
        return render(request, "session_open.html", layout(request, who, gun=serial, serial=serial, session=current))
    picks = Picks.of(request.query_params)
    typed = q.strip()[:40]
    found = await _search(request, typed)
    context = await _context(request, who, hosted, picks, typed=typed, found=found, already_open=False)
    return render(request, "session.html", context)


async def _form(request: Request) -> dict[str, str]:
    """The posted form's text fields (a repeated one: its last value)."""
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


def _start_picks(form: Mapping[str, str]) -> Picks:
    """The picks the start form carries, as its hidden ``patient_id``/``course_id``/``lot_id`` fields."""
    return Picks.of(
        {"patient": form.get("patient_id", ""), "course": form.get("course_id", ""), "lot": form.get("lot_id", "")}
    )


@dataclass(frozen=True)
class _Posted:
    """A wizard form as posted: who posted it, the gun, what was typed, the picks so far, the refusals to say."""

    which: str
    """The form: ``patient``, ``course``, ``lot``, ``start`` (its template is ``_WHICH_form.html``)."""
    who: Principal
    hosted: HostedGun
    form: dict[str, str]
    picks: Picks
    errors: FieldErrors

    def twice(self, request: Request) -> bool:
        """Whether this form was acted on already (said at the form: nothing is done again)."""
        if _guard(request).claim(self.form.get(FORM_ID_FIELD, "")):
            return False
        self.errors.say_form(N_("This form was already sent; nothing was done again."))
        return True

    async def again(self, request: Request, status: int, *, already_open: bool = False) -> Response:
        """The form again with what was typed and each refusal at its field; nothing was changed
        (``already_open``: the gun has a session open, the form offers to continue it)."""
        context = await _context(
            request,
            self.who,
            self.hosted,
            self.picks,
            errors={self.which: self.errors},
            values={self.which: self.form},
            already_open=already_open,
        )
        return render(request, f"_{self.which}_form.html", context, status_code=status)


async def _received(
    request: Request, serial: str, which: str, picks_of: Callable[[Mapping[str, str]], Picks] = Picks.of
) -> _Posted:
    """The form ``which`` posted on gun ``serial`` by a signed-in user, the picks so far read by ``picks_of`` (the
    form's own ``patient``/``course``/``lot`` fields by default)."""
    who = await page_user(request)
    hosted = _hosted(request, serial)
    form = await _form(request)
    return _Posted(which, who, hosted, form, picks_of(form), FieldErrors(language_of(request)))


@router.post("/patients")
async def add_patient(request: Request, serial: str) -> Response:
    """Add a patient (pseudonym, optional name and birth date), then pick them."""
    post = await _received(request, serial, "patient")
    form, errors = post.form, post.errors
    if post.twice(request):
        return await post.again(request, 409)
    body = setup_form.patient_body(form, errors)
    if body is not None:
        try:
            added = await clinic.add_patient(request, _record(request), body)
        except MesogunError as exc:
            setup_form.say_refusal(errors, exc, ("pseudonym", "name", "birth_date"))
        else:
            return go_to(request, Picks(patient=int(added["id"])).url(serial, "course"))
    return await post.again(request, 422)


@router.post("/courses")
async def add_course(request: Request, serial: str) -> Response:
    """Open a course for the patient picked (indication, sessions planned, interval, preset), then pick it."""
    post = await _received(request, serial, "course")
    form, picks, errors = post.form, post.picks, post.errors
    if post.twice(request):
        return await post.again(request, 409)
    body = setup_form.course_body(form, errors)
    if body is not None and picks.patient is None:
        errors.say_form(N_("Choose the patient first."))
    elif body is not None and picks.patient is not None:
        try:
            opened = await clinic.add_course(request, _record(request), picks.patient, body)
        except MesogunError as exc:
            setup_form.say_refusal(errors, exc, setup_form.COURSE_FIELDS)
        else:
            return go_to(request, picks.url(serial, "lot", course=int(opened["id"])))
    return await post.again(request, 422)


@router.post("/lots")
async def add_lot(request: Request, serial: str) -> Response:
    """Enter a product lot (product, lot number, expiry), then pick it. An expired one is refused at its expiry
    (it could never be used in a session); one near its expiry is entered and warned about."""
    post = await _received(request, serial, "lot")
    form, picks, errors = post.form, post.picks, post.errors
    if post.twice(request):
        return await post.again(request, 409)
    body = setup_form.lot_body(form, errors)
    if body is not None:
        try:
            lot_rules.check_usable(lot_rules.lot(body.product, body.lot_number, body.expiry), _today())
            added = await clinic.add_lot(request, _record(request), body)
        except LotExpired as exc:
            errors.add("expiry", at_field(errors.language, setup_form.label(errors.language, "expiry"), exc))
        except MesogunError as exc:
            setup_form.say_refusal(errors, exc, setup_form.LOT_FIELDS)
        else:
            return go_to(request, picks.url(serial, "start", lot=int(added["id"])))
    return await post.again(request, 422)


@router.post("/start")
async def start(request: Request, serial: str) -> Response:
    """Start the treatment session (a practitioner) and go to the treat page; refused at the field, nothing
    changed: an unanswered checklist item, a Yes without a reason, an expired lot, an assistant (the role said),
    a gun whose state changed since the page was shown, a session open on the gun already."""
    post = await _received(request, serial, "start", _start_picks)
    who, hosted, form, errors = post.who, post.hosted, post.form, post.errors
    if post.twice(request):
        return await post.again(request, 409)
    if is_stale(hosted, form.get("seen_state", "")):
        say_stale(errors, hosted)
        return await post.again(request, 409)
    try:  # the role first (the clinic's own check): an assistant is told before anything else
        actor_of(request).require(PRACTITIONER, "starting a treatment session")
    except AccessDenied:
        errors.say_form(
            N_(
                "{user} may not start a session: it needs the practitioner role. An assistant may prepare it"
                " (patient, course, lot)."
            ),
            user=who.user,
        )
        return await post.again(request, 403)
    items = checklist_items(request)
    body = setup_form.start_body(form, items, errors)
    status, already_open = 422, False
    if body is not None:
        soft = request.app.state.soft_limits[hosted.url]
        try:
            await treatments.start(request, hosted, soft, _record(request), body)
        except VisitAlreadyOpen:
            errors.say_form(N_("This gun has a session open already (started elsewhere): continue it instead."))
            status, already_open = 409, True
        except MesogunError as exc:
            setup_form.say_refusal(errors, exc, setup_form.start_fields(items))
        else:
            return go_to(request, f"/tablet/guns/{serial}/treat")
    return await post.again(request, status, already_open=already_open)


def _today() -> date:
    """The day a lot's expiry is judged on (the local day, as the API's ``/lots`` and a session's start judge it)."""
    return date.today()
