"""A treatment session's summary (:class:`~mesogun.clinic.summary.SessionSummary`) built from the record, one
query per part: the visit with its patient and course, the shots by zone, the unreceived shots, the lots, the
modes set, the alarms, the overrides (the CLI's ``soft_limit_override`` notes of the visit's connections and the
session's own), the checklist, adverse events, aftercare and notes; and a patient's history (their sessions,
oldest first). Pseudonymous unless ``identified``: then the patient's name, unless erased.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, select

from mesogun.clinic import zones
from mesogun.clinic.courses import next_session
from mesogun.clinic.errors import UnknownPreset
from mesogun.clinic.needles import Needle
from mesogun.clinic.presets import find
from mesogun.clinic.summary import (
    AdverseEvent,
    AlarmSeen,
    ChecklistAnswer,
    LotUsed,
    Override,
    SessionSummary,
    SignOff,
    Voided,
    ZoneTotal,
)
from mesogun.i18n import N_
from mesogun.record import dialects, queries
from mesogun.record import schema as t
from mesogun.record.queries import as_int
from mesogun.record.visits import NoSuchVisit, sessions_of, unreceived_in
from mesogun.record.voids import voids

OVERRIDE_NOTE = "soft_limit_override"
"""The kind of a session note the CLI enters for a confirmed soft-limit override (``mesogun set --reason``)."""

NO_ZONE = ""
"""The zone of shots written while the visit had none (a visit opened without a patient, an older record)."""


def summary(
    db: Connection, visit_id: int, *, identified: bool = False, voided: Mapping[int, Voided] | None = None
) -> SessionSummary:
    """The summary of visit ``visit_id``; :class:`NoSuchVisit` if there is none. ``voided``: the record's voided
    sessions (:func:`~mesogun.record.voids.voids`; read here if not given): a voided one is marked, and its
    course's later sessions are numbered without it."""
    v, p, i, c = t.visits.c, t.patients.c, t.patient_identities.c, t.courses.c
    row = db.execute(
        select(
            v.id,
            v.device_serial,
            v.opened,
            v.closed,
            v.opened_by,
            v.note,
            v.practitioner,
            v.preset,
            v.lot_id,
            v.syringe_brand,
            v.syringe_ul,
            v.needle_gauge,
            v.needle_length_um,
            v.signed_off_by,
            v.signed_off_at,
            v.signed_off_meaning,
            v.consent,
            v.course_id,
            p.pseudonym,
            i.name,
            i.erased,
            c.indication,
            c.planned_sessions,
            c.interval_days,
        )
        .select_from(
            t.visits.outerjoin(t.patients, p.id == v.patient_id)
            .outerjoin(t.patient_identities, i.patient_id == v.patient_id)
            .outerjoin(t.courses, c.id == v.course_id)
        )
        .where(v.id == visit_id)
    ).first()
    if row is None:
        raise NoSuchVisit(f"no visit {visit_id} in the treatment record")
    if voided is None:
        voided = voids(db)
    sessions = [int(s) for s in db.execute(sessions_of(visit_id).order_by(t.sessions.c.id)).scalars()]
    zone_totals, totals = _shots_by_zone(db, visit_id)
    void = voided.get(int(row.id))
    number = None
    if row.course_id is not None and void is None:
        number = _session_number(db, visit_id, row.course_id, row.opened, voided)
    upcoming = None
    if row.course_id is not None and number is not None:
        day = date.fromisoformat(row.opened[:10])
        following = next_session(day, number, int(row.planned_sessions), int(row.interval_days))
        upcoming = following.isoformat() if following is not None else None
    needle = str(Needle(int(row.needle_gauge), row.needle_length_um / 1000)) if row.needle_gauge is not None else None
    syringe = " ".join(
        part
        for part in (row.syringe_brand, None if row.syringe_ul is None else f"{row.syringe_ul / 1000:g} mL")
        if part
    )
    notes = ([row.note] if row.note else []) + [
        text
        for text in db.execute(
            select(t.visit_notes.c.text).where(t.visit_notes.c.visit_id == visit_id).order_by(t.visit_notes.c.id)
        ).scalars()
    ]
    return SessionSummary(
        visit_id=int(row.id),
        patient=row.pseudonym or "",
        patient_name=row.name if identified and not row.erased else None,
        practitioner=row.practitioner or row.opened_by,
        course_id=None if row.course_id is None else int(row.course_id),
        indication=row.indication,
        session_number=number,
        planned_sessions=None if row.planned_sessions is None else int(row.planned_sessions),
        interval_days=None if row.interval_days is None else int(row.interval_days),
        devices=_devices(db, visit_id, row.device_serial),
        opened=row.opened,
        closed=row.closed,
        preset=row.preset,
        mode=_modes(db, visit_id, row.preset),
        depth_mm=totals["depth"],
        dose_ml=totals["dose"],
        lots=_lots(db, visit_id, row.lot_id),
        syringe=syringe or None,
        needle=needle,
        zones=zone_totals,
        shots=totals["shots"],
        shots_unreceived=_unreceived(db, visit_id),
        volume_ml=totals["volume_ml"],
        alarms=_alarms(db, sessions),
        overrides=_overrides(db, visit_id, sessions),
        checklist=_checklist(db, visit_id),
        adverse_events=_adverse_events(db, visit_id),
        aftercare=tuple(
            db.execute(
                select(t.aftercare.c.advice).where(t.aftercare.c.visit_id == visit_id).order_by(t.aftercare.c.id)
            ).scalars()
        ),
        notes=tuple(notes),
        signoff=(
            SignOff(row.signed_off_by, row.signed_off_at, row.signed_off_meaning)
            if row.signed_off_by is not None
            else None
        ),
        next_session=upcoming,
        consent=row.consent,
        void=void,
    )


