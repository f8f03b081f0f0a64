"""The clinical side of a treatment session (a visit, :mod:`mesogun.record.visits`): started for a patient (and a
course) with a product lot, a preset, a zone and the pre-treatment checklist answered; then its zone, lot and needle
changed, notes, adverse events and aftercare entered, soft-limit overrides kept with their reasons; and the
practitioner's sign-off, which closes it.

Every input is checked by the clinic's rules (:mod:`mesogun.clinic`) before anything is written; each write is
one durable transaction holding its audit entry (old and new values), so a refusal changes nothing, not even the
audit log. The actor (:class:`~mesogun.clinic.actors.Actor`) is who the gun service signed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from firmware_protocol import Mode
from mesogun.clinic import aftercare as aftercare_rules
from mesogun.clinic import checklist as checklist_rules
from mesogun.clinic import limits, lots, needles, zones
from mesogun.clinic.actors import ADMIN, PRACTITIONER, Actor
from mesogun.clinic.checklist import DEFAULT_ITEMS, AnswerGiven, ChecklistItem
from mesogun.clinic.errors import ClinicError, ReasonRequired, VisitNotTreatment
from mesogun.clinic.presets import find
from mesogun.clinic.summary import SessionSummary, SignOff, Voided
from mesogun.i18n import N_
from mesogun.record import schema as t
from mesogun.record.audit import append_audit
from mesogun.record.basics import now
from mesogun.record.courses import course_of
from mesogun.record.lots import lot_of
from mesogun.record.patients import note_identified_read, patient_of
from mesogun.record.presets import clinic_presets
from mesogun.record.queries import as_int
from mesogun.record.store import TreatmentRecord
from mesogun.record.visits import NoSuchVisit, check_note, open_visit
from mesogun.record.voids import VOID, voids
from mesogun.wording import Word, Wording, shown

SIGN_OFF_MEANING = "performed and reviewed the treatment"
"""What a practitioner's sign-off means (21 CFR 11.50: a signature shows its meaning)."""

SEVERITIES = ("mild", "moderate", "severe")
"""How bad an adverse event was."""

TEXT_MAX = 2000
"""The longest note or adverse event detail, characters."""


@dataclass(frozen=True)
class Treatment:
    """A treatment session's clinical side as the record holds it now."""

    visit_id: int
    device_serial: str
    patient_id: int
    course_id: int | None
    practitioner: str
    preset: str | None
    lot_id: int | None
    zone: str | None
    syringe_brand: str | None
    syringe_ml: float | None
    needle: needles.Needle | None
    needle_changed: str | None
    opened: str
    closed: str | None
    signoff: SignOff | None

    @property
    def is_open(self) -> bool:
        """Still open: zone, lot and needle may change."""
        return self.closed is None


@dataclass(frozen=True)
class Started:
    """A treatment session started, and what the practitioner should be told (a lot near its expiry)."""

    treatment: Treatment
    warnings: tuple[str, ...]


