"""Patients: a pseudonymous id used everywhere in the record, and identifying details (name, birth date, contact)
kept in ``patient_identities`` only, which can be erased (right to erasure) while the audit chain still verifies.

The audit log never holds identifying values: an entry changing them holds the field names and, per field, an
HMAC-SHA256 digest keyed by the patient's own random salt (kept in the identity row). A digest lets an auditor
with the salt confirm a value; once the identity is erased (values and salt deleted, itself an audit entry), the
digests can no longer be tied to anyone, and no entry was changed, so the chain still verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from mesogun.clinic.actors import Actor
from mesogun.clinic.errors import ClinicError, DuplicateEntry, NoSuchPatient, ReasonRequired
from mesogun.errors import RecordError
from mesogun.i18n import N_
from mesogun.record import schema as t
from mesogun.record.audit import append_audit
from mesogun.record.basics import now
from mesogun.record.database import cause
from mesogun.record.store import TreatmentRecord
from mesogun.record.writes import inserted_id
from mesogun.wording import Wording

IDENTITY_FIELDS = ("name", "birth_date", "contact")
"""The identifying details of a patient (``patient_identities`` only)."""

PSEUDONYM_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
"""What a pseudonym is made of (it appears in file names of exports)."""

TEXT_MAX = 200
"""The longest name or contact, characters."""

DIGEST_PREFIX = "hmac-sha256:"
"""How an audit entry marks a keyed digest in place of an identifying value."""

READ_IDENTIFIED = "patient.read_identified"
"""The audit action of a read that showed a patient's identifying details (who saw them, why, through what)."""


@dataclass(frozen=True)
class Identity:
    """A patient's identifying details (``None``: not given)."""

    name: str | None
    birth_date: str | None
    """ISO date."""
    contact: str | None


@dataclass(frozen=True)
class Patient:
    """A patient as the record names them: the pseudonymous id, and the identity only when asked for."""

    id: int
    pseudonym: str
    created: str
    erased: bool
    """The identifying details were erased."""
    identity: Identity | None = None
    """Only from ``get(…, identified=True)``; ``None`` otherwise and once erased."""


def digest(salt: str, field: str, value: str) -> str:
    """The keyed digest of one identifying value (what audit entries hold instead of the value)."""
    mac = hmac.new(bytes.fromhex(salt), f"{field}\0{value}".encode(), hashlib.sha256).hexdigest()
    return f"{DIGEST_PREFIX}{mac}"


def _digests(salt: str, values: Mapping[str, str | None]) -> dict[str, str | None]:
    return {field: None if value is None else digest(salt, field, value) for field, value in values.items()}


def _checked_identity(name: str | None, birth_date: str | date | None, contact: str | None) -> dict[str, str | None]:
    """The identity's values as stored, checked (each refusal names its field)."""
    values: dict[str, str | None] = {}
    for field, text in (("name", name), ("contact", contact)):
        if text is not None and (not isinstance(text, str) or len(text) > TEXT_MAX or "\n" in text):
            raise ClinicError(
                Wording(N_("{field} must be one line of at most {limit} characters"), field=field, limit=TEXT_MAX),
                field=field,
                value=None,
            )  # never echo an identifying value
        values[field] = text.strip() or None if isinstance(text, str) else None
    if isinstance(birth_date, date):
        values["birth_date"] = birth_date.isoformat()
    elif birth_date is None or not birth_date.strip():
        values["birth_date"] = None
    else:
        try:
            values["birth_date"] = date.fromisoformat(birth_date.strip()).isoformat()
        except ValueError:
            raise ClinicError(
                Wording(N_("birth_date is not a date (YYYY-MM-DD)")), field="birth_date", value=None
            ) from None
    return {field: values[field] for field in IDENTITY_FIELDS}


def check_pseudonym(pseudonym: str) -> str:
    """A pseudonym as stored: 1-40 letters, digits, ``-``, ``_`` or ``.`` (refused naming ``pseudonym``)."""
    if not isinstance(pseudonym, str) or not 0 < len(pseudonym) <= 40 or not set(pseudonym) <= PSEUDONYM_CHARS:
        raise ClinicError(
            Wording(N_("pseudonym {pseudonym}: 1-40 letters, digits, -, _ or ."), pseudonym=repr(pseudonym)),
            field="pseudonym",
            value=pseudonym,
        )
    return pseudonym


