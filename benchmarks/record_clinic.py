"""The clinic's side of the scale benchmark's record (:mod:`benchmarks.record_scale`, issue 14 item 9): what a
clinic's record holds besides the guns' log, written in bulk in the real schema as the books would have written it.

Each bench patient (pseudonymous, with an identity: name, birth date, contact, their own digest salt) follows one
course of :data:`~benchmarks.record_scale.VISITS_PER_PATIENT` sessions with the preset of its depth (face up to
2 mm, scalp 2.5 mm, body 4 mm: within each preset's soft depth limit, so no override is due), treating the same
:data:`ZONES_PER_VISIT` zones of the preset's region in order each session (every shot carries its zone and the
lot, as the recorder writes them). Every visit: started with the default checklist answered (nothing present),
consent, syringe and needle; two zone changes; the default aftercare given; signed off (closing it).

The audit log holds one entry per change, as the books write it (:class:`~mesogun.record.patients.PatientBook`,
:class:`~mesogun.record.courses.CourseBook`, :class:`~mesogun.record.lots.LotBook`,
:class:`~mesogun.record.treatment.TreatmentBook`: same actions, entities, old and new values; the identity as
keyed digests), chained with :func:`mesogun.record.audit.entry_hash` in time order, each at the moment it
happened in the bench's clinic day: 2 for the product and its lot, 2 per patient (``patient.add``,
``course.open``), 5 per visit (``session.start``, 2 × ``session.zone``, ``session.aftercare``,
``session.sign_off``). ``mesogun record verify`` verifies the chain.

Through the books instead, each of those changes is its own durable commit: 28-35 ms a visit on SQLite, 51 ms on
PostgreSQL (5-6 and 8.5 minutes for 10,000 visits, measured on the shared machine), against 5-9 s and 14-19 s
for the bulk build here, in commits of :data:`VISITS_PER_COMMIT` visits.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mesogun.clinic import aftercare, checklist, zones
from mesogun.clinic.courses import check_course
from mesogun.clinic.presets import PRESETS
from mesogun.clinic.summary import SessionSummary
from mesogun.record.audit import GENESIS, canonical, entry_hash
from mesogun.record.patients import digest
from mesogun.record.treatment import SIGN_OFF_MEANING, TreatmentBook

if TYPE_CHECKING:
    from benchmarks.record_scale import BenchVisit
    from mesogun.record import TreatmentRecord

ACTOR = "practitioner"
"""Who treats, signs off and enters everything (the base build's ``opened_by``)."""
ZONES_PER_VISIT = 3
PRODUCT_ID = LOT_ID = 1
PRODUCT = "Hyaluronic acid 1.5 % + vitamin cocktail"
LOT_NUMBER = "HA-2311-07"
LOT_EXPIRY = "2025-12-31"
"""Past the bench's last visit (the lot is usable throughout)."""
CONSENT = "signed form v3"
SYRINGE = {"syringe_brand": "BD Plastipak", "syringe_ul": 10_000}
NEEDLE = {"needle_gauge": 32, "needle_length_um": 4_000}
INTERVAL_DAYS = 10
"""The course's planned interval (a bench patient's visits are 1,000 × 15 minutes ≈ 10.4 days apart)."""
VISITS_PER_COMMIT = 500
SEED = 14

_INDICATIONS = {"face": "facial skin rejuvenation", "scalp": "androgenetic hair loss", "body": "localised cellulite"}
_REGIONS = {"face": zones.Region.FACE, "scalp": zones.Region.SCALP, "body": zones.Region.BODY}


def patient_id(patient: int) -> int:
    """The ``patients.id`` (and ``courses.id``) of bench patient ``patient`` (0, 1, 2…)."""
    return patient + 1


def preset_for(depth_um: int) -> str:
    """The built-in preset a course of this depth uses (its soft depth limit not exceeded)."""
    for name in ("face", "scalp"):
        limit = PRESETS[name].max_depth_mm
        if limit is not None and depth_um <= limit * 1000:
            return name
    return "body"


def course_zones(patient: int, preset: str) -> tuple[str, ...]:
    """The zones a bench patient's sessions treat, in order (the same each session of the course)."""
    region = [z.id for z in zones.CATALOG if z.region is _REGIONS[preset]]
    return tuple(random.Random(f"{SEED}:{patient}").sample(region, ZONES_PER_VISIT))


def shot_columns(visit: BenchVisit) -> list[Mapping[str, Any]]:
    """The clinical columns of each of the visit's shots, in order: the zone in force (a third of the shots each)
    and the lot."""
    course = course_zones(visit.patient, preset_for(visit.depth_um))
    per_zone = [{"zone": zone, "lot_id": LOT_ID} for zone in course]
    return [per_zone[n * ZONES_PER_VISIT // visit.shots] for n in range(visit.shots)]


def session_summary(record: TreatmentRecord, visit_id: int) -> SessionSummary:
    """The clinic's session summary (:meth:`TreatmentBook.summary`)."""
    return TreatmentBook(record).summary(visit_id)


def patient_history(record: TreatmentRecord, patient: int) -> list[SessionSummary]:
    """The clinic's history of a bench patient (:meth:`TreatmentBook.history`)."""
    return TreatmentBook(record).history(patient_id(patient))


# -- the bulk build --------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class _Chain:
    """Audit entries as :func:`mesogun.record.audit.append_audit` makes them, numbered and chained here."""

    def __init__(self) -> None:
        self.seq = 0
        self.prev = GENESIS
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        ts: datetime,
        action: str,
        entity: str,
        entity_id: int,
        *,
        old: Mapping[str, Any] | None = None,
        new: Mapping[str, Any] | None = None,
    ) -> None:
        self.seq += 1
        fields: dict[str, Any] = {
            "seq": self.seq,
            "ts": _iso(ts),
            "actor": ACTOR,
            "action": action,
            "entity": entity,
            "entity_id": str(entity_id),
            "reason": "",
            "old_value": canonical(old),
            "new_value": canonical(new),
            "prev_hash": self.prev,
        }
        self.prev = entry_hash(**fields)
        self.rows.append({**fields, "hash": self.prev})


@dataclass
class _Pending:
    """Rows waiting for the next commit, by table (inserted in this order: references first)."""

    patients: list[dict[str, Any]]
    identities: list[dict[str, Any]]
    courses: list[dict[str, Any]]
    visits: list[dict[str, Any]]
    checklist: list[dict[str, Any]]
    aftercare: list[dict[str, Any]]

    @classmethod
    def empty(cls) -> _Pending:
        return cls([], [], [], [], [], [])


def _patient(p: int, visit: BenchVisit, rng: random.Random, chain: _Chain, rows: _Pending) -> None:
    """A bench patient added (with an identity) and their course opened, just before their first session."""
    pid, preset = patient_id(p), preset_for(visit.depth_um)
    pseudonym = "P-" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8)) + f"-{p}"
    identity = {
        "name": f"Bench Patient {p}",
        "birth_date": (date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))).isoformat(),
        "contact": f"+44 20 7946 {p % 10_000:04d}",
    }
    salt = rng.randbytes(32).hex()
    added = visit.opened - timedelta(minutes=5)
    rows.patients.append({"id": pid, "pseudonym": pseudonym, "created": _iso(added)})
    rows.identities.append({"patient_id": pid, "salt": salt, "erased": 0, **identity})
    chain.add(
        added,
        "patient.add",
        "patient",
        pid,
        new={"pseudonym": pseudonym, "identity": {f: digest(salt, f, v) for f, v in identity.items()}},
    )
    course = {
        "patient_id": pid,
        "indication": check_course(_INDICATIONS[preset], visit.course_visits, INTERVAL_DAYS),
        "preset": preset,
        "planned_sessions": visit.course_visits,
        "interval_days": INTERVAL_DAYS,
    }
    opened = added + timedelta(minutes=1)
    rows.courses.append({"id": pid, **course, "opened": _iso(opened)})
    chain.add(opened, "course.open", "course", pid, new=course)