class TreatmentBook:
    """Starts, changes, signs off and summarises treatment sessions in a :class:`TreatmentRecord`."""

    def __init__(self, record: TreatmentRecord, *, checklist_items: Sequence[ChecklistItem] = DEFAULT_ITEMS) -> None:
        """``checklist_items``: the clinic's checklist (:func:`mesogun.clinic.checklist.load`), else the default."""
        self.record = record
        self.checklist_items = tuple(checklist_items)

    # -- starting -------------------------------------------------------------------------------------

    def start(
        self,
        device_serial: str,
        *,
        actor: Actor,
        patient_id: int,
        lot_id: int,
        zone: str,
        checklist: Mapping[str, AnswerGiven],
        consent: str,
        course_id: int | None = None,
        preset: str | None = None,
        override_reason: str | None = None,
        syringe_brand: str | None = None,
        syringe_ml: float | None = None,
        needle: needles.Needle | None = None,
        note: str = "",
        today: date | None = None,
    ) -> Started:
        """Open a treatment session on the gun for the patient (in ``course_id`` if given), checked first: the
        actor's practitioner role, the zone, the patient's informed ``consent`` (how it was given, e.g. "signed
        form v3"; never blank), every checklist item answered (a contraindication present only with
        ``override_reason``), the patient, the course (the patient's, open), the lot (not expired ``today``), the
        preset (``None``: the course's). Each refusal names its field; nothing is written then."""
        actor.require(PRACTITIONER, Wording(N_("starting a treatment session")))
        zone_id = zones.zone(zone).id
        consent_kept = _text(consent, "consent", limit=200)
        checked = checklist_rules.check(checklist, items=self.checklist_items, override_reason=override_reason)
        check_note(note)
        syringe = _syringe(syringe_brand, syringe_ml)
        fitted = _needle_columns(needle)
        day = today or date.today()
        with self.record.transaction() as db:
            patient_of(db, patient_id)
            course_preset = None
            if course_id is not None:
                course_preset = course_of(db, course_id, open_only=True, patient_id=patient_id).preset
            stored_lot = lot_of(db, lot_id)
            warning = lots.check_usable(stored_lot.as_lot(), day)
            chosen = preset or course_preset
            if chosen is not None:
                find(chosen, clinic_presets(db))
            clinical: dict[str, Any] = {
                "patient_id": patient_id,
                "course_id": course_id,
                "practitioner": actor.name,
                "preset": chosen,
                "lot_id": lot_id,
                "zone": zone_id,
                "consent": consent_kept,
                **syringe,
                **fitted,
                "needle_changed": None if needle is None else now(),
            }
            visit_id = open_visit(db, device_serial, opened_by=actor.name, note=note, **clinical)
            if checked.answers:
                db.execute(
                    insert(t.checklist_answers),
                    [
                        {
                            "visit_id": visit_id,
                            "item": a.item,
                            "position": n,
                            "question": a.question,
                            "present": int(a.present),
                            "note": a.note,
                        }
                        for n, a in enumerate(checked.answers, start=1)
                    ],
                )
            ts = now()
            for answer in checked.answers:
                if answer.present and checked.override_reason is not None:
                    db.execute(
                        insert(t.overrides).values(
                            visit_id=visit_id,
                            ts=ts,
                            limit_name=f"checklist.{answer.item}",
                            detail=f"contraindication present: {answer.question}"
                            + (f" ({answer.note})" if answer.note else ""),
                            reason=checked.override_reason,
                            overridden_by=actor.name,
                        )
                    )
            append_audit(
                db,
                actor=actor.name,
                action="session.start",
                entity="visit",
                entity_id=visit_id,
                reason=checked.override_reason or "",
                new={
                    "device_serial": device_serial,
                    **clinical,
                    "checklist": {a.item: a.present for a in checked.answers},
                    "contraindications_overridden": list(checked.present),
                },
            )
        return Started(self.get(visit_id), () if warning is None else (warning,))

    # -- changes during the session -------------------------------------------------------------------

    def change_zone(self, visit_id: int, zone: str, *, actor: Actor) -> Treatment:
        """The zone the next shots are given in (each shot carries the zone in force when written)."""
        zone_id = zones.zone(zone).id
        self._change(visit_id, actor, "session.zone", {"zone": zone_id})
        return self.get(visit_id)

    def change_lot(self, visit_id: int, lot_id: int, *, actor: Actor, today: date | None = None) -> Started:
        """Another product lot for the next shots (not expired ``today``); with its near-expiry warning."""
        day = today or date.today()
        warning: list[str] = []

        def check(db: Connection) -> None:
            found = lots.check_usable(lot_of(db, lot_id).as_lot(), day)
            warning.extend([found] if found else [])

        self._change(visit_id, actor, "session.lot", {"lot_id": lot_id}, check=check)
        return Started(self.get(visit_id), tuple(warning))

    def change_needle(self, visit_id: int, needle: needles.Needle, *, actor: Actor) -> Treatment:
        """A new needle fitted now: its shots count from here for the change reminder."""
        checked = needles.needle(needle.gauge, needle.length_mm)
        self._change(visit_id, actor, "session.needle", {**_needle_columns(checked), "needle_changed": now()})
        return self.get(visit_id)

    def needle_reminder(self, visit_id: int, *, every: int = needles.DEFAULT_CHANGE_AFTER_SHOTS) -> str | None:
        """The needle change reminder (``None``: not due): shots of this session since the needle was fitted."""
        return needles.change_reminder(self.needle_shots(visit_id), every=every)

    def needle_shots(self, visit_id: int) -> int:
        """Shots of this session since the needle was fitted (the session's start, without a change)."""
        treatment = self.get(visit_id)
        s, sh = t.sessions.c, t.shots.c
        since = [sh.ts >= treatment.needle_changed] if treatment.needle_changed else []
        ((count,),) = self.record.rows(
            select(as_int(func.count()))
            .select_from(t.shots.join(t.sessions, s.id == sh.session_id))
            .where(s.visit_id == visit_id, sh.received == 1, sh.other_host == 0, *since)
        )
        return int(count)

    def last_shot_index(self, visit_id: int) -> int | None:
        """The device's lifetime index of the session's latest shot on record (``None``: no shot yet): a live view
        counting shots from the events counts only those after it."""
        s, sh = t.sessions.c, t.shots.c
        ((last,),) = self.record.rows(
            select(func.max(sh.shot_index))
            .select_from(t.shots.join(t.sessions, s.id == sh.session_id))
            .where(s.visit_id == visit_id, sh.received == 1, sh.other_host == 0)
        )
        return None if last is None else int(last)

    def check_limits(
        self,
        visit_id: int,
        *,
        mode: Mode | None,
        depth_mm: float | None,
        dose_ml: float | None = None,
        planned_ml: float | None = None,
    ) -> tuple[limits.Breach, ...]:
        """The soft limits these settings would go past in this session (:func:`mesogun.clinic.limits.breaches`
        with the session's preset, its zone and what the zone has received so far)."""
        treatment = self.get(visit_id)
        with self.record.reading() as db:
            preset = find(treatment.preset, clinic_presets(db)) if treatment.preset else None
            delivered = zone_volume_ml(db, visit_id, treatment.zone)
        return limits.breaches(
            preset,
            mode,
            depth_mm,
            dose_ml,
            zone=treatment.zone,
            zone_delivered_ml=delivered if treatment.zone else None,
            planned_ml=planned_ml,
        )

    def override(
        self, visit_id: int, found: Sequence[limits.Breach], reason: str | None, *, actor: Actor
    ) -> str | None:
        """Keep an override of these soft limits with its reason (refused, naming ``reason``, if blank; a
        :class:`~mesogun.clinic.errors.SoftLimitExceeded` if ``reason`` is ``None``); the reason kept (``None``: no
        breach, nothing kept). The device's hard limits are not soft limits: nothing overrides them."""
        kept = limits.authorize(found, reason)
        if kept is None:
            return None
        with self.record.transaction() as db:
            treatment_of(db, visit_id, open_only=True)
            ts = now()
            db.execute(
                insert(t.overrides),
                [
                    {
                        "visit_id": visit_id,
                        "ts": ts,
                        "limit_name": b.limit,
                        "detail": b.message,
                        "reason": kept,
                        "overridden_by": actor.name,
                    }
                    for b in found
                ],
            )
            append_audit(
                db,
                actor=actor.name,
                action="session.override",
                entity="visit",
                entity_id=visit_id,
                reason=kept,
                new={
                    "limits": [
                        {"limit": b.limit, "value": b.value, "maximum": b.maximum, "detail": b.message} for b in found
                    ]
                },
            )
        return kept

    # -- entries --------------------------------------------------------------------------------------

    def note(self, visit_id: int, text: str, *, actor: Actor) -> None:
        """A practitioner's note in the session (also after it closed: a new entry, audited)."""
        kept = _text(text, "note")
        with self.record.transaction() as db:
            treatment_of(db, visit_id)
            db.execute(insert(t.visit_notes).values(visit_id=visit_id, ts=now(), text=kept, written_by=actor.name))
            append_audit(
                db, actor=actor.name, action="session.note", entity="visit", entity_id=visit_id, new={"note": kept}
            )

    def adverse_event(self, visit_id: int, *, kind: str, severity: str, detail: str = "", actor: Actor) -> None:
        """Something that went wrong for the patient (``severity``: mild, moderate or severe), during or after the
        session."""
        kind_kept = _text(kind, "kind", limit=200)
        if severity not in SEVERITIES:
            raise ClinicError(
                Wording(
                    N_("severity {severity} is not one of: {severities}"),
                    severity=repr(severity),
                    severities=", ".join(SEVERITIES),
                ),
                field="severity",
                value=severity,
            )
        detail_kept = _text(detail, "detail", blank=True)
        with self.record.transaction() as db:
            treatment_of(db, visit_id)
            values = {"kind": kind_kept, "severity": severity, "detail": detail_kept}
            db.execute(insert(t.adverse_events).values(visit_id=visit_id, ts=now(), reported_by=actor.name, **values))
            append_audit(
                db, actor=actor.name, action="session.adverse_event", entity="visit", entity_id=visit_id, new=values
            )

    def give_aftercare(self, visit_id: int, lines: Iterable[str] | None = None, *, actor: Actor) -> tuple[str, ...]:
        """Enter the aftercare advice given (``None``: the defaults); the lines kept."""
        kept = aftercare_rules.lines_given(lines)
        with self.record.transaction() as db:
            treatment_of(db, visit_id)
            ts = now()
            db.execute(
                insert(t.aftercare),
                [{"visit_id": visit_id, "ts": ts, "advice": line, "given_by": actor.name} for line in kept],
            )
            append_audit(
                db,
                actor=actor.name,
                action="session.aftercare",
                entity="visit",
                entity_id=visit_id,
                new={"advice": list(kept)},
            )
        return kept

    def sign_off(self, visit_id: int, *, actor: Actor, meaning: str = SIGN_OFF_MEANING) -> Treatment:
        """The practitioner's signature (who, when, what it means), closing the session if open. Refused: without
        the practitioner role (field ``actor.roles``), or signed already (field ``visit``)."""
        actor.require(PRACTITIONER, Wording(N_("signing a treatment session off")))
        meaning_kept = _text(meaning, "meaning", limit=200)
        v = t.visits.c
        with self.record.transaction() as db:
            treatment = treatment_of(db, visit_id)
            _refuse_void(db, visit_id, Word("signed off", N_("signed off")))
            if treatment.signoff is not None:
                raise VisitNotTreatment(
                    Wording(
                        N_("visit {visit} was signed off by {user} at {at} already"),
                        visit=visit_id,
                        user=treatment.signoff.by,
                        at=treatment.signoff.at,
                    ),
                    field="visit",
                    value=visit_id,
                )
            at = now()
            values: dict[str, Any] = {
                "signed_off_by": actor.name,
                "signed_off_at": at,
                "signed_off_meaning": meaning_kept,
            }
            if treatment.closed is None:
                values |= {"closed": at, "closed_by": actor.name}
            db.execute(update(t.visits).where(v.id == visit_id).values(**values))
            append_audit(
                db,
                actor=actor.name,
                action="session.sign_off",
                entity="visit",
                entity_id=visit_id,
                old={"closed": treatment.closed},
                new=values,
            )
        return self.get(visit_id)

    def void(self, visit_id: int, *, actor: Actor, reason: str) -> Treatment:
        """Mark a session opened by mistake (the wrong patient) void: a correction, never a deletion; its shots,
        entries and audit trail stay, it is shown as VOID and left out of the patient's history totals. An open
        session is closed (not signed off). Needs a reason (field ``reason``) and the practitioner role, or, once
        signed off, the admin role (field ``actor.roles``); refused if void already (field ``visit``)."""
        why = _text(reason, "reason", limit=1000) if isinstance(reason, str) and reason.strip() else None
        if why is None:
            raise ReasonRequired(
                Wording(N_("voiding a session needs a reason (it is kept in the audit log)")), field="reason"
            )
        v = t.visits.c
        with self.record.transaction() as db:
            treatment = treatment_of(db, visit_id)
            _refuse_void(db, visit_id, Word("voided again", N_("voided again")))
            if treatment.signoff is not None:
                actor.require(
                    ADMIN,
                    Wording(
                        N_("voiding treatment session {visit}, signed off by {user}"),
                        visit=visit_id,
                        user=treatment.signoff.by,
                    ),
                )
            else:
                actor.require(PRACTITIONER, Wording(N_("voiding a treatment session")))
            values: dict[str, Any] = {}
            if treatment.closed is None:
                values = {"closed": now(), "closed_by": actor.name}
                db.execute(update(t.visits).where(v.id == visit_id).values(**values))
            append_audit(
                db,
                actor=actor.name,
                action=VOID,
                entity="visit",
                entity_id=visit_id,
                reason=why,
                old={"closed": treatment.closed, "signed_off": treatment.signoff is not None},
                new={"void": True, **values},
            )
        return self.get(visit_id)

    # -- reading --------------------------------------------------------------------------------------

    def get(self, visit_id: int) -> Treatment:
        """The session's clinical side; :class:`~mesogun.record.visits.NoSuchVisit` if no such visit,
        :class:`VisitNotTreatment` (field ``visit``) if it was opened without a patient."""
        with self.record.reading() as db:
            return treatment_of(db, visit_id)

    def voided(self, visit_id: int) -> Voided | None:
        """Who voided the session, when and why (``None``: it is not void)."""
        with self.record.reading() as db:
            return voids(db).get(visit_id)

    def summary(self, visit_id: int, *, identified: bool = False) -> SessionSummary:
        """The session summarised from the record (:class:`~mesogun.clinic.summary.SessionSummary`): pseudonymous
        unless ``identified``. A visit opened without a patient is summarised too (no patient, no checklist)."""
        from mesogun.record import summaries

        with self.record.reading() as db:
            try:
                return summaries.summary(db, visit_id, identified=identified)
            except NoSuchVisit:
                raise NoSuchVisit(
                    Wording(
                        N_("no visit {visit} in the treatment record {path}"), visit=visit_id, path=self.record.path
                    )
                ) from None

    def identified_summary(self, visit_id: int, *, read_by: str, via: str, reason: str = "") -> SessionSummary:
        """:meth:`summary` with the patient's name, and, in the same transaction, when it shows one (not erased),
        an audit entry saying who saw it, through what and why
        (:func:`~mesogun.record.patients.note_identified_read`): a summary whose entry cannot be written is not
        given (the :class:`RecordError` propagates)."""
        with self.record.transaction() as db:
            found = self.summary(visit_id, identified=True)
            if found.patient_name is not None:
                patient_id = db.execute(select(t.visits.c.patient_id).where(t.visits.c.id == visit_id)).scalar_one()
                note_identified_read(db, int(patient_id), read_by=read_by, via=via, reason=reason)
        return found

    def history(self, patient_id: int, *, identified: bool = False) -> list[SessionSummary]:
        """The patient's treatment sessions, oldest first."""
        from mesogun.record import summaries

        with self.record.reading() as db:
            patient_of(db, patient_id)
            return summaries.history(db, patient_id, identified=identified)

    def identified_history(self, patient_id: int, *, read_by: str, via: str, reason: str = "") -> list[SessionSummary]:
        """:meth:`history` with the patient's name, and one audit entry for the read when it shows the name, as
        :meth:`identified_summary`."""
        with self.record.transaction() as db:
            found = self.history(patient_id, identified=True)
            if any(s.patient_name is not None for s in found):
                note_identified_read(db, patient_id, read_by=read_by, via=via, reason=reason)
        return found

    # -- helpers --------------------------------------------------------------------------------------

    def _change(
        self,
        visit_id: int,
        actor: Actor,
        action: str,
        values: Mapping[str, Any],
        *,
        check: Callable[[Connection], None] | None = None,
    ) -> None:
        """Update an open session's columns with an audit entry holding the old values and the new."""
        v = t.visits.c
        with self.record.transaction() as db:
            treatment_of(db, visit_id, open_only=True)
            if check is not None:
                check(db)
            columns = [getattr(v, name) for name in values]
            old = dict(zip(values, db.execute(select(*columns).where(v.id == visit_id)).one(), strict=True))
            db.execute(update(t.visits).where(v.id == visit_id).values(**values))
            append_audit(
                db, actor=actor.name, action=action, entity="visit", entity_id=visit_id, old=old, new=dict(values)
            )


