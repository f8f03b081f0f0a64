"""The summary of one treatment session (a visit): what the record says happened, in user units, as plain
frozen dataclasses. ``mesogun record show``, the service's API and the reports (PDF, HTML, aftercare sheet)
are all made from a :class:`SessionSummary`; the record builds it in one query per part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneTotal:
    """The shots and volume delivered in one treatment zone during the session."""

    zone: str
    """The zone's id (:mod:`mesogun.clinic.zones`), e.g. ``face.forehead``."""
    label: str
    """How a person reads it, e.g. "Forehead"."""
    shots: int
    volume_ml: float
    depth_mm_min: float | None
    depth_mm_max: float | None


@dataclass(frozen=True)
class ChecklistAnswer:
    """One pre-treatment checklist item and how it was answered."""

    item: str
    question: str
    present: bool
    """True: the contraindication is present (answered "yes")."""
    note: str


@dataclass(frozen=True)
class Override:
    """A soft limit exceeded on purpose: what, the limit, the reason given, by whom and when."""

    ts: str
    limit: str
    """Which soft limit, e.g. ``preset.face.max_depth_mm``."""
    detail: str
    """The value and the limit in words, e.g. "depth 2.5 mm is deeper than face's soft limit of 2 mm"."""
    reason: str
    by: str


@dataclass(frozen=True)
class AlarmSeen:
    """An alarm the device raised (or was found latched) during the session."""

    ts: str
    code: str
    priority: str
    detail: str


@dataclass(frozen=True)
class AdverseEvent:
    """Something that went wrong for the patient, noted during or after the session."""

    ts: str
    kind: str
    severity: str
    detail: str
    by: str


@dataclass(frozen=True)
class LotUsed:
    """A product lot used in the session."""

    product: str
    lot: str
    expiry: str
    """ISO date, ``YYYY-MM-DD``."""


@dataclass(frozen=True)
class SignOff:
    """The practitioner's signature (21 CFR 11.50): who signed, when, and what the signature means."""

    by: str
    at: str
    meaning: str


@dataclass(frozen=True)
class Voided:
    """A treatment session marked void (opened by mistake, e.g. for the wrong patient): a correction, never a
    deletion; everything it recorded stays, shown as VOID."""

    by: str
    at: str
    reason: str


@dataclass(frozen=True)
class SessionSummary:
    """One treatment session, summarised: who, with what, where on the body, how much at what depth, what was
    checked before, what happened, what the patient was told, and the sign-off."""

    visit_id: int
    patient: str
    """The patient's pseudonymous id (reports are pseudonymised unless asked otherwise)."""
    patient_name: str | None
    """Identifying details: only when asked for, and ``None`` once erased."""
    practitioner: str
    course_id: int | None
    indication: str | None
    session_number: int | None
    """This session's place in its course (1-based), if it belongs to one."""
    planned_sessions: int | None
    interval_days: int | None
    devices: tuple[str, ...]
    """Serial numbers of the guns used."""
    opened: str
    closed: str | None
    preset: str | None
    mode: str | None
    depth_mm: tuple[float, float] | None
    """The shallowest and deepest depth used, mm (``None``: no shot)."""
    dose_ml: tuple[float, float] | None
    lots: tuple[LotUsed, ...]
    syringe: str | None
    needle: str | None
    zones: tuple[ZoneTotal, ...]
    shots: int
    """Shots on record in detail."""
    shots_unreceived: int
    """Shots the device counted whose details never reached the host."""
    volume_ml: float
    alarms: tuple[AlarmSeen, ...]
    overrides: tuple[Override, ...]
    checklist: tuple[ChecklistAnswer, ...]
    adverse_events: tuple[AdverseEvent, ...]
    aftercare: tuple[str, ...]
    """The aftercare advice given, one line each."""
    notes: tuple[str, ...]
    signoff: SignOff | None
    next_session: str | None
    """The suggested date of the next session (ISO date), from the course's interval; ``None``: none planned."""
    consent: str | None = None
    """How the patient's informed consent was given (e.g. "signed form v3"); ``None``: not on record."""
    void: Voided | None = None
    """Set when the session was voided: it is listed, shown as VOID, and left out of the history's totals."""


@dataclass(frozen=True)
class HistoryTotals:
    """A patient's history counted: the sessions that are not void, their shots and volume; and how many were
    voided (listed, not counted)."""

    sessions: int
    shots: int
    volume_ml: float
    voided: int


def history_totals(history: Sequence[SessionSummary]) -> HistoryTotals:
    """The totals of a patient's sessions, the voided ones left out (and counted apart)."""
    kept = [s for s in history if s.void is None]
    voided = len(history) - len(kept)
    return HistoryTotals(len(kept), sum(s.shots for s in kept), sum(s.volume_ml for s in kept), voided)