def _session(visit: BenchVisit, chain: _Chain, rows: _Pending) -> None:
    """One treatment session's clinical side and its audit entries, at the times they happened."""
    preset = preset_for(visit.depth_um)
    course = course_zones(visit.patient, preset)
    clinical = {
        "patient_id": patient_id(visit.patient),
        "course_id": patient_id(visit.patient),
        "practitioner": ACTOR,
        "preset": preset,
        "lot_id": LOT_ID,
        "zone": course[0],
        "consent": CONSENT,
        **SYRINGE,
        **NEEDLE,
        "needle_changed": _iso(visit.opened),
    }
    answers = checklist.check(dict.fromkeys((item.id for item in checklist.DEFAULT_ITEMS), False)).answers
    rows.checklist += [
        {"visit_id": visit.id, "item": a.item, "position": n, "question": a.question, "present": 0, "note": ""}
        for n, a in enumerate(answers, start=1)
    ]
    chain.add(
        visit.opened,
        "session.start",
        "visit",
        visit.id,
        new={
            "device_serial": visit.serial,
            **clinical,
            "checklist": {a.item: False for a in answers},
            "contraindications_overridden": [],
        },
    )
    for k in range(1, ZONES_PER_VISIT):  # just before the first shot of each next zone
        first = -(-k * visit.shots // ZONES_PER_VISIT)
        at = visit.shot_time(first) - timedelta(milliseconds=50)
        chain.add(at, "session.zone", "visit", visit.id, old={"zone": course[k - 1]}, new={"zone": course[k]})
    advice = aftercare.lines_given()
    given = visit.closed - timedelta(seconds=20)
    rows.aftercare += [{"visit_id": visit.id, "ts": _iso(given), "advice": line, "given_by": ACTOR} for line in advice]
    chain.add(given, "session.aftercare", "visit", visit.id, new={"advice": list(advice)})
    signed = {"signed_off_by": ACTOR, "signed_off_at": _iso(visit.closed), "signed_off_meaning": SIGN_OFF_MEANING}
    closing = {"closed": _iso(visit.closed), "closed_by": ACTOR}
    chain.add(visit.closed, "session.sign_off", "visit", visit.id, old={"closed": None}, new={**signed, **closing})
    rows.visits.append({"b_id": visit.id, **clinical, "zone": course[-1], **signed})


def _batches(visits: Sequence[BenchVisit]) -> Iterator[tuple[Sequence[BenchVisit], bool]]:
    """The visits in commits of :data:`VISITS_PER_COMMIT`, each with whether it is the last."""
    for start in range(0, len(visits), VISITS_PER_COMMIT):
        yield visits[start : start + VISITS_PER_COMMIT], start + VISITS_PER_COMMIT >= len(visits)


def build_clinic(record: TreatmentRecord, visits: Sequence[BenchVisit]) -> int:
    """Add the clinic's rows to the base-built record (its visits, oldest first): the product and lot, the
    patients and their identities and courses, each visit's clinical side (an ``UPDATE`` of its row), checklist
    answers and aftercare, and the audit log; the audit entries written."""
    from sqlalchemy import bindparam, insert, text, update

    from mesogun.record import schema as t

    rng = random.Random(SEED)
    chain = _Chain()
    begun = visits[0].opened - timedelta(days=1)
    chain.add(begun, "product.add", "product", PRODUCT_ID, new={"name": PRODUCT, "description": ""})
    lot = {"product_id": PRODUCT_ID, "lot_number": LOT_NUMBER, "expiry": LOT_EXPIRY}
    chain.add(begun + timedelta(minutes=1), "lot.add", "lot", LOT_ID, new={**lot, "product": PRODUCT})
    with record.transaction(durable=False) as db:
        db.execute(insert(t.products).values(id=PRODUCT_ID, name=PRODUCT, description="", added=_iso(begun)))
        db.execute(insert(t.lots).values(id=LOT_ID, **lot, added=_iso(begun + timedelta(minutes=1))))
    clinical = update(t.visits).where(t.visits.c.id == bindparam("b_id"))
    seen: set[int] = set()
    entries = 0
    for batch, last in _batches(visits):
        rows = _Pending.empty()
        for visit in batch:
            if visit.patient not in seen:
                seen.add(visit.patient)
                _patient(visit.patient, visit, rng, chain, rows)
            _session(visit, chain, rows)
        with record.transaction(durable=last) as db:  # the last durable: everything is on disk then
            for table, pending in (
                (t.patients, rows.patients),
                (t.patient_identities, rows.identities),
                (t.courses, rows.courses),
            ):
                if pending:
                    db.execute(insert(table), pending)
            db.execute(clinical, rows.visits)
            db.execute(insert(t.checklist_answers), rows.checklist)
            db.execute(insert(t.aftercare), rows.aftercare)
            db.execute(insert(t.audit_log), chain.rows)
            if last and record.dialect == "postgresql":  # explicit ids: move the sequences past them
                for name in ("patients", "courses", "products", "lots"):
                    sequence = f"pg_get_serial_sequence('{name}', 'id')"
                    db.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))"))
        entries += len(chain.rows)
        chain.rows.clear()
    return entries
