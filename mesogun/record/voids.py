"""Voided treatment sessions, read from the audit log: a session opened by mistake (the wrong patient) is marked
void by a ``session.void`` entry (who, when, why), a correction that deletes nothing and needs no column of its own;
its state is that entry. The entry is chained like every other, so a void added or removed behind the program's
back breaks ``mesogun record verify``."""

from __future__ import annotations

from sqlalchemy import Connection, select

from mesogun.clinic.summary import Voided
from mesogun.record import schema as t

VOID = "session.void"
"""The audit action that voids a treatment session (entity ``visit``)."""


def voids(db: Connection) -> dict[int, Voided]:
    """Every voided visit, by id (a few: one read of the audit log's entries of this action)."""
    a = t.audit_log.c
    rows = db.execute(
        select(a.entity_id, a.actor, a.ts, a.reason).where(a.action == VOID, a.entity == "visit").order_by(a.seq)
    ).all()
    return {int(visit): Voided(actor, ts, reason) for visit, actor, ts, reason in rows if str(visit).isdigit()}