def history(db: Connection, patient_id: int, *, identified: bool = False) -> list[SessionSummary]:
    """The patient's treatment sessions, oldest first (the voided ones too, marked)."""
    v = t.visits.c
    ids = db.execute(select(v.id).where(v.patient_id == patient_id).order_by(v.opened, v.id)).scalars().all()
    voided = voids(db)
    return [summary(db, int(visit_id), identified=identified, voided=voided) for visit_id in ids]


def _shots_by_zone(db: Connection, visit_id: int) -> tuple[tuple[ZoneTotal, ...], dict[str, Any]]:
    """Shots, volume and depth per zone (catalog order; shots of no zone last) and the session's totals."""
    sh = t.shots.c
    volume = func.coalesce(sh.delivered_nl, sh.dose_nl)
    found = db.execute(
        select(
            sh.zone,
            as_int(func.count()),
            as_int(func.coalesce(func.sum(volume), 0)),
            func.min(sh.depth_um),
            func.max(sh.depth_um),
            func.min(sh.dose_nl),
            func.max(sh.dose_nl),
        )
        .where(sh.session_id.in_(sessions_of(visit_id)), sh.received == 1, sh.other_host == 0)
        .group_by(sh.zone)
    ).all()
    grouped = [(NO_ZONE if r[0] is None else r[0], *r[1:]) for r in found]
    order = {z.id: n for n, z in enumerate(zones.CATALOG)}
    rows = sorted(grouped, key=lambda r: (r[0] == NO_ZONE, order.get(r[0], len(order)), r[0]))
    totals: list[ZoneTotal] = [
        ZoneTotal(
            zone=zone,
            label=zones.label(zone) if zone != NO_ZONE else N_("(no zone)"),
            shots=int(count),
            volume_ml=int(nl) / 1e6,
            depth_mm_min=None if low is None else int(low) / 1000,
            depth_mm_max=None if high is None else int(high) / 1000,
        )
        for zone, count, nl, low, high, _, _ in rows
    ]
    depths = [(int(r[3]), int(r[4])) for r in rows if r[3] is not None]
    doses = [(int(r[5]), int(r[6])) for r in rows if r[5] is not None]
    return tuple(totals), {
        "shots": sum(int(r[1]) for r in rows),
        "volume_ml": sum(int(r[2]) for r in rows) / 1e6,
        "depth": (min(d[0] for d in depths) / 1000, max(d[1] for d in depths) / 1000) if depths else None,
        "dose": (min(d[0] for d in doses) / 1e6, max(d[1] for d in doses) / 1e6) if doses else None,
    }


def _session_number(db: Connection, visit_id: int, course_id: int, opened: str, voided: Mapping[int, Voided]) -> int:
    """This session's place in its course (1-based), by the time each was opened; voided sessions do not count."""
    v = t.visits.c
    earlier = db.execute(
        select(v.id).where(v.course_id == course_id, (v.opened < opened) | and_(v.opened == opened, v.id <= visit_id))
    ).scalars()
    return sum(1 for visit in earlier if int(visit) not in voided)