def _refuse_void(db: Connection, visit_id: int, what: Word) -> None:
    """:class:`VisitNotTreatment` (field ``visit``) if the session was voided: it cannot be ``what`` now."""
    found = voids(db).get(visit_id)
    if found is not None:
        raise VisitNotTreatment(
            Wording(
                N_("visit {visit} was voided by {user} at {at} ({reason}): it cannot be {what}"),
                visit=visit_id,
                user=found.by,
                at=found.at,
                reason=found.reason,
                what=what,
            ),
            field="visit",
            value=visit_id,
        )


def _text(text: str, field: str, *, limit: int = TEXT_MAX, blank: bool = False) -> str:
    """``text`` stripped, refused (naming ``field``) if blank (unless allowed) or longer than ``limit``."""
    if not isinstance(text, str) or (not blank and not text.strip()) or len(text) > limit:
        given = len(text) if isinstance(text, str) else text
        raise ClinicError(
            Wording(N_("{field} must be non-blank text of at most {limit} characters"), field=field, limit=limit),
            field=field,
            value=given,
        )
    return text.strip()


def _syringe(brand: str | None, size_ml: float | None) -> dict[str, Any]:
    if brand is not None and (not isinstance(brand, str) or len(brand) > 100 or "\n" in brand):
        raise ClinicError(
            Wording(N_("syringe_brand: one line of at most 100 characters")), field="syringe_brand", value=brand
        )
    if size_ml is not None and (not isinstance(size_ml, int | float) or not 0 < size_ml <= 100):
        raise ClinicError(
            Wording(N_("syringe_ml={size} is outside 0-100 mL"), size=shown(size_ml)), field="syringe_ml", value=size_ml
        )
    return {
        "syringe_brand": brand.strip() or None if brand else None,
        "syringe_ul": None if size_ml is None else round(size_ml * 1000),
    }


