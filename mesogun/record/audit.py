"""The record's audit log: every change and privileged action, appended in the same transaction as the change,
each entry chained to the one before by a SHA-256 hash (21 CFR 11.10(e): nothing is overwritten, an earlier
value is never hidden; a correction is a new entry). ``mesogun record verify`` recomputes the chain.

An entry's hash covers its sequence number, time, actor, action, entity, entity id, reason, old and new
values (canonical JSON) and the previous entry's hash, so an entry altered, inserted or deleted behind the
program's back breaks the chain at that point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select

from mesogun.record import schema as t
from mesogun.record.basics import now

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""

FIELDS = (
    "seq",
    "ts",
    "actor",
    "action",
    "entity",
    "entity_id",
    "reason",
    "old_value",
    "new_value",
    "prev_hash",
    "hash",
)
"""An entry's columns, in :class:`AuditEntry`'s order (the record's ``audit_log``; the accounts store's is alike)."""

SQLITE_REFUSAL = "audit_log is append-only: an entry is never changed or removed (a correction is a new entry)"
SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log"
    f" BEGIN SELECT RAISE(ABORT, '{SQLITE_REFUSAL}'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log"
    f" BEGIN SELECT RAISE(ABORT, '{SQLITE_REFUSAL}'); END",
    # INSERT OR REPLACE removes the entry it replaces without firing delete triggers: refused before it can
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log"
    f" WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq) BEGIN SELECT RAISE(ABORT, '{SQLITE_REFUSAL}'); END",
)
"""The append-only triggers of an ``audit_log`` table in a SQLite file other than the record's (the service's
accounts store: no Alembic there); the record's own come from its migration 0005, with the same names."""


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log, as stored."""

    seq: int
    ts: str
    actor: str
    action: str
    entity: str
    entity_id: str
    reason: str
    old_value: str | None
    new_value: str | None
    prev_hash: str
    hash: str


def canonical(values: Mapping[str, Any] | None) -> str | None:
    """The canonical JSON of ``values`` (sorted keys, no spaces, UTF-8 kept), or ``None``."""
    if values is None:
        return None
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_HASHED_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""The JSON an entry's hash is computed over (one encoder: ``record verify`` hashes millions of entries)."""


def entry_hash(
    *,
    seq: int,
    ts: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    reason: str,
    old_value: str | None,
    new_value: str | None,
    prev_hash: str,
) -> str:
    """The SHA-256 (hex) of an entry's fields and the previous entry's hash."""
    fields = [seq, ts, actor, action, entity, entity_id, reason, old_value, new_value, prev_hash]
    return hashlib.sha256(_HASHED_JSON.encode(fields).encode()).hexdigest()


def append_audit(
    db: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    reason: str = "",
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    log: Table = t.audit_log,
    ts: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log inside the caller's write transaction (``record.transaction()``,
    which holds the record's write lock, so entries are numbered and chained one at a time). ``log`` is another
    database's table of the same columns (the accounts store's, written under its own write lock), ``ts`` the
    time if not now."""
    a = log.c
    last = db.execute(select(a.seq, a.hash).order_by(a.seq.desc()).limit(1)).first()
    seq, prev_hash = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
    fields: dict[str, Any] = {
        "seq": seq,
        "ts": now() if ts is None else ts,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "reason": reason,
        "old_value": canonical(old),
        "new_value": canonical(new),
        "prev_hash": prev_hash,
    }
    digest = entry_hash(**fields)
    db.execute(insert(log).values(**fields, hash=digest))
    return AuditEntry(**fields, hash=digest)