def _devices(db: Connection, visit_id: int, opened_on: str) -> tuple[str, ...]:
    """The guns of the visit: the one it was opened on, then any other its connections were to."""
    s = t.sessions.c
    serials = db.execute(select(s.device_serial).where(s.visit_id == visit_id).order_by(s.id)).scalars()
    return tuple(dict.fromkeys([opened_on, *serials]))


def _modes(db: Connection, visit_id: int, preset: str | None) -> str | None:
    """The firing modes the host set during the session (comma-separated, in order), else the preset's."""
    e = t.events.c
    mode = dialects.text_field(e.body, "mode")
    seen = db.execute(
        select(mode)
        .where(
            e.session_id.in_(sessions_of(visit_id)),
            e.direction == "host",
            e.type == "set_parameters",
            mode.is_not(None),
        )
        .order_by(e.id)
    ).scalars()
    modes = list(dict.fromkeys(str(m) for m in seen))
    if modes:
        return ", ".join(modes)
    if preset is None:
        return None
    from mesogun.record.presets import clinic_presets

    try:
        return find(preset, clinic_presets(db)).mode.json_name
    except UnknownPreset:  # a clinic preset no longer on record: the summary still reads
        return None


def _lots(db: Connection, visit_id: int, current: int | None) -> tuple[LotUsed, ...]:
    """The lots the session's shots carry, and the one in force now."""
    sh, lo, pr = t.shots.c, t.lots.c, t.products.c
    used = {
        int(i)
        for i in db.execute(
            select(sh.lot_id).where(sh.session_id.in_(sessions_of(visit_id)), sh.lot_id.is_not(None)).distinct()
        ).scalars()
    }
    if current is not None:
        used.add(int(current))
    if not used:
        return ()
    rows = db.execute(
        select(pr.name, lo.lot_number, lo.expiry)
        .select_from(t.lots.join(t.products, pr.id == lo.product_id))
        .where(lo.id.in_(sorted(used)))
        .order_by(lo.id)
    ).all()
    return tuple(LotUsed(product, number, expiry) for product, number, expiry in rows)


def _unreceived(db: Connection, visit_id: int) -> int:
    """Shots the device counted during the visit whose details never reached the host."""
    return int(db.execute(unreceived_in(visit_id)).scalar_one())


def _alarms(db: Connection, sessions: list[int]) -> tuple[AlarmSeen, ...]:
    """The alarms raised (or found latched at a connect) in the visit's connections, in time order."""
    seen = [
        AlarmSeen(alarm.host_time_utc, alarm.code, alarm.priority, alarm.note)
        for session in sessions
        for alarm in queries.alarms(db, session)
        if alarm.raised
    ]
    return tuple(sorted(seen, key=lambda a: a.ts))


def _overrides(db: Connection, visit_id: int, sessions: list[int]) -> tuple[Override, ...]:
    """The session's overrides and the CLI's override notes of its connections, in time order."""
    o, n = t.overrides.c, t.notes.c
    own = [
        Override(ts, limit, detail, reason, by)
        for ts, limit, detail, reason, by in db.execute(
            select(o.ts, o.limit_name, o.detail, o.reason, o.overridden_by).where(o.visit_id == visit_id).order_by(o.id)
        )
    ]
    cli = (
        [
            Override(ts, kind, detail, reason, "")
            for ts, kind, detail, reason in db.execute(
                select(n.ts, n.kind, n.detail, n.reason)
                .where(n.session_id.in_(sessions), n.kind == OVERRIDE_NOTE)
                .order_by(n.id)
            )
        ]
        if sessions
        else []
    )
    return tuple(sorted([*own, *cli], key=lambda x: x.ts))


def _checklist(db: Connection, visit_id: int) -> tuple[ChecklistAnswer, ...]:
    a = t.checklist_answers.c
    rows = db.execute(
        select(a.item, a.question, a.present, a.note).where(a.visit_id == visit_id).order_by(a.position)
    ).all()
    return tuple(ChecklistAnswer(item, question, bool(present), note) for item, question, present, note in rows)


def _adverse_events(db: Connection, visit_id: int) -> tuple[AdverseEvent, ...]:
    e = t.adverse_events.c
    rows = db.execute(
        select(e.ts, e.kind, e.severity, e.detail, e.reported_by).where(e.visit_id == visit_id).order_by(e.id)
    ).all()
    return tuple(AdverseEvent(*row) for row in rows)