def _needle_columns(needle: needles.Needle | None) -> dict[str, Any]:
    if needle is None:
        return {"needle_gauge": None, "needle_length_um": None}
    checked = needles.needle(needle.gauge, needle.length_mm)
    return {"needle_gauge": checked.gauge, "needle_length_um": round(checked.length_mm * 1000)}


def zone_volume_ml(db: Connection, visit_id: int, zone: str | None) -> float:
    """What the session's shots have delivered into ``zone`` so far, mL."""
    if zone is None:
        return 0.0
    s, sh = t.sessions.c, t.shots.c
    delivered = db.execute(
        select(as_int(func.coalesce(func.sum(func.coalesce(sh.delivered_nl, sh.dose_nl)), 0)))
        .select_from(t.shots.join(t.sessions, s.id == sh.session_id))
        .where(s.visit_id == visit_id, sh.zone == zone, sh.received == 1, sh.other_host == 0)
    ).scalar_one()
    return int(delivered) / 1e6


def treatment_of(db: Connection, visit_id: int, *, open_only: bool = False) -> Treatment:
    """The treatment session of ``visit_id`` read on ``db``: :class:`NoSuchVisit` if none, :class:`VisitNotTreatment`
    (field ``visit``) if it has no patient or (``open_only``) is closed."""
    v = t.visits.c
    row = db.execute(
        select(
            v.id,
            v.device_serial,
            v.patient_id,
            v.course_id,
            v.practitioner,
            v.preset,
            v.lot_id,
            v.zone,
            v.syringe_brand,
            v.syringe_ul,
            v.needle_gauge,
            v.needle_length_um,
            v.needle_changed,
            v.opened,
            v.closed,
            v.signed_off_by,
            v.signed_off_at,
            v.signed_off_meaning,
        ).where(v.id == visit_id)
    ).first()
    if row is None:
        raise NoSuchVisit(Wording(N_("no visit {visit} in the treatment record"), visit=visit_id))
    if row.patient_id is None:
        raise VisitNotTreatment(
            Wording(N_("visit {visit} was opened without a patient: it is not a treatment session"), visit=visit_id),
            field="visit",
            value=visit_id,
        )
    if open_only and row.closed is not None:
        raise VisitNotTreatment(
            Wording(
                N_("treatment session {visit} was closed at {at}: it can no longer change"),
                visit=visit_id,
                at=row.closed,
            ),
            field="visit",
            value=visit_id,
        )
    needle = (
        needles.Needle(int(row.needle_gauge), row.needle_length_um / 1000) if row.needle_gauge is not None else None
    )
    signoff = (
        SignOff(row.signed_off_by, row.signed_off_at, row.signed_off_meaning) if row.signed_off_by is not None else None
    )
    return Treatment(
        visit_id=int(row.id),
        device_serial=row.device_serial,
        patient_id=int(row.patient_id),
        course_id=None if row.course_id is None else int(row.course_id),
        practitioner=row.practitioner or "",
        preset=row.preset,
        lot_id=None if row.lot_id is None else int(row.lot_id),
        zone=row.zone,
        syringe_brand=row.syringe_brand,
        syringe_ml=None if row.syringe_ul is None else row.syringe_ul / 1000,
        needle=needle,
        needle_changed=row.needle_changed,
        opened=row.opened,
        closed=row.closed,
        signoff=signoff,
    )
