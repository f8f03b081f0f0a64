"""Test support for the audit log: a record with entries, and tampering with it behind the program's back (the
sqlite3 module on a SQLite file, psycopg on PostgreSQL), the append-only triggers dropped first as a tamperer
who can would."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from mesogun.record import TreatmentRecord
from mesogun.record.audit import AuditEntry, append_audit, entry_hash

ENTRIES = 10
ACTIONS = ("patient.add", "course.add", "visit.open", "lot.add", "checklist.answer")

DROP_GUARD = {
    "sqlite": (
        "DROP TRIGGER IF EXISTS audit_log_no_update",
        "DROP TRIGGER IF EXISTS audit_log_no_delete",
        "DROP TRIGGER IF EXISTS audit_log_no_replace",
    ),
    "postgresql": (
        "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
        "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    ),
}


def make_log(where: Path | str, count: int = ENTRIES) -> list[AuditEntry]:
    """A record at ``where`` whose audit log holds ``count`` entries, each its own transaction, as a book writes."""
    entries = []
    with TreatmentRecord(where) as record:
        for n in range(1, count + 1):
            with record.transaction() as db:
                entries.append(
                    append_audit(
                        db,
                        actor="dr.jones",
                        action=ACTIONS[n % len(ACTIONS)],
                        entity="test",  # not a clinical table's: record verify's cross-check passes it by
                        entity_id=f"P{n:03d}",
                        reason="" if n % 3 else "typo in the lot number",
                        old=None if n % 2 else {"lot": f"L{n - 1}"},
                        new={"lot": f"L{n}", "zone": "face.forehead"},
                    )
                )
    return entries


def run_sql(where: Path | str, *statements: str | tuple[str, tuple[Any, ...]], drop_guard: bool = True) -> None:
    """Run SQL statements on the record's database directly, in one transaction (``?`` placeholders on both
    backends), after dropping the append-only triggers unless ``drop_guard`` is false."""
    dialect = "sqlite" if isinstance(where, Path) else "postgresql"
    script = [*(DROP_GUARD[dialect] if drop_guard else ()), *statements]
    if isinstance(where, Path):
        db = sqlite3.connect(where)
        try:
            with db:
                for statement in script:
                    sql, params = (statement, ()) if isinstance(statement, str) else statement
                    db.execute(sql, params)
        finally:
            db.close()
        return
    import psycopg

    with psycopg.connect(where) as pg, pg.transaction():
        for statement in script:
            sql, params = (statement, ()) if isinstance(statement, str) else statement
            pg.execute(sql.replace("?", "%s"), params)


def forged(seq: int, prev_hash: str, *, action: str = "lot.add") -> tuple[str, tuple[Any, ...]]:
    """The INSERT of an entry a forger made: plausible fields, its hash correctly computed over them."""
    fields: dict[str, Any] = {
        "seq": seq,
        "ts": "2025-01-01T09:00:00.000+00:00",
        "actor": "intruder",
        "action": action,
        "entity": "lot",
        "entity_id": "L-FORGED",
        "reason": "",
        "old_value": None,
        "new_value": '{"expiry":"2030-01-01"}',
        "prev_hash": prev_hash,
    }
    values = (*fields.values(), entry_hash(**fields))
    return f"INSERT INTO audit_log ({', '.join(fields)}, hash) VALUES ({', '.join('?' * len(values))})", values


def renumber(where_seq: str, by: int) -> tuple[str, ...]:
    """Statements that add ``by`` to the seq of the entries matching ``where_seq`` without clashing keys."""
    return (
        f"UPDATE audit_log SET seq = -(seq + {by}) WHERE {where_seq}",
        "UPDATE audit_log SET seq = -seq WHERE seq < 0",
    )


def rehash_from(where: Path | str, entries: list[AuditEntry], first: int, *, reason: str) -> None:
    """Rewrite the log from entry ``first`` on, that entry's reason changed and every hash after recomputed: what
    a chain cannot show by itself."""
    statements: list[str | tuple[str, tuple[Any, ...]]] = []
    prev = entries[first - 2].hash if first > 1 else "0" * 64
    for entry in entries[first - 1 :]:
        fields = {k: v for k, v in vars(entry).items() if k != "hash"}
        fields |= {"prev_hash": prev, "reason": reason if entry.seq == first else entry.reason}
        prev = entry_hash(**fields)
        update = "UPDATE audit_log SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?"
        statements.append((update, (fields["reason"], fields["prev_hash"], prev, entry.seq)))
    run_sql(where, *statements)
