"""Request bodies of the clinical workflow's routes (:mod:`.clinic`, :mod:`.treatments`): strict JSON types, no
unknown fields, bounded strings and lists. The values themselves are checked by the clinic's rules
(:mod:`mesogun.clinic`) in the record's books, each refusal naming its field, so the rules live in one place."""

from __future__ import annotations

from pydantic import Field

from mesogun_service.api.bodies import Body

TEXT = 2000
"""The longest free text (a note, an adverse event's detail), characters: the record's own limit."""
LINE = 200
"""The longest one-line value (a name, an indication, a product), characters."""
REASON = 1000
"""The longest reason (an override, an erasure, a correction), characters."""


class PatientBody(Body):
    pseudonym: str | None = Field(default=None, max_length=40, description="Default: a random one (P-XXXXXXXX)")
    name: str | None = Field(default=None, max_length=LINE, description="Identifying: kept in one table only")
    birth_date: str | None = Field(default=None, max_length=10, description="YYYY-MM-DD")
    contact: str | None = Field(default=None, max_length=LINE)


class CorrectionBody(Body):
    reason: str = Field(max_length=REASON, description="Why (kept in the audit log)")
    changes: dict[str, str | None] = Field(
        max_length=3, description="name, birth_date, contact: the new value (null clears it)"
    )


class ErasureBody(Body):
    reason: str = Field(max_length=REASON, description="Why (kept in the audit log with the erasure)")


class CourseBody(Body):
    indication: str = Field(max_length=LINE, description="e.g. 'skin rejuvenation'")
    planned_sessions: int = Field(description="Sessions planned (1-50)")
    interval_days: int = Field(description="Days between sessions (1-365)")
    preset: str | None = Field(default=None, max_length=40, description="Built in or the clinic's")


class LotBody(Body):
    product: str = Field(max_length=LINE, description="The product or cocktail")
    lot_number: str = Field(max_length=LINE)
    expiry: str = Field(max_length=10, description="YYYY-MM-DD: usable through this day")
    description: str = Field(default="", max_length=LINE, description="The product's, if it is new")


class PresetBody(Body):
    name: str = Field(max_length=40)
    depth_mm: float
    dose_ml: float
    rate_hz: float
    mode: str = Field(max_length=32)
    description: str = Field(default="", max_length=LINE)
    max_depth_mm: float | None = Field(default=None, description="Soft limit: deeper needs an override")
    max_volume_per_zone_ml: float | None = Field(default=None, description="Soft limit per zone in one session")


class ChecklistAnswerBody(Body):
    present: bool = Field(description="True: the contraindication is present")
    note: str = Field(default="", max_length=LINE)


class TreatmentBody(Body):
    patient_id: int
    lot_id: int
    zone: str = Field(max_length=64, description="A zone id of GET /zones, e.g. face.forehead")
    checklist: dict[str, bool | ChecklistAnswerBody] = Field(
        max_length=64, description="Every item of GET /checklist answered: true (present) or false"
    )
    consent: str = Field(
        max_length=LINE, description="How the patient's informed consent was given, e.g. 'signed form v3'"
    )
    course_id: int | None = None
    preset: str | None = Field(default=None, max_length=40, description="Default: the course's")
    override_reason: str | None = Field(
        default=None, max_length=REASON, description="Why the session goes ahead with a contraindication present"
    )
    syringe_brand: str | None = Field(default=None, max_length=100)
    syringe_ml: float | None = None
    needle_gauge: int | None = Field(default=None, description="G, e.g. 32 (with needle_length_mm)")
    needle_length_mm: float | None = None
    note: str = Field(default="", max_length=TEXT)


class ZoneBody(Body):
    zone: str = Field(max_length=64)


class LotChangeBody(Body):
    lot_id: int


class NeedleBody(Body):
    gauge: int
    length_mm: float


class TextBody(Body):
    text: str = Field(max_length=TEXT)


class AdverseEventBody(Body):
    kind: str = Field(max_length=LINE, description="e.g. bruising, erythema, pain")
    severity: str = Field(max_length=16, description="mild, moderate or severe")
    detail: str = Field(default="", max_length=TEXT)


class AftercareBody(Body):
    lines: list[str] | None = Field(default=None, max_length=50, description="Default: the standard advice")


class VoidBody(Body):
    reason: str = Field(max_length=REASON, description="Why the session is void, e.g. 'opened for the wrong patient'")


class SignOffBody(Body):
    meaning: str | None = Field(default=None, max_length=LINE, description="Default: the standard meaning")
