"""The clinical tables checked against the audit log (``mesogun record verify``, after the chain verified): every
row the clinic's books write must hold what the log's entries, applied in order, say it holds.

A chain shows an entry changed; it cannot show a clinical row changed, added or removed behind the program's back
(an ``UPDATE overrides SET reason = …`` leaves the log whole). So the log is read once, in pages, into what each
audited row should hold now (created: its new values; changed: the new values over them; erased: the identity
cleared), then each clinical table is read once, in pages by key, and compared. The first row that differs is
named: its table, its key, the field, what it holds and what the log says (with the entry's ``seq``); a row no
entry accounts for was inserted behind the program's back, an audited row that is gone was deleted.

Identifying details are compared by digest (the log holds keyed digests, :func:`mesogun.record.patients.digest`,
with the salt in the identity row) and never shown. The device log (sessions, commands, shots, alarms) is not on
the audit log and is not checked here (docs/audit.md).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select

from mesogun.record import schema as t
from mesogun.record.calibrations import AUDITED_COLUMNS as CALIBRATION_COLUMNS
from mesogun.record.calibrations import sha256
from mesogun.record.paging import keyset
from mesogun.record.patients import DIGEST_PREFIX, IDENTITY_FIELDS, READ_IDENTIFIED, digest

if TYPE_CHECKING:
    from mesogun.record.store import TreatmentRecord

PAGE = 10_000
"""Rows (and audit entries) read per query."""
CALIBRATION_PAGE = 100
"""Calibration runs read per query (each with its certificate, a PDF)."""
CALIBRATION_AUDITED = (*CALIBRATION_COLUMNS, "run_sha256", "certificate_sha256")
"""What a calibration run's entry says about its row (the JSON and the certificate by digest)."""

VISIT_COLUMNS = (
    "patient_id",
    "course_id",
    "practitioner",
    "preset",
    "lot_id",
    "zone",
    "consent",
    "syringe_brand",
    "syringe_ul",
    "needle_gauge",
    "needle_length_um",
    "needle_changed",
    "signed_off_by",
    "signed_off_at",
    "signed_off_meaning",
)
"""A visit's clinical columns (the treatment book's)."""
VISIT_OWN_COLUMNS = ("device_serial", "opened", "opened_by", "note", "closed", "closed_by")
"""A visit's own columns (every visit's: ``visit.open`` and ``visit.close`` audit them; a treatment session's
start its gun, its sign-off its closing)."""

ENTITY_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "courses": ("patient_id", "indication", "preset", "planned_sessions", "interval_days", "closed"),
    "products": ("name", "description"),
    "lots": ("product_id", "lot_number", "expiry"),
    "clinic_presets": (
        "name",
        "depth_um",
        "dose_nl",
        "rate_mhz",
        "mode",
        "description",
        "max_depth_um",
        "max_volume_per_zone_nl",
    ),
    "visits": (*VISIT_COLUMNS, *VISIT_OWN_COLUMNS),
}
"""The audited columns of each table whose rows are audit entities themselves."""
_ENTITY_TABLE = {"course": "courses", "product": "products", "lot": "lots", "preset": "clinic_presets"}

CHILD_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "overrides": ("limit_name", "reason", "overridden_by", "detail"),
    "visit_notes": ("text", "written_by"),
    "adverse_events": ("kind", "severity", "detail", "reported_by"),
    "aftercare": ("advice", "given_by"),
}
"""A visit's entries, audited in the visit's entries (matched in order of their ids)."""

_AUDITED = ("patient", "course", "product", "lot", "preset", "visit", "calibration")
READ_ACTIONS = frozenset({READ_IDENTIFIED})
"""Entries of a read (who saw identifying details): they change no row."""


@dataclass(frozen=True)
class Mismatch:
    """The first clinical row that does not hold what the audit log says."""

    table: str
    row: str
    """Its key, e.g. ``12`` or ``12/pregnancy`` (checklist answers: visit and item)."""
    field: str | None
    """The field that differs; ``None`` when the whole row is unaccounted for or gone."""
    held: str | None
    """What the row holds (an identifying value as its digest); ``None`` when the row is gone."""
    audited: str | None
    """What the audit log says it holds; ``None`` when no entry accounts for the row."""
    seq: int | None
    """The entry that says so (the newest one setting the field)."""

    def describe(self) -> str:
        """One line: the table, the row, the field, both values and the entry."""
        where = f"the clinical record does not match its audit log: {self.table} row {self.row}"
        if self.audited is None:
            return f"{where} is not on the audit log (inserted behind the program's back)"
        if self.held is None and self.field is None:
            return f"{where} is gone, but audit entry {self.seq} says it holds {self.audited} (deleted)"
        return f"{where}, {self.field}: the row holds {self.held}, the audit log says {self.audited} (entry {self.seq})"