def new_pseudonym() -> str:
    """A random pseudonym, ``P-`` and 8 characters (no identifying meaning)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no look-alikes (I/1, O/0)
    return "P-" + "".join(secrets.choice(alphabet) for _ in range(8))


class PatientBook:
    """Adds, reads, corrects and erases patients in a :class:`TreatmentRecord`; each write one durable
    transaction with its audit entry."""

    def __init__(self, record: TreatmentRecord) -> None:
        self.record = record

    def add(
        self,
        *,
        actor: Actor,
        pseudonym: str | None = None,
        name: str | None = None,
        birth_date: str | date | None = None,
        contact: str | None = None,
    ) -> Patient:
        """A new patient (``pseudonym``: given, else a random one); :class:`DuplicateEntry` if it is taken."""
        chosen = check_pseudonym(pseudonym) if pseudonym is not None else new_pseudonym()
        values = _checked_identity(name, birth_date, contact)
        salt = secrets.token_hex(32)
        with self.record.transaction() as db:
            p = t.patients.c
            if db.execute(select(p.id).where(p.pseudonym == chosen)).first() is not None:
                raise DuplicateEntry(
                    Wording(N_("pseudonym {pseudonym} is taken"), pseudonym=chosen), field="pseudonym", value=chosen
                )
            created = now()
            patient_id = inserted_id(db.execute(insert(t.patients).values(pseudonym=chosen, created=created)))
            db.execute(insert(t.patient_identities).values(patient_id=patient_id, salt=salt, **values))
            given = {field: value for field, value in values.items() if value is not None}
            append_audit(
                db,
                actor=actor.name,
                action="patient.add",
                entity="patient",
                entity_id=patient_id,
                new={"pseudonym": chosen, "identity": _digests(salt, given)},
            )
        return self.get(patient_id)

    def get(self, patient_id: int, *, identified: bool = False) -> Patient:
        """One patient; with the identity if ``identified``; :class:`NoSuchPatient` (field ``patient``)."""
        with self.record.reading() as db:
            return patient_of(db, patient_id, identified=identified)

    def find(self, pseudonym: str, *, identified: bool = False) -> Patient:
        """The patient of a pseudonym; :class:`NoSuchPatient` (field ``pseudonym``) if none."""
        p = t.patients.c
        rows = self.record.rows(select(p.id).where(p.pseudonym == pseudonym))
        if not rows:
            raise NoSuchPatient(
                Wording(
                    N_("no patient {patient} in the treatment record {path}"),
                    patient=repr(pseudonym),
                    path=self.record.path,
                ),
                field="pseudonym",
                value=pseudonym,
            )
        return self.get(int(rows[0][0]), identified=identified)

    def identified(self, patient_id: int, *, read_by: str, via: str, reason: str = "") -> Patient:
        """The patient with their identifying details, and, in the same transaction, when it shows any (not erased,
        not all blank), the audit entry of who saw them, through what and why (:func:`note_identified_read`): a
        patient whose entry cannot be written is not given (the :class:`RecordError` propagates)."""
        with self.record.transaction() as db:
            found = patient_of(db, patient_id, identified=True)
            if shows_identity(found):
                note_identified_read(db, patient_id, read_by=read_by, via=via, reason=reason)
        return found

    def all(self) -> list[Patient]:
        """Every patient, oldest first, without identities."""
        p, i = t.patients.c, t.patient_identities.c
        rows = self.record.rows(
            select(p.id, p.pseudonym, p.created, i.erased)
            .select_from(t.patients.outerjoin(t.patient_identities, i.patient_id == p.id))
            .order_by(p.id)
        )
        return [Patient(int(r[0]), r[1], r[2], bool(r[3])) for r in rows]

    def correct(
        self,
        patient_id: int,
        *,
        actor: Actor,
        reason: str,
        changes: Mapping[str, str | None],
    ) -> Patient:
        """Correct identifying details (``changes``: ``name``, ``birth_date`` (ISO), ``contact``; ``None`` clears
        one); the audit entry holds the fields' digests before and after, and the reason (needed: field
        ``reason``)."""
        unknown = set(changes) - set(IDENTITY_FIELDS)
        if unknown:
            field = sorted(unknown)[0]
            raise ClinicError(f"{field} is not an identifying detail ({', '.join(IDENTITY_FIELDS)})", field=field)
        if not changes:
            raise ClinicError("nothing to correct: give name, birth_date or contact", field="identity")
        why = _reason(reason, "a correction")
        every = _checked_identity(changes.get("name"), changes.get("birth_date"), changes.get("contact"))
        checked = {field: value for field, value in every.items() if field in changes}
        with self.record.transaction() as db:
            patient_of(db, patient_id)
            i = t.patient_identities.c
            row = db.execute(
                select(i.name, i.birth_date, i.contact, i.salt, i.erased).where(i.patient_id == patient_id)
            ).one()
            if row.erased:
                raise ClinicError(
                    f"patient {patient_id}'s identifying details were erased; they cannot be corrected",
                    field="patient",
                    value=patient_id,
                )
            old = {field: getattr(row, field) for field in checked}
            db.execute(update(t.patient_identities).where(i.patient_id == patient_id).values(**checked))
            append_audit(
                db,
                actor=actor.name,
                action="patient.correct",
                entity="patient",
                entity_id=patient_id,
                reason=why,
                old={"identity": _digests(row.salt, old)},
                new={"identity": _digests(row.salt, checked)},
            )
        return self.get(patient_id, identified=True)

    def erase(self, patient_id: int, *, actor: Actor, reason: str) -> Patient:
        """Erase the patient's identifying details and their digest key (right to erasure): the identity row's
        values and salt are deleted, the erasure is an audit entry (its fields and the reason), and nothing else
        changes: the pseudonymous record and the audit chain stay whole."""
        why = _reason(reason, "an erasure")
        with self.record.transaction() as db:
            patient_of(db, patient_id)
            i = t.patient_identities.c
            row = db.execute(select(i.name, i.birth_date, i.contact, i.erased).where(i.patient_id == patient_id)).one()
            if row.erased:
                raise ClinicError(
                    f"patient {patient_id}'s identifying details are erased already", field="patient", value=patient_id
                )
            held = [field for field in IDENTITY_FIELDS if getattr(row, field) is not None]
            db.execute(
                update(t.patient_identities)
                .where(i.patient_id == patient_id)
                .values(name=None, birth_date=None, contact=None, salt=None, erased=1, erased_at=now())
            )
            append_audit(
                db,
                actor=actor.name,
                action="patient.erase",
                entity="patient",
                entity_id=patient_id,
                reason=why,
                old={"identity_fields": held},
                new={"erased": True},
            )
        return self.get(patient_id)


def _reason(reason: str, what: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonRequired(f"{what} needs a reason (it is kept in the audit log)", field="reason", value=reason)
    return reason.strip()


def patient_of(db: Connection, patient_id: int, *, identified: bool = False) -> Patient:
    """The patient of ``patient_id`` read on ``db``; :class:`NoSuchPatient` (field ``patient``) if none."""
    p, i = t.patients.c, t.patient_identities.c
    row = db.execute(
        select(p.id, p.pseudonym, p.created, i.erased, i.name, i.birth_date, i.contact)
        .select_from(t.patients.outerjoin(t.patient_identities, i.patient_id == p.id))
        .where(p.id == patient_id)
    ).first()
    if row is None:
        raise NoSuchPatient(
            Wording(N_("no patient {patient} in the treatment record"), patient=patient_id),
            field="patient",
            value=patient_id,
        )
    erased = bool(row[3])
    identity = Identity(row[4], row[5], row[6]) if identified and not erased else None
    return Patient(int(row[0]), row[1], row[2], erased, identity)


def shows_identity(patient: Patient) -> bool:
    """Whether ``patient`` as read shows an identifying detail (what an identified read's audit entry is for)."""
    identity = patient.identity
    return identity is not None and any(getattr(identity, field) is not None for field in IDENTITY_FIELDS)


def note_identified_read(db: Connection, patient_id: int, *, read_by: str, via: str, reason: str = "") -> None:
    """Enter, in the caller's transaction, that ``read_by`` was shown patient ``patient_id``'s identifying details
    through ``via`` (e.g. ``mesogun record show 12``), for ``reason``: nothing is changed, nothing identifying is
    in the entry. An entry that cannot be written is a :class:`RecordError` saying so (the caller shows nothing)."""
    try:
        append_audit(
            db,
            actor=read_by,
            action=READ_IDENTIFIED,
            entity="patient",
            entity_id=patient_id,
            reason=reason.strip() if isinstance(reason, str) else "",
            new={"via": via},
        )
    except SQLAlchemyError as exc:
        raise RecordError(
            f"patient {patient_id}'s identifying details are not shown: the audit log could not enter who read them"
            f" ({cause(exc)})"
        ) from exc
