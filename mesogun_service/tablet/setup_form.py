"""The session wizard's forms read into the API's bodies (:mod:`mesogun_service.api.clinic_bodies`), and a refusal
(the body's types, the clinic's rules in the record's books) said at the form field it is about. The rules stay in
the core: this only reads what was typed and places the core's words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import pydantic

from mesogun.clinic.checklist import ChecklistItem
from mesogun.errors import MesogunError
from mesogun_service.api.clinic_bodies import CourseBody, LotBody, PatientBody, TreatmentBody
from mesogun_service.tablet.forms import FieldErrors, read_number
from mesogun_service.tablet.i18n import N_, gettext
from mesogun_service.tablet.refusals import at_field, invalid, labelled, say

LABELS: Final = {
    "pseudonym": N_("Pseudonym"),
    "name": N_("Name"),
    "birth_date": N_("Birth date"),
    "indication": N_("Indication"),
    "planned_sessions": N_("Sessions planned"),
    "interval_days": N_("Interval (days)"),
    "preset": N_("Preset"),
    "product": N_("Product"),
    "lot_number": N_("Lot number"),
    "expiry": N_("Expiry date"),
    "patient_id": N_("Patient"),
    "course_id": N_("Course"),
    "lot_id": N_("Product lot"),
    "zone": N_("First zone"),
    "consent": N_("Consent given by"),
    "override_reason": N_("Reason to go ahead"),
    "syringe_brand": N_("Syringe brand"),
    "syringe_ml": N_("Syringe size (mL)"),
    "needle_gauge": N_("Needle gauge (G)"),
    "needle_length_mm": N_("Needle length (mm)"),
}
"""Each form field's label (the API's field names)."""

CORE_FIELDS: Final = {
    "patient": "patient_id",
    "course": "course_id",
    "lot": "lot_id",
    "needle.gauge": "needle_gauge",
    "needle.length_mm": "needle_length_mm",
}
"""A field as the clinic's rules name it → the form field it was typed in (the others are named alike)."""

YES, NO = "yes", "no"
"""A checklist item's answers (``yes``: the contraindication is present)."""


def checklist_field(item_id: str) -> str:
    """The form field of a checklist item (as the rules name it: ``checklist.<id>``)."""
    return f"checklist.{item_id}"


def label(language: str, name: str) -> str:
    """Field ``name``'s label in ``language`` (the name itself for a field without one)."""
    return gettext(language, LABELS[name]) if name in LABELS else name


def say_refusal(errors: FieldErrors, exc: MesogunError, fields: Iterable[str]) -> None:
    """Say the core's refusal ``exc`` at the form field it names (its label first), else for the whole form."""
    core = getattr(exc, "field", None)
    name = CORE_FIELDS.get(core, core) if isinstance(core, str) else None
    if name is not None and name in set(fields):
        errors.add(name, at_field(errors.language, label(errors.language, name), exc))
    else:
        errors.form = say(exc, errors.language)


def say_invalid(errors: FieldErrors, exc: pydantic.ValidationError, fields: Iterable[str]) -> None:
    """Say each of the body's type refusals at its field (``checklist.<id>`` for an answer)."""
    known = set(fields)
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem["loc"][:2])
        name = where if where in known else str(problem["loc"][0]) if problem["loc"] else ""
        said = invalid(errors.language, problem)
        if name in known:
            errors.add(name, labelled(errors.language, label(errors.language, name), said))
        else:
            errors.form = errors.form or labelled(errors.language, where, said)


def _text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _optional(form: Mapping[str, str], name: str) -> str | None:
    return _text(form, name) or None


def _whole(form: Mapping[str, str], name: str, errors: FieldErrors, *, required: bool = True) -> int | None:
    """A whole number typed in ``name`` (refused at the field if it is not one)."""
    value = read_number(form, name, errors, label=label(errors.language, name), required=required)
    if value is None:
        return None
    if not value.is_integer():
        errors.say(
            name, N_("{label}: “{value}” is not a whole number"), label=label(errors.language, name), value=value
        )
        return None
    return int(value)


def _id(form: Mapping[str, str], name: str, errors: FieldErrors, *, missing: str | None) -> int | None:
    """A record id picked in ``name`` (``missing``: what to say when none is picked; ``None``: optional)."""
    raw = _text(form, name)
    if not raw:
        if missing is not None:
            errors.say(name, missing, label=label(errors.language, name))
        return None
    if not raw.isdigit():
        errors.say(name, N_("{label}: “{value}” is not on record"), label=label(errors.language, name), value=raw)
        return None
    return int(raw)