@dataclass
class _Child:
    values: dict[str, Any]
    seq: int


@dataclass
class _Expected:
    """What the audit log says the clinical tables hold: per table, per key, per field, (value, seq)."""

    rows: dict[str, dict[Any, dict[str, tuple[Any, int]]]]
    children: dict[str, dict[Any, deque[_Child]]]
    first_plain_visit: int | None = None
    """The first visit opened without a patient with a ``visit.open`` entry: the older ones were opened by a
    version that did not audit them (only they may lack an entry)."""

    @classmethod
    def empty(cls) -> _Expected:
        tables = ("patients", "patient_identities", "checklist_answers", "calibrations", *ENTITY_COLUMNS)
        return cls({name: {} for name in tables}, {name: {} for name in CHILD_COLUMNS})

    def set(self, table: str, key: Any, values: Mapping[str, Any], seq: int) -> None:
        fields = self.rows[table].setdefault(key, {})
        for name, value in values.items():
            fields[name] = (int(value) if isinstance(value, bool) else value, seq)

    def add_child(self, table: str, visit_id: Any, values: dict[str, Any], seq: int) -> None:
        self.children[table].setdefault(visit_id, deque()).append(_Child(values, seq))

    def apply(self, seq: int, actor: str, action: str, entity: str, entity_id: str, reason: str, new: Any) -> None:
        """One entry, applied over what the entries before it said (a read changes nothing)."""
        if not isinstance(new, dict) or action in READ_ACTIONS:
            return
        if entity == "patient":
            self._patient(seq, action, _id(entity_id), new)
        elif entity == "visit":
            self._visit(seq, actor, action, _id(entity_id), reason, new)
        elif entity == "calibration":  # keyed by its run id (text); a run is saved once, never changed
            self.set("calibrations", entity_id, {k: new.get(k) for k in CALIBRATION_AUDITED}, seq)
        else:
            table = _ENTITY_TABLE[entity]
            key: Any = entity_id if table == "clinic_presets" else _id(entity_id)
            columns = ENTITY_COLUMNS[table]
            created = dict.fromkeys(columns) if key not in self.rows[table] else {}
            self.set(table, key, created | {k: v for k, v in new.items() if k in columns}, seq)

    def _patient(self, seq: int, action: str, patient_id: Any, new: dict[str, Any]) -> None:
        if "pseudonym" in new:
            self.set("patients", patient_id, {"pseudonym": new["pseudonym"]}, seq)
        if patient_id not in self.rows["patient_identities"]:
            self.set("patient_identities", patient_id, {**dict.fromkeys(IDENTITY_FIELDS), "erased": 0}, seq)
        if isinstance(new.get("identity"), dict):
            given = {k: v for k, v in new["identity"].items() if k in IDENTITY_FIELDS}
            self.set("patient_identities", patient_id, given, seq)
        if new.get("erased") is True:
            self.set("patient_identities", patient_id, {**dict.fromkeys(IDENTITY_FIELDS), "erased": 1}, seq)

    def _visit(self, seq: int, actor: str, action: str, visit_id: Any, reason: str, new: dict[str, Any]) -> None:
        own = {c: new[c] for c in VISIT_OWN_COLUMNS if c in new}
        if action == "visit.open":
            if isinstance(visit_id, int) and (self.first_plain_visit is None or visit_id < self.first_plain_visit):
                self.first_plain_visit = visit_id
            self.set(
                "visits", visit_id, {**dict.fromkeys(VISIT_COLUMNS), "closed": None, "closed_by": None, **own}, seq
            )
        elif action == "session.start":
            self.set("visits", visit_id, {**{c: new.get(c) for c in VISIT_COLUMNS}, **own}, seq)
            for item, present in (new.get("checklist") or {}).items():
                self.set("checklist_answers", (visit_id, item), {"present": present}, seq)
            for item in new.get("contraindications_overridden") or ():
                limit = {"limit_name": f"checklist.{item}", "reason": reason, "overridden_by": actor}
                self.add_child("overrides", visit_id, limit, seq)
        elif action == "session.override":
            for breach in new.get("limits") or ():
                limit = {"limit_name": breach.get("limit"), "reason": reason, "overridden_by": actor}
                if "detail" in breach:  # entries written before the detail was audited lack it
                    limit["detail"] = breach["detail"]
                self.add_child("overrides", visit_id, limit, seq)
        elif action == "session.note":
            self.add_child("visit_notes", visit_id, {"text": new.get("note"), "written_by": actor}, seq)
        elif action == "session.adverse_event":
            values = {k: new.get(k) for k in ("kind", "severity", "detail")}
            self.add_child("adverse_events", visit_id, {**values, "reported_by": actor}, seq)
        elif action == "session.aftercare":
            for line in new.get("advice") or ():
                self.add_child("aftercare", visit_id, {"advice": line, "given_by": actor}, seq)
        else:  # a change, the sign-off, visit.close
            self.set("visits", visit_id, {k: v for k, v in new.items() if k in ENTITY_COLUMNS["visits"]}, seq)


