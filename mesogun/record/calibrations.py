"""The device calibrations in the record (issue 16): every technician's calibration run, passed, failed or aborted,
with the run as JSON and its certificate (PDF), each saved in one transaction with its audit log entry; a
device's history, the calibration in force and whether it is due.

The book takes plain values (text, datetimes, bytes), not the calibration procedure's dataclasses: the run's JSON
(``CalibrationRun.to_json()``) is kept as given, and the columns beside it are what the history and the due
date are read from. A run is never changed once saved (a new run is a new row). The audit entry holds the
columns and the SHA-256 of the run's JSON and of the certificate, so ``mesogun record verify`` finds a row, a
run or a certificate changed behind the program's back (:mod:`mesogun.record.audit_crosscheck`).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, insert, select

from mesogun.clinic.actors import Actor
from mesogun.clinic.errors import DuplicateEntry
from mesogun.errors import ParameterError, RecordError
from mesogun.i18n import N_
from mesogun.record import schema as t
from mesogun.record.audit import append_audit
from mesogun.record.basics import now
from mesogun.record.store import TreatmentRecord
from mesogun.wording import AllOf, Clauses, Word, Worded, Wording

KINDS = ("volume", "depth", "rate")
"""What a run calibrates (``CalibrationKind``'s values)."""
KIND_WORDS = {"volume": N_("volume"), "depth": N_("depth"), "rate": N_("rate")}
"""Each kind as a person is told it, for the catalog."""
OUTCOMES = ("passed", "failed", "aborted")
"""How a run ended (``RunOutcome``'s values)."""
PDF_MAGIC = b"%PDF-"
"""How every PDF file begins."""


class NoSuchCalibration(RecordError):
    """No calibration run of that id in the record (or it has no certificate)."""

    code = "MG606"
    exit_code = 2

    def __init__(self, message: str, *, field: str = "run_id", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class DueState(enum.Enum):
    """Whether a device's calibration is in force, overdue, or was never done."""

    IN_FORCE = "in_force"
    OVERDUE = "overdue"
    NEVER = "never_calibrated"


@dataclass(frozen=True)
class StoredCalibration:
    """One calibration run as the record holds it (the certificate itself: :meth:`CalibrationBook.certificate`)."""

    run_id: str
    device_serial: str
    kind: str
    """``volume``, ``depth`` or ``rate``."""
    syringe_brand: str
    outcome: str
    """``passed``, ``failed`` or ``aborted``."""
    technician: str
    started_at: str
    """ISO 8601, UTC."""
    finished_at: str | None
    calibration_id: int | None
    """The device's calibration id after the run (``None``: nothing was written)."""
    certificate_id: str
    due_at: str | None
    """When the next calibration is due, ISO 8601 UTC (``None``: no due date)."""
    has_certificate: bool
    saved: str
    run_json: str
    """The whole run (``CalibrationRun.to_json()``)."""


@dataclass(frozen=True)
class KindDue:
    """Whether one kind of a device's calibration (volume per syringe brand, depth, rate) is in force on a day: its
    latest passed run and that run's due date (``NEVER``: no passed run of this kind)."""

    kind: str
    syringe_brand: str
    """The syringe brand of a volume calibration ("" for depth and rate, or a volume run without one)."""
    state: DueState
    due_at: str | None
    run_id: str | None
    calibration_id: int | None

    @property
    def label(self) -> str:
        """``volume (BD)``, ``depth``, ``rate``."""
        return str(self.name)

    @property
    def name(self) -> Word | Wording:
        """The kind in a message: :attr:`label` in English, its words in another language (``volume (BD)``)."""
        word = Word(self.kind, KIND_WORDS.get(self.kind, ""))
        return Wording(N_("{kind} ({brand})"), kind=word, brand=self.syringe_brand) if self.syringe_brand else word


@dataclass(frozen=True)
class CalibrationDue:
    """Whether a device is due for calibration on a day, per kind (:attr:`kinds`: volume per syringe brand, depth,
    rate, each by its own latest passed run: a depth calibration does not stand for a volume one never done).
    ``state`` is the worst of them: in force when every kind is, never calibrated when no kind was, else overdue
    (a kind past its due date, or never done); ``due_at``, ``run_id`` and ``calibration_id`` are those of the
    kind due first."""

    device_serial: str
    state: DueState
    due_at: str | None
    run_id: str | None
    calibration_id: int | None
    kinds: tuple[KindDue, ...] = ()

    @property
    def overdue(self) -> bool:
        """Overdue, or never calibrated (any kind): the service warns at session start."""
        return self.state is not DueState.IN_FORCE

    def warning(self) -> Worded | None:
        """The warning a practitioner reads at session start, naming each kind overdue or never done, worded for the
        catalog (``None``: every kind in force)."""
        if self.state is DueState.NEVER:
            return Worded(
                Wording(
                    N_("gun {serial} has never been calibrated: its doses and depths are uncorrected"),
                    serial=self.device_serial,
                )
            )
        if self.state is DueState.IN_FORCE:
            return None
        parts: list[Wording] = [
            Wording(
                N_("{kind} was due on {date} (run {run}, calibration id {calibration})"),
                kind=k.name,
                date=str(k.due_at)[:10],
                run=k.run_id,
                calibration=k.calibration_id,
            )
            for k in self.kinds
            if k.state is DueState.OVERDUE
        ]
        never = self.never_calibrated()
        if never.items:
            parts.append(Wording(N_("{kinds} never calibrated"), kinds=never))
        return Worded(
            Wording(
                N_("gun {serial}'s calibration is overdue: {parts}"),
                serial=self.device_serial,
                parts=Clauses(tuple(parts)),
            )
        )

    def never_calibrated(self) -> AllOf:
        """The kinds never calibrated (``depth and rate``), for a message."""
        return AllOf(tuple(k.name for k in self.kinds if k.state is DueState.NEVER))


def due_per_kind(device_serial: str, passed: Sequence[StoredCalibration], day: date) -> CalibrationDue:
    """:class:`CalibrationDue` from a device's passed runs, newest first (pure)."""
    latest: dict[tuple[str, str], StoredCalibration] = {}
    for run in passed:
        brand = run.syringe_brand if run.kind == "volume" else ""
        latest.setdefault((run.kind, brand), run)
    kinds: list[KindDue] = []
    for kind in KINDS:
        found = sorted((key, run) for key, run in latest.items() if key[0] == kind)
        if not found:
            kinds.append(KindDue(kind, "", DueState.NEVER, None, None, None))
        for (_, brand), run in found:
            late = run.due_at is not None and date.fromisoformat(run.due_at[:10]) < day
            state = DueState.OVERDUE if late else DueState.IN_FORCE
            kinds.append(KindDue(kind, brand, state, run.due_at, run.run_id, run.calibration_id))
    if not latest:
        return CalibrationDue(device_serial, DueState.NEVER, None, None, None, tuple(kinds))
    in_force = all(k.state is DueState.IN_FORCE for k in kinds)
    dated = [k for k in kinds if k.run_id is not None]
    first = min(dated, key=lambda k: (k.due_at is None, k.due_at or ""))
    state = DueState.IN_FORCE if in_force else DueState.OVERDUE
    return CalibrationDue(device_serial, state, first.due_at, first.run_id, first.calibration_id, tuple(kinds))


def _stamp(value: datetime | None, field: str, *, required: bool = False) -> str | None:
    """A datetime as the record's UTC ISO 8601 text (a naive one is taken as UTC); refused naming ``field``."""
    if value is None:
        if required:
            raise ParameterError(f"{field} is required", field=field)
        return None
    if not isinstance(value, datetime):
        raise ParameterError(f"{field} must be a datetime, not {type(value).__name__}", field=field, value=value)
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="seconds")


def _text(value: object, field: str, *, blank: bool = False, limit: int = 200) -> str:
    """A text value, refused naming ``field`` if not text, blank (unless ``blank``) or over ``limit`` characters."""
    plain = getattr(value, "value", value)  # an enum's value (CalibrationKind.VOLUME → "volume")
    if not isinstance(plain, str):
        raise ParameterError(f"{field} must be text, not {type(plain).__name__}", field=field, value=plain)
    if not blank and not plain.strip():
        raise ParameterError(f"{field} must not be blank", field=field, value=plain)
    if len(plain) > limit:
        raise ParameterError(f"{field} is {len(plain)} characters; at most {limit}", field=field, value=plain[:40])
    return plain.strip()


def _one_of(value: object, field: str, allowed: Sequence[str]) -> str:
    plain = _text(value, field)
    if plain not in allowed:
        raise ParameterError(f"{field} {plain!r} is not one of: {', '.join(allowed)}", field=field, value=plain)
    return plain


def sha256(data: str | bytes | None) -> str | None:
    """The SHA-256 (hex) of a run's JSON or certificate, as the audit log holds it (``None``: none)."""
    if data is None:
        return None
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


AUDITED_COLUMNS = (
    "device_serial",
    "calibration_id",
    "kind",
    "syringe_brand",
    "outcome",
    "technician",
    "started_at",
    "finished_at",
    "certificate_id",
    "due_at",
)
"""The columns of a run the audit entry holds as they are (the run's JSON and the certificate: by digest)."""


class CalibrationBook:
    """Saves and reads calibration runs in a :class:`TreatmentRecord`."""

    def __init__(self, record: TreatmentRecord) -> None:
        self.record = record

    def save(
        self,
        run_json: str,
        *,
        run_id: str,
        device_serial: str,
        kind: str,
        syringe_brand: str = "",
        outcome: str,
        technician: str,
        started_at: datetime,
        finished_at: datetime | None = None,
        calibration_id: int | None = None,
        certificate_id: str = "",
        due_at: datetime | None = None,
        certificate_pdf: bytes | None = None,
        actor: Actor | str,
        reason: str = "",
    ) -> StoredCalibration:
        """Save one run (passed, failed or aborted) with its audit entry, in one transaction. Bad input is a
        :class:`ParameterError` naming the field (nothing saved); a ``run_id`` on record already is
        :class:`DuplicateEntry` (field ``run_id``)."""
        values: dict[str, Any] = {
            "run_id": _text(run_id, "run_id", limit=128),
            "device_serial": _text(device_serial, "device_serial", limit=128),
            "kind": _one_of(kind, "kind", KINDS),
            "syringe_brand": _text(syringe_brand, "syringe_brand", blank=True, limit=64),
            "outcome": _one_of(outcome, "outcome", OUTCOMES),
            "technician": _text(technician, "technician", limit=128),
            "started_at": _stamp(started_at, "started_at", required=True),
            "finished_at": _stamp(finished_at, "finished_at"),
            "calibration_id": _calibration_id(calibration_id),
            "certificate_id": _text(certificate_id, "certificate_id", blank=True, limit=64),
            "due_at": _stamp(due_at, "due_at"),
        }
        _check_json(run_json)
        if certificate_pdf is not None and (
            not isinstance(certificate_pdf, bytes) or not certificate_pdf.startswith(PDF_MAGIC)
        ):
            raise ParameterError("certificate_pdf is not a PDF (it must begin with %PDF-)", field="certificate_pdf")
        who = actor.name if isinstance(actor, Actor) else _text(actor, "actor", limit=128)
        with self.record.transaction() as db:
            c = t.calibrations.c
            if db.execute(select(c.id).where(c.run_id == values["run_id"])).first() is not None:
                raise DuplicateEntry(
                    f"calibration run {values['run_id']} is on record already (a run is never changed: a new run "
                    "needs a new id)",
                    field="run_id",
                    value=values["run_id"],
                )
            db.execute(
                insert(t.calibrations).values(**values, run_json=run_json, certificate_pdf=certificate_pdf, saved=now())
            )
            append_audit(
                db,
                actor=who,
                action="calibration.save",
                entity="calibration",
                entity_id=values["run_id"],
                reason=reason,
                new=audited(values, run_json, certificate_pdf),
            )
        return self.get(values["run_id"])

    def audit_device_write(
        self,
        device_serial: str,
        *,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any],
        actor: Actor | str,
        reason: str = "",
    ) -> None:
        """Enter a write of a device's calibration constants (old → new) in the audit log (the constants live in
        the device's NVM, not in a table of the record)."""
        who = actor.name if isinstance(actor, Actor) else _text(actor, "actor", limit=128)
        serial = _text(device_serial, "device_serial", limit=128)
        with self.record.transaction() as db:
            append_audit(
                db,
                actor=who,
                action="calibration.write_device",
                entity="device_calibration",
                entity_id=serial,
                reason=reason,
                old=old,
                new=new,
            )

    def get(self, run_id: str) -> StoredCalibration:
        """One run; :class:`NoSuchCalibration` (field ``run_id``) if none."""
        with self.record.reading() as db:
            row = db.execute(_runs().where(t.calibrations.c.run_id == run_id)).first()
        if row is None:
            raise NoSuchCalibration(f"no calibration run {run_id} in the treatment record", value=run_id)
        return _stored(row)

    def history(self, device_serial: str | None = None) -> list[StoredCalibration]:
        """The device's runs, oldest first (failed and aborted ones too); every device's for ``None`` (by serial
        number, then oldest first)."""
        c = t.calibrations.c
        query = _runs()
        if device_serial is None:
            query = query.order_by(c.device_serial, c.started_at, c.id)
        else:
            query = query.where(c.device_serial == device_serial).order_by(c.started_at, c.id)
        with self.record.reading() as db:
            rows = db.execute(query).all()
        return [_stored(row) for row in rows]

    def latest_in_force(self, device_serial: str) -> StoredCalibration | None:
        """The device's latest passed run (the calibration in force); ``None``: never calibrated here."""
        c = t.calibrations.c
        with self.record.reading() as db:
            row = db.execute(
                _runs()
                .where(c.device_serial == device_serial, c.outcome == "passed")
                .order_by(c.finished_at.desc(), c.started_at.desc(), c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else _stored(row)

    def due(self, device_serial: str, today: date) -> CalibrationDue:
        """Whether the device's calibration is in force on ``today``, per kind (volume per syringe brand, depth,
        rate; :func:`due_per_kind`): a kind is overdue once its latest passed run's due date has passed (due on a
        day: in force through that day), never calibrated without a passed run of that kind."""
        c = t.calibrations.c
        with self.record.reading() as db:
            rows = db.execute(
                _runs()
                .where(c.device_serial == device_serial, c.outcome == "passed")
                .order_by(c.finished_at.desc(), c.started_at.desc(), c.id.desc())
            ).all()
        day = today.date() if isinstance(today, datetime) else today
        return due_per_kind(device_serial, [_stored(row) for row in rows], day)

    def certificate(self, run_id: str) -> bytes:
        """The run's certificate (PDF bytes); :class:`NoSuchCalibration` if no such run, or it has none."""
        c = t.calibrations.c
        with self.record.reading() as db:
            row = db.execute(select(c.certificate_pdf).where(c.run_id == run_id)).first()
        if row is None:
            raise NoSuchCalibration(f"no calibration run {run_id} in the treatment record", value=run_id)
        if row[0] is None:
            raise NoSuchCalibration(f"calibration run {run_id} has no certificate", value=run_id)
        return bytes(row[0])


def audited(values: Mapping[str, Any], run_json: str | None, certificate_pdf: bytes | None) -> dict[str, Any]:
    """What a run's audit entry holds: its columns, and the digests of its JSON and certificate."""
    return {
        **{name: values[name] for name in AUDITED_COLUMNS},
        "run_sha256": sha256(run_json),
        "certificate_sha256": sha256(certificate_pdf),
    }


def _calibration_id(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ParameterError(
            f"calibration_id {value!r} is not a device calibration id (0 to 2^32-1)",
            field="calibration_id",
            value=value,
        )
    return value


def _check_json(run_json: str) -> None:
    if not isinstance(run_json, str):
        raise ParameterError(f"run_json must be JSON text, not {type(run_json).__name__}", field="run_json")
    try:
        parsed = json.loads(run_json)
    except ValueError as exc:
        raise ParameterError(f"run_json is not JSON: {exc}", field="run_json") from None
    if not isinstance(parsed, dict):
        raise ParameterError("run_json must be a JSON object (the run)", field="run_json")


_COLUMNS = (
    "run_id",
    "device_serial",
    "kind",
    "syringe_brand",
    "outcome",
    "technician",
    "started_at",
    "finished_at",
    "calibration_id",
    "certificate_id",
    "due_at",
)


def _runs() -> Select[Any]:
    c = t.calibrations.c
    return select(*(c[name] for name in _COLUMNS), c.certificate_pdf.is_not(None), c.saved, c.run_json)


def _stored(row: Sequence[Any]) -> StoredCalibration:
    values = dict(zip(_COLUMNS, row[: len(_COLUMNS)], strict=True))
    if values["calibration_id"] is not None:
        values["calibration_id"] = int(values["calibration_id"])
    has_certificate, saved, run_json = row[len(_COLUMNS) :]
    return StoredCalibration(**values, has_certificate=bool(has_certificate), saved=str(saved), run_json=str(run_json))
