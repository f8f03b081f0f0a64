"""Visits: a treatment session as a clinic means it, opened and closed explicitly (by the tablet, the CLI or the
API), holding every connection, reconnection and command in between (each connection is a record session
whose ``visit_id`` names its visit). One open visit per gun at a time. Opening and closing one is an entry of the
audit log (``visit.open``, ``visit.close``), in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, update

from mesogun.errors import ParameterError, RecordError
from mesogun.i18n import N_
from mesogun.record import schema as t
from mesogun.record.audit import append_audit
from mesogun.record.basics import now
from mesogun.record.queries import as_int
from mesogun.record.store import TreatmentRecord
from mesogun.record.writes import inserted_id
from mesogun.wording import Wording

NOTE_MAX = 2000
"""The longest visit note, characters."""


class NoSuchVisit(RecordError):
    """No visit of that id in the record (or it is not open, for a close)."""

    code = "MG604"
    exit_code = 2


class VisitAlreadyOpen(RecordError):
    """The gun has an open visit already: close it before opening another."""

    code = "MG605"
    exit_code = 2


@dataclass(frozen=True)
class Visit:
    """One visit with what happened during it: its connections (record sessions) and their shots."""

    id: int
    device_serial: str
    opened: str
    closed: str | None
    opened_by: str
    closed_by: str | None
    note: str
    sessions: tuple[int, ...]
    """The record sessions (connections) it holds, oldest first."""
    shots: int
    """Shots on record in detail during the visit (this host's)."""
    shots_unreceived: int
    """Shots the device counted during the visit whose details never reached the host."""
    volume_ml: float
    """Volume delivered by the recorded shots, mL."""


def check_note(note: str) -> None:
    """Refuse (field ``note``) a note longer than :data:`NOTE_MAX`."""
    if len(note) > NOTE_MAX:
        raise ParameterError(
            Wording(N_("note is {length} characters; at most {limit} are kept"), length=len(note), limit=NOTE_MAX),
            field="note",
            value=len(note),
        )


def open_visit(db: Connection, device_serial: str, *, opened_by: str, note: str = "", **columns: Any) -> int:
    """Insert an open visit on ``device_serial`` (with more ``columns``: a treatment session's clinical side) inside
    the caller's transaction; its id. :class:`VisitAlreadyOpen` if one is open on the gun. The caller writes its
    audit entry (``visit.open``, or the treatment book's ``session.start``)."""
    return _insert(db, {"device_serial": device_serial, "opened": now(), "opened_by": opened_by, "note": note}, columns)


def _insert(db: Connection, own: dict[str, Any], columns: dict[str, Any]) -> int:
    v = t.visits.c
    serial = own["device_serial"]
    open_id = db.execute(select(v.id).where(v.device_serial == serial, v.closed.is_(None))).scalar()
    if open_id is not None:
        raise VisitAlreadyOpen(f"gun {serial} has visit {open_id} open; close it before opening another")
    return inserted_id(db.execute(insert(t.visits).values(**own, **columns)))


def sessions_of(visit_id: int) -> Select[Any]:
    """The ids of the record sessions (connections) a visit holds, as a subquery."""
    return select(t.sessions.c.id).where(t.sessions.c.visit_id == visit_id)


def unreceived_in(visit_id: int) -> Select[Any]:
    """One number: the shots the device counted during a visit whose details never reached the host (placeholder
    rows and unreceived ranges)."""
    sh, u = t.shots.c, t.unreceived.c
    in_visit = sessions_of(visit_id)
    placeholders = (
        select(func.count()).select_from(t.shots).where(sh.received == 0, sh.session_id.in_(in_visit)).scalar_subquery()
    )
    ranges = (
        select(func.coalesce(func.sum(u.last - u.first + 1), 0)).where(u.session_id.in_(in_visit)).scalar_subquery()
    )
    return select(as_int(placeholders + ranges))


def _who(user: str) -> str:
    """The actor of a visit's entry: the user who opened or closed it (a program that names none: ``unnamed``)."""
    return user or "unnamed"


class VisitBook:
    """Opens, closes and reads visits in a :class:`TreatmentRecord` (each write its own durable commit)."""

    def __init__(self, record: TreatmentRecord) -> None:
        self.record = record

    def open(self, device_serial: str, *, opened_by: str, note: str = "") -> Visit:
        """Open a visit on ``device_serial``; :class:`VisitAlreadyOpen` if one is open on it."""
        check_note(note)
        own = {"device_serial": device_serial, "opened": now(), "opened_by": opened_by, "note": note}
        with self.record.transaction() as db:
            visit_id = _insert(db, own, {})
            append_audit(db, actor=_who(opened_by), action="visit.open", entity="visit", entity_id=visit_id, new=own)
        return self.get(visit_id)

    def close(self, visit_id: int, *, closed_by: str) -> Visit:
        """Close an open visit; :class:`NoSuchVisit` if there is no such open visit."""
        v = t.visits.c
        closing = {"closed": now(), "closed_by": closed_by}
        with self.record.transaction() as db:
            result = db.execute(update(t.visits).where(v.id == visit_id, v.closed.is_(None)).values(**closing))
            if result.rowcount != 1:
                raise NoSuchVisit(
                    Wording(
                        N_("no open visit {visit} in the treatment record {path}"),
                        visit=visit_id,
                        path=self.record.path,
                    )
                )
            append_audit(
                db,
                actor=_who(closed_by),
                action="visit.close",
                entity="visit",
                entity_id=visit_id,
                old={"closed": None, "closed_by": None},
                new=closing,
            )
        return self.get(visit_id)

    def open_on(self, device_serial: str) -> Visit | None:
        """The visit open on ``device_serial``, if any."""
        v = t.visits.c
        rows = self.record.rows(select(v.id).where(v.device_serial == device_serial, v.closed.is_(None)))
        return self.get(rows[0][0]) if rows else None

    def get(self, visit_id: int) -> Visit:
        """One visit with its sessions and shot totals; :class:`NoSuchVisit` if there is none."""
        v, s, sh = t.visits.c, t.sessions.c, t.shots.c
        rows = self.record.rows(
            select(v.id, v.device_serial, v.opened, v.closed, v.opened_by, v.closed_by, v.note).where(v.id == visit_id)
        )
        if not rows:
            raise NoSuchVisit(
                Wording(N_("no visit {visit} in the treatment record {path}"), visit=visit_id, path=self.record.path)
            )
        sessions = tuple(r[0] for r in self.record.rows(sessions_of(visit_id).order_by(s.id)))
        in_visit = sessions_of(visit_id)
        ((shots, volume_nl),) = self.record.rows(
            select(
                as_int(func.count()), as_int(func.coalesce(func.sum(func.coalesce(sh.delivered_nl, sh.dose_nl)), 0))
            ).where(sh.session_id.in_(in_visit), sh.received == 1, sh.other_host == 0)
        )
        ((unreceived,),) = self.record.rows(unreceived_in(visit_id))
        vid, serial, opened, closed, opened_by, closed_by, note = rows[0]
        return Visit(
            id=vid,
            device_serial=serial,
            opened=opened,
            closed=closed,
            opened_by=opened_by,
            closed_by=closed_by,
            note=note,
            sessions=sessions,
            shots=shots,
            shots_unreceived=unreceived,
            volume_ml=volume_nl / 1e6,
        )

    def all(self, device_serial: str | None = None) -> list[Visit]:
        """Every visit (of one gun if given), oldest first."""
        v = t.visits.c
        query = select(v.id).order_by(v.id)
        ids = self.record.rows(query if device_serial is None else query.where(v.device_serial == device_serial))
        return [self.get(row[0]) for row in ids]