def patient_body(form: Mapping[str, str], errors: FieldErrors) -> PatientBody | None:
    """A new patient: the pseudonym (blank: a random one), and optionally the name and birth date."""
    fields = ("pseudonym", "name", "birth_date")
    try:
        return PatientBody(
            pseudonym=_optional(form, "pseudonym"),
            name=_optional(form, "name"),
            birth_date=_optional(form, "birth_date"),
        )
    except pydantic.ValidationError as exc:
        say_invalid(errors, exc, fields)
        return None


COURSE_FIELDS: Final = ("indication", "planned_sessions", "interval_days", "preset")


def course_body(form: Mapping[str, str], errors: FieldErrors) -> CourseBody | None:
    """A new course: indication, sessions planned, interval in days, and its preset (optional)."""
    sessions = _whole(form, "planned_sessions", errors)
    interval = _whole(form, "interval_days", errors)
    if sessions is None or interval is None:
        return None
    try:
        return CourseBody(
            indication=_text(form, "indication"),
            planned_sessions=sessions,
            interval_days=interval,
            preset=_optional(form, "preset"),
        )
    except pydantic.ValidationError as exc:
        say_invalid(errors, exc, COURSE_FIELDS)
        return None


LOT_FIELDS: Final = ("product", "lot_number", "expiry")


def lot_body(form: Mapping[str, str], errors: FieldErrors) -> LotBody | None:
    """A new product lot: product, lot number and expiry date (YYYY-MM-DD)."""
    try:
        return LotBody(
            product=_text(form, "product"), lot_number=_text(form, "lot_number"), expiry=_text(form, "expiry")
        )
    except pydantic.ValidationError as exc:
        say_invalid(errors, exc, LOT_FIELDS)
        return None


def start_fields(items: Iterable[ChecklistItem]) -> tuple[str, ...]:
    """The start form's fields: the session's choices and one per checklist item."""
    return (
        "patient_id",
        "course_id",
        "lot_id",
        "preset",
        "zone",
        "consent",
        "override_reason",
        "syringe_brand",
        "syringe_ml",
        "needle_gauge",
        "needle_length_mm",
        *(checklist_field(item.id) for item in items),
    )


def start_body(form: Mapping[str, str], items: Iterable[ChecklistItem], errors: FieldErrors) -> TreatmentBody | None:
    """The treatment session to start, as typed: every checklist item answered Yes or No (none is taken for
    granted), the lot picked, the syringe and the needle given; ``None`` with each field's error said."""
    items = tuple(items)
    patient = _id(form, "patient_id", errors, missing=N_("{label}: choose the patient first"))
    course = _id(form, "course_id", errors, missing=None)
    lot = _id(form, "lot_id", errors, missing=N_("{label}: pick a lot on record, or enter a new one above"))
    if not _text(form, "zone"):
        errors.say("zone", N_("{label}: choose one"), label=label(errors.language, "zone"))
    checklist: dict[str, bool] = {}
    for item in items:
        answer = _text(form, checklist_field(item.id))
        if answer not in (YES, NO):
            errors.say(checklist_field(item.id), N_("Answer Yes or No"))
            continue
        checklist[item.id] = answer == YES
    brand = _text(form, "syringe_brand")
    if not brand:
        errors.say("syringe_brand", N_("{label}: a value is needed"), label=label(errors.language, "syringe_brand"))
    size = read_number(form, "syringe_ml", errors, label=label(errors.language, "syringe_ml"))
    gauge = _whole(form, "needle_gauge", errors)
    length = read_number(form, "needle_length_mm", errors, label=label(errors.language, "needle_length_mm"))
    if errors or patient is None or lot is None:
        return None
    try:
        return TreatmentBody(
            patient_id=patient,
            course_id=course,
            lot_id=lot,
            zone=_text(form, "zone"),
            checklist=checklist,  # type: ignore[arg-type]  # dict is invariant: bool is one of the answers
            consent=_text(form, "consent"),
            preset=_optional(form, "preset"),
            override_reason=_text(form, "override_reason"),
            syringe_brand=brand,
            syringe_ml=size,
            needle_gauge=gauge,
            needle_length_mm=length,
        )
    except pydantic.ValidationError as exc:
        say_invalid(errors, exc, start_fields(items))
        return None