def _id(entity_id: str) -> Any:
    """An entity id as its table keys it (an integer; an id no row can have stays text, and shows as deleted)."""
    return int(entity_id) if entity_id.isdigit() else entity_id


def crosscheck(record: TreatmentRecord, *, page: int = PAGE) -> Mismatch | None:
    """The first clinical row that does not hold what the audit log says (``None``: every one does). Read the log
    once and each clinical table once, each in pages of ``page``."""
    expected = _expected(record, page)
    return (
        _patients(record, expected, page)
        or _identities(record, expected, page)
        or next((m for table in ENTITY_COLUMNS if (m := _entities(record, expected, table, page))), None)
        or _checklist(record, expected, page)
        or next((m for table in CHILD_COLUMNS if (m := _children(record, expected, table, page))), None)
        or _calibrations(record, expected, min(page, CALIBRATION_PAGE))
    )


def _expected(record: TreatmentRecord, page: int) -> _Expected:
    a = t.audit_log.c
    expected = _Expected.empty()
    query = select(a.seq, a.actor, a.action, a.entity, a.entity_id, a.reason, a.new_value).where(a.entity.in_(_AUDITED))
    for seq, actor, action, entity, entity_id, reason, new_value in keyset(record.rows, query, [a.seq], page):
        new = json.loads(new_value) if new_value else None
        expected.apply(int(seq), actor, action, entity, entity_id, reason, new)
    return expected


def _pages(
    record: TreatmentRecord, table: Table, key: Sequence[str], columns: Sequence[str], page: int
) -> Iterator[Any]:
    """The table's rows (key columns first, then ``columns``) in key order, ``page`` at a time (keyset paging)."""
    keys = [table.c[name] for name in key]
    return keyset(record.rows, select(*keys, *(table.c[name] for name in columns)), keys, page)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _compare(
    table: str, key: str, held: Mapping[str, Any], audited: Mapping[str, tuple[Any, int]], columns: Sequence[str]
) -> Mismatch | None:
    for name in columns:
        if name not in audited:
            continue
        value, seq = audited[name]
        if held[name] != value:
            return Mismatch(table, key, name, _shown(held[name]), _shown(value), seq)
    return None


def _gone(table: str, left: Mapping[Any, Mapping[str, tuple[Any, int]]]) -> Mismatch | None:
    """The first audited row the table no longer holds."""
    if not left:
        return None
    key, fields = min(left.items(), key=lambda item: min(seq for _, seq in item[1].values()))
    seq = min(seq for _, seq in fields.values())
    values = {name: value for name, (value, _) in fields.items() if not str(value).startswith(DIGEST_PREFIX)}
    return Mismatch(table, _key(key), None, None, _shown(values), seq)


def _key(key: Any) -> str:
    return "/".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _rows_against(
    record: TreatmentRecord,
    expected: _Expected,
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    page: int,
    *,
    unaudited_ok: Callable[[Any, Mapping[str, Any]], bool] | None = None,
) -> Mismatch | None:
    """Each row of ``table`` against its audited values; then any audited row not seen."""
    left = expected.rows[table]
    for row in _pages(record, t.metadata.tables[table], key, columns, page):
        row_key = row[0] if len(key) == 1 else tuple(row[: len(key)])
        held = dict(zip(columns, row[len(key) :], strict=True))
        audited = left.pop(row_key, None)
        if audited is None:
            if unaudited_ok is not None and unaudited_ok(row_key, held):
                continue
            return Mismatch(table, _key(row_key), None, _shown(held), None, None)
        found = _compare(table, _key(row_key), held, audited, columns)
        if found is not None:
            return found
    return _gone(table, left)


def _patients(record: TreatmentRecord, expected: _Expected, page: int) -> Mismatch | None:
    return _rows_against(record, expected, "patients", ("id",), ("pseudonym",), page)


