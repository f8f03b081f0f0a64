"""``/tablet/treatments/{id}/close`` and ``…/aftercare``: the end of a treatment session on the tablet. Its summary
(the record's :class:`~mesogun.clinic.summary.SessionSummary`), adverse events and notes entered, the aftercare lines
(the standard advice, editable) given and the practitioner's sign-off ("Close session"), or the session discarded
(voided with a reason); then the patient's aftercare sheet to print or download as PDF.

Every write goes through the API's own route functions (:mod:`mesogun_service.api.treatments`): the clinic's rules
decide there. The tablet's one rule of its own: a session whose gun is still armed, firing or priming is neither
closed nor discarded ("Disarm the gun first"): the record's sign-off and void leave the gun as it is, so it would
stay armed, its shots recorded outside any session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import pydantic
from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from mesogun.clinic.aftercare import DEFAULT_ADVICE
from mesogun.clinic.summary import SessionSummary
from mesogun.errors import MesogunError
from mesogun.record.treatment import SEVERITIES
from mesogun.reports import content
from mesogun.session.controller import HostState
from mesogun_service.accounts import Principal, Role
from mesogun_service.api import treatments
from mesogun_service.api.clinic_bodies import AdverseEventBody, AftercareBody, SignOffBody, TextBody, VoidBody
from mesogun_service.errors import NotFound, http_status
from mesogun_service.record_access import SharedRecord
from mesogun_service.registry import GunRegistry
from mesogun_service.tablet.alarms import TEXTS
from mesogun_service.tablet.forms import FORM_ID_FIELD, FieldErrors, FormGuard
from mesogun_service.tablet.i18n import N_, gettext, language_of
from mesogun_service.tablet.page import go_to, layout, page_user
from mesogun_service.tablet.refusals import invalid, labelled, say
from mesogun_service.tablet.templating import render

router = APIRouter(prefix="/tablet/treatments", include_in_schema=False)

MAX_LINES = 50
"""The most aftercare lines a session is given (the API's own limit)."""

UNSAFE = {HostState.ARMED: N_("armed"), HostState.FIRING: N_("firing"), HostState.PRIMING: N_("priming")}
"""The gun's states in which its session is neither closed nor discarded, as the tablet names them."""

SEVERITY_NAMES = {"mild": N_("mild"), "moderate": N_("moderate"), "severe": N_("severe")}
"""Each adverse event severity of the record (:data:`~mesogun.record.treatment.SEVERITIES`) as the tablet names it."""

FORMS = ("adverse", "note", "close", "discard")
"""The close page's acting forms: each has its own one-time id, errors and values."""

LABELS = {
    "kind": N_("Kind"),
    "severity": N_("Severity"),
    "detail": N_("Detail"),
    "text": N_("Note"),
    "lines": N_("Aftercare"),
    "aftercare": N_("Aftercare"),
    "reason": N_("Reason"),
}
"""Each form field's label (a refusal at a field starts with it)."""

POSTED_TWICE = N_("This form was already sent; nothing was done again.")

ALARM_NAMES = {code.json_name: text.title for code, text in TEXTS.items()}
"""Each alarm code the record names (``occlusion``) as the alarm board calls it (catalog words)."""

Act = Callable[[], Awaitable[Any]]


# ---------------------------------------------------------------------------------------------- reading


def _record(request: Request) -> SharedRecord:
    record: SharedRecord = request.app.state.record
    return record


def _registry(request: Request) -> GunRegistry:
    registry: GunRegistry = request.app.state.registry
    return registry


async def read_summary(request: Request, visit_id: int) -> SessionSummary:
    """The session's pseudonymous summary, as ``GET /treatments/{id}/summary`` reads it."""
    return await _record(request).call(lambda r: treatments.read_summary(r, visit_id, None))


def gun_of(summary: SessionSummary) -> str | None:
    """The serial number of the gun the session was given with (its first, if several)."""
    return summary.devices[0] if summary.devices else None


async def session_gun(request: Request, visit_id: int) -> str:
    """The gun the session was started on (``GET /treatments/{id}``'s ``device_serial``)."""
    shown = await treatments.show(_record(request), visit_id)
    return str(shown["device_serial"])


def unsafe_state(request: Request, visit_id: int, serial: str | None) -> HostState | None:
    """The state of the session's gun if it is armed, firing or priming while it still records into this session;
    ``None`` when it is safe, has moved on to another session, or is not this service's."""
    if serial is None:
        return None
    try:
        hosted = _registry(request).get(serial)
    except NotFound:
        return None
    gun = hosted.last_gun
    if gun is None or hosted.recorder.visit_id != visit_id or gun.state not in UNSAFE:
        return None
    return gun.state


def default_lines(summary: SessionSummary) -> list[str]:
    """The aftercare lines the close form starts with: those the record says were given, else the standard advice
    (:data:`mesogun.clinic.aftercare.DEFAULT_ADVICE`)."""
    return list(summary.aftercare) if summary.aftercare else [item.text for item in DEFAULT_ADVICE]


def lines_posted(form: FormData) -> list[str]:
    """The aftercare lines of a posted close form, in order (at most :data:`MAX_LINES`)."""
    return [str(line) for line in form.getlist("lines")][:MAX_LINES]


# ---------------------------------------------------------------------------------------------- rendering


async def close_context(
    request: Request,
    who: Principal,
    visit_id: int,
    *,
    lines: Sequence[str] | None = None,
    errors: Mapping[str, FieldErrors] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    done: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the close page and each of its forms render with: the summary now, each form's new id, its errors,
    the values typed (kept after a refusal) and what was just done."""
    summary = await read_summary(request, visit_id)
    serial = gun_of(summary) or await session_gun(request, visit_id)
    state = unsafe_state(request, visit_id, serial)
    guard: FormGuard = request.app.state.tablet_forms
    language = language_of(request)
    return layout(
        request,
        who,
        gun=serial,
        s=summary,
        visit_id=visit_id,
        closed=summary.signoff is not None or summary.void is not None,
        lines=list(lines) if lines is not None else default_lines(summary),
        max_lines=MAX_LINES,
        severities=[(value, gettext(language, SEVERITY_NAMES[value])) for value in SEVERITIES],
        severity_names={value: gettext(language, name) for value, name in SEVERITY_NAMES.items()},
        priority_names=content.PRIORITY_NAMES,
        alarm_names=ALARM_NAMES,
        when=content.when,
        unsafe=UNSAFE[state] if state is not None else None,
        errors=dict(errors or {}),
        values={name: dict((values or {}).get(name, {})) for name in FORMS},
        done=dict(done or {}),
        form_ids={name: guard.new_id() for name in FORMS},
        new_session=f"/tablet/guns/{serial}/session",
    )


def _say(errors: FieldErrors, exc: Exception) -> None:
    """The API's refusal at its field (its label first, then the core's words), else for the whole form."""
    if isinstance(exc, pydantic.ValidationError):
        for problem in exc.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            _at(errors, name, invalid(errors.language, problem))
        return
    message = say(exc, errors.language) if isinstance(exc, MesogunError) else str(exc)
    _at(errors, str(getattr(exc, "field", "") or ""), message)


def _at(errors: FieldErrors, name: str, message: str) -> None:
    if name in LABELS:
        errors.add(name, labelled(errors.language, gettext(errors.language, LABELS[name]), message))
    elif errors.form is None:
        errors.form = message


def refuse_role(who: Principal, errors: FieldErrors) -> int:
    """403, said at the form, if ``who`` lacks the practitioner role closing or discarding a session needs (the
    record's books refuse it too; asked first so that nothing, not even the aftercare, is entered then)."""
    if who.has(Role.PRACTITIONER):
        return 0
    role = gettext(errors.language, N_("practitioner"))
    errors.say_form(N_("{user} may not do this: it needs the {role} role."), user=who.user, role=role)
    return 403


def refuse_unsafe(request: Request, visit_id: int, serial: str | None, errors: FieldErrors) -> int:
    """409, said at the form, if the session's gun is still armed, firing or priming (else 0)."""
    state = unsafe_state(request, visit_id, serial)
    if state is None:
        return 0
    errors.say_form(
        N_("Disarm the gun first: gun {serial} is {state}. Nothing was done."),
        serial=serial,
        state=gettext(errors.language, UNSAFE[state]),
    )
    return 409


async def act(
    request: Request,
    who: Principal,
    visit_id: int,
    name: str,
    template: str,
    form: FormData,
    values: Mapping[str, str],
    action: Act,
    *,
    errors: FieldErrors | None = None,
    refused: int = 422,
    done: str | None = None,
    lines: Sequence[str] | None = None,
) -> Response:
    """One acting form of the close page: refused already (``errors``), posted twice (409, nothing done again), or
    ``action`` done (the API's route function; its refusal at its field, 422, nothing changed). The form's fragment
    again, after: emptied with ``done`` said, or with the values typed and the reason (``refused``: the status of a
    refusal already in ``errors``)."""
    errors = errors if errors is not None else FieldErrors(language_of(request))
    status = refused
    if not errors:
        guard: FormGuard = request.app.state.tablet_forms
        if not guard.claim(str(form.get(FORM_ID_FIELD, ""))):
            errors.say_form(POSTED_TWICE)
            status = 409
        else:
            try:
                result = await action()
            except (pydantic.ValidationError, MesogunError) as exc:
                _say(errors, exc)
                status = http_status(exc) if isinstance(exc, MesogunError) else 422
            else:
                if isinstance(result, Response):
                    return result
                said = {name: gettext(errors.language, done)} if done else {}
                context = await close_context(request, who, visit_id, done=said, lines=lines)
                return render(request, template, {**context, "oob": True})
    context = await close_context(request, who, visit_id, errors={name: errors}, values={name: values}, lines=lines)
    return render(request, template, context, status_code=status)


# ---------------------------------------------------------------------------------------------- pages


@router.get("/{visit_id}/close")
async def close_page(request: Request, visit_id: int) -> Response:
    """The session's summary with its adverse event and note forms, the aftercare lines and "Close session", and
    "Discard session"; once closed (signed off or void), the summary with "New session" and "Sign out"."""
    who = await page_user(request)
    return render(request, "close.html", await close_context(request, who, visit_id))


@router.post("/{visit_id}/adverse-events")
async def enter_adverse_event(request: Request, visit_id: int) -> Response:
    """An adverse event (kind, severity, detail) entered: the form emptied and the summary's list updated."""
    who = await page_user(request)
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in ("kind", "severity", "detail")}
    errors = FieldErrors(language_of(request))
    if not values["kind"].strip():
        label = gettext(errors.language, N_("Kind"))
        errors.say("kind", N_("{label}: say what happened, e.g. bruising"), label=label)

    async def enter() -> Any:
        body = AdverseEventBody(**values)
        return await treatments.adverse_event(request, _record(request), visit_id, body)

    return await act(
        request, who, visit_id, "adverse", "_close_adverse_form.html", form, values, enter,
        errors=errors, done=N_("Adverse event entered."),
    )  # fmt: skip


@router.post("/{visit_id}/notes")
async def enter_note(request: Request, visit_id: int) -> Response:
    """A note entered in the session: the form emptied and the summary's notes updated."""
    who = await page_user(request)
    form = await request.form()
    values = {"text": str(form.get("text", ""))}
    errors = FieldErrors(language_of(request))
    if not values["text"].strip():
        errors.say("text", N_("{label}: type the note"), label=gettext(errors.language, N_("Note")))

    async def enter() -> Any:
        return await treatments.note(request, _record(request), visit_id, TextBody(text=values["text"]))

    return await act(
        request, who, visit_id, "note", "_close_note_form.html", form, values, enter,
        errors=errors, done=N_("Note entered."),
    )  # fmt: skip


@router.post("/{visit_id}/close/lines")
async def edit_lines(request: Request, visit_id: int) -> Response:
    """The close form again with an aftercare line added (``edit=add``) or removed (``edit=remove-N``); nothing is
    entered until "Close session"."""
    who = await page_user(request)
    form = await request.form()
    lines = lines_posted(form)
    edit = str(form.get("edit", ""))
    if edit == "add" and len(lines) < MAX_LINES:
        lines.append("")
    elif edit.startswith("remove-") and edit[7:].isdigit() and int(edit[7:]) < len(lines):
        del lines[int(edit[7:])]
    return render(request, "_close_form.html", await close_context(request, who, visit_id, lines=lines))


@router.post("/{visit_id}/close")
async def close_session(request: Request, visit_id: int) -> Response:
    """ "Close session": the aftercare lines given (unless the record holds these already) and the practitioner's
    sign-off, then the aftercare sheet. Refused at the form, nothing entered: a user without the practitioner
    role, a gun still armed, firing or priming, lines the clinic's rules refuse (said at the lines)."""
    who = await page_user(request)
    form = await request.form()
    lines = lines_posted(form)
    errors = FieldErrors(language_of(request))
    serial = await session_gun(request, visit_id)
    refused = refuse_role(who, errors) or refuse_unsafe(request, visit_id, serial, errors)
    if not refused and not any(line.strip() for line in lines):
        label = gettext(errors.language, N_("Aftercare"))
        errors.say("lines", N_("{label}: give at least one line of advice"), label=label)

    async def sign() -> Any:
        summary = await read_summary(request, visit_id)
        kept = [line.strip() for line in lines if line.strip()]
        if kept != list(summary.aftercare):
            await treatments.aftercare(request, _record(request), visit_id, AftercareBody(lines=kept))
        await treatments.sign_off(request, _registry(request), _record(request), visit_id, SignOffBody())
        return go_to(request, f"/tablet/treatments/{visit_id}/aftercare")

    return await act(
        request, who, visit_id, "close", "_close_form.html", form, {}, sign,
        errors=errors, refused=refused or 422, lines=lines,
    )  # fmt: skip


@router.post("/{visit_id}/discard")
async def discard_session(request: Request, visit_id: int) -> Response:
    """ "Discard session": the session voided with the reason given (nothing deleted: shown VOID), then the close
    page of the void session. Refused at the form: no reason, a user without the practitioner role, a gun still
    armed, firing or priming."""
    who = await page_user(request)
    form = await request.form()
    values = {"reason": str(form.get("reason", ""))}
    errors = FieldErrors(language_of(request))
    serial = await session_gun(request, visit_id)
    refused = 0
    if not values["reason"].strip():
        label = gettext(errors.language, N_("Reason"))
        errors.say("reason", N_("{label}: say why the session is discarded"), label=label)
    else:
        refused = refuse_role(who, errors) or refuse_unsafe(request, visit_id, serial, errors)

    async def void() -> Any:
        body = VoidBody(reason=values["reason"])
        await treatments.void(request, _registry(request), _record(request), visit_id, body)
        return go_to(request, f"/tablet/treatments/{visit_id}/close")

    return await act(
        request, who, visit_id, "discard", "_close_discard_form.html", form, values, void,
        errors=errors, refused=refused or 422,
    )  # fmt: skip


@router.get("/{visit_id}/aftercare")
async def aftercare_page(request: Request, visit_id: int) -> Response:
    """The patient's aftercare sheet in the tablet's language (the export's own words:
    :func:`mesogun.reports.content.aftercare_sheet`) with "Print" and "Download PDF"
    (``/treatments/{id}/aftercare.pdf?language=…``: the same sheet), "New session" and "Sign out"."""
    who = await page_user(request)
    summary = await read_summary(request, visit_id)
    serial = gun_of(summary) or await session_gun(request, visit_id)
    language = language_of(request)
    config = request.app.state.config
    sheet = content.aftercare_sheet(
        summary,
        content.advice_lines(summary, None),
        clinic_name=config.clinic_name,
        contact=config.clinic_contact(),
        language=language,
    )
    context = layout(
        request,
        who,
        gun=serial,
        s=summary,
        sheet=sheet,
        on_sheet=True,
        when=content.when,
        visit_id=visit_id,
        pdf=f"/treatments/{visit_id}/aftercare.pdf?language={language}",
        new_session=f"/tablet/guns/{serial}/session",
    )
    return render(request, "aftercare.html", context)