def _identities(record: TreatmentRecord, expected: _Expected, page: int) -> Mismatch | None:
    """Identity rows by digest: each value's keyed digest recomputed with the row's salt, never the value shown."""
    left = expected.rows["patient_identities"]
    columns = (*IDENTITY_FIELDS, "salt", "erased")
    for row in _pages(record, t.patient_identities, ("patient_id",), columns, page):
        patient_id, *values = row
        stored = dict(zip(columns, values, strict=True))
        salt = stored["salt"]
        held: dict[str, Any] = {"erased": stored["erased"]}
        for field in IDENTITY_FIELDS:
            value = stored[field]
            held[field] = None if value is None else digest(salt, field, value) if salt else "a value without its salt"
        audited = left.pop(patient_id, None)
        if audited is None:
            return Mismatch("patient_identities", str(patient_id), None, "an identity", None, None)
        found = _compare("patient_identities", str(patient_id), held, audited, (*IDENTITY_FIELDS, "erased"))
        if found is not None:
            return found
    return _gone("patient_identities", left)


def _older_plain_visit(expected: _Expected) -> Callable[[Any, Mapping[str, Any]], bool]:
    """A visit without an entry that a version not auditing plain visits opened: nothing clinical in it, and older
    than the first ``visit.open`` entry's (a plain visit opened since without one was inserted behind the
    program's back)."""
    first = expected.first_plain_visit

    def older(key: Any, held: Mapping[str, Any]) -> bool:
        return all(held[c] is None for c in VISIT_COLUMNS) and (first is None or key < first)

    return older


def _entities(record: TreatmentRecord, expected: _Expected, table: str, page: int) -> Mismatch | None:
    key = ("name",) if table == "clinic_presets" else ("id",)
    columns = [c for c in ENTITY_COLUMNS[table] if c not in key]
    if table == "clinic_presets":
        for fields in expected.rows[table].values():
            fields.pop("name", None)
    ok = _older_plain_visit(expected) if table == "visits" else None
    return _rows_against(record, expected, table, key, columns, page, unaudited_ok=ok)


def _checklist(record: TreatmentRecord, expected: _Expected, page: int) -> Mismatch | None:
    return _rows_against(record, expected, "checklist_answers", ("visit_id", "item"), ("present",), page)


def _calibrations(record: TreatmentRecord, expected: _Expected, page: int) -> Mismatch | None:
    """Each calibration run against its entry: its columns, and the digests of its JSON and certificate."""
    left = expected.rows["calibrations"]
    for row in _pages(record, t.calibrations, ("run_id",), (*CALIBRATION_COLUMNS, "run_json", "certificate_pdf"), page):
        run_id, *values = row
        stored = dict(zip((*CALIBRATION_COLUMNS, "run_json", "certificate_pdf"), values, strict=True))
        pdf = stored.pop("certificate_pdf")
        held = {
            **stored,
            "run_sha256": sha256(stored.pop("run_json")),
            "certificate_sha256": sha256(None if pdf is None else bytes(pdf)),
        }
        audited = left.pop(run_id, None)
        if audited is None:
            return Mismatch("calibrations", str(run_id), None, _shown(held), None, None)
        found = _compare("calibrations", str(run_id), held, audited, CALIBRATION_AUDITED)
        if found is not None:
            return found
    return _gone("calibrations", left)


def _children(record: TreatmentRecord, expected: _Expected, table: str, page: int) -> Mismatch | None:
    """A visit's entries, in id order, against the visit's audited entries in ``seq`` order (a row matching a later
    entry shows the ones before it deleted)."""
    columns = CHILD_COLUMNS[table]
    left = expected.children[table]
    for row in _pages(record, t.metadata.tables[table], ("id",), ("visit_id", *columns), page):
        row_id, visit_id, *values = row
        held = dict(zip(columns, values, strict=True))
        queue = left.get(int(visit_id))
        if not queue:
            return Mismatch(table, str(row_id), None, _shown(held), None, None)
        matching = next((n for n, child in enumerate(queue) if _same(held, child.values)), None)
        if matching is None:
            child = queue[0]
            name = next(name for name in columns if name in child.values and held[name] != child.values[name])
            return Mismatch(table, str(row_id), name, _shown(held[name]), _shown(child.values[name]), child.seq)
        if matching > 0:
            return _deleted_child(table, int(visit_id), queue[0])
        queue.popleft()
    for visit_id, queue in sorted(left.items(), key=lambda item: item[1][0].seq if item[1] else 0):
        if queue:
            return _deleted_child(table, visit_id, queue[0])
    return None


def _same(held: Mapping[str, Any], audited: Mapping[str, Any]) -> bool:
    return all(held[name] == value for name, value in audited.items())


def _deleted_child(table: str, visit_id: Any, child: _Child) -> Mismatch:
    return Mismatch(table, f"of visit {visit_id}", None, None, _shown(child.values), child.seq)
