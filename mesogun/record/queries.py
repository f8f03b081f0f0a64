"""The record's reads, each a function of a connection: session summaries, a session's shots (unreceived ranges
expanded), alarms, notes, anomalies and events. Sums are cast to 64-bit integers (PostgreSQL's SUM of a bigint is
a numeric) so every backend returns plain ints."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, case, cast, func, select

from mesogun.record import dialects
from mesogun.record import schema as t
from mesogun.record.basics import TREATMENT, AlarmRow, SessionSummary, ShotRow
from mesogun.record.writes import device_of


def _count(table: Table, session: ColumnElement[Any], *where: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of ``table`` the session has (where ``where``), as a correlated subquery."""
    return select(func.count()).select_from(table).where(table.c.session_id == session, *where).scalar_subquery()


def _sum(expression: ColumnElement[Any], *where: ColumnElement[bool]) -> ColumnElement[int]:
    """The sum of ``expression`` over the rows ``where`` (0 if none), as a correlated subquery."""
    return select(func.coalesce(func.sum(expression), 0)).where(*where).scalar_subquery()


def as_int(expression: ColumnElement[Any]) -> ColumnElement[int]:
    """``expression`` as a 64-bit integer on every backend."""
    return cast(expression, t.Int)


def sessions(db: Connection) -> list[SessionSummary]:
    """Every session, oldest first (a between-sessions entry just before the session that found it), with
    its shot and alarm counts."""
    s = t.sessions.alias("s")
    later = t.sessions.alias("t")
    sh, u, e = t.shots.c, t.unreceived.c, t.events.c
    recorded = _count(t.shots, s.c.id, sh.received == 1, sh.other_host == 0)
    unreceived = _count(t.shots, s.c.id, sh.received == 0) + _sum(u.last - u.first + 1, u.session_id == s.c.id)
    volume = _sum(
        func.coalesce(sh.delivered_nl, sh.dose_nl), sh.session_id == s.c.id, sh.received == 1, sh.other_host == 0
    )
    raised = dialects.int_field(e.body, "raised") == 1
    alarms = _count(t.events, s.c.id, e.type == "alarm", raised) + _count(t.alarms_found, s.c.id)
    # a between-sessions entry just before the session whose connect found it
    treatment_before = (
        select(func.max(later.c.id)).where(later.c.kind == TREATMENT, later.c.id < s.c.id).scalar_subquery()
    )
    rows = db.execute(
        select(
            s.c.id,
            s.c.device_serial,
            s.c.started,
            s.c.ended,
            as_int(recorded),
            as_int(unreceived),
            as_int(volume),
            as_int(alarms),
            as_int(_count(t.anomalies, s.c.id)),
            s.c.kind,
            as_int(_count(t.shots, s.c.id, sh.other_host == 1)),
        ).order_by(case((s.c.kind == TREATMENT, s.c.id), else_=treatment_before), s.c.kind == TREATMENT, s.c.id)
    ).all()
    return [SessionSummary(*row) for row in rows]


def shots(db: Connection, session_id: int) -> list[ShotRow]:
    """The session's shots in (epoch, index) order, received or not (unreceived ranges one row per shot)."""
    sh, u = t.shots.c, t.unreceived.c
    rows = db.execute(
        select(
            sh.shot_index,
            sh.received,
            sh.ts,
            sh.fire_seq,
            sh.depth_um,
            sh.dose_nl,
            sh.device_time_ms,
            sh.epoch,
            sh.recovered,
            sh.source,
            sh.partial,
            func.coalesce(sh.delivered_nl, sh.dose_nl),
            sh.other_host,
            sh.calibration_id,
        ).where(sh.session_id == session_id)
    ).all()
    found = [
        ShotRow(
            r[0],
            bool(r[1]),
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            recovered=bool(r[8]),
            source=r[9],
            partial=bool(r[10]),
            delivered_nl=r[11],
            other_host=bool(r[12]),
            calibration_id=None if r[13] is None else int(r[13]),
        )
        for r in rows
    ]
    ranges = db.execute(select(u.first, u.last, u.ts, u.epoch, u.beyond_log).where(u.session_id == session_id))
    for first, last, ts, epoch, beyond in ranges:
        found.extend(
            ShotRow(i, False, ts, None, None, None, None, epoch, beyond_log=bool(beyond))
            for i in range(first, last + 1)
        )
    found.sort(key=lambda shot: (shot.epoch, shot.shot_index))
    return found


def alarms(db: Connection, session_id: int) -> list[AlarmRow]:
    """The session's alarms raised and cleared, in the order the host recorded them (see the store)."""
    e, a = t.events.c, t.alarms_found.c
    seen = db.execute(
        select(
            e.id,
            e.ts,
            dialects.text_field(e.body, "code"),
            dialects.text_field(e.body, "priority"),
            dialects.int_field(e.body, "raised"),
            dialects.int_field(e.body, "device_time_ms"),
        ).where(e.session_id == session_id, e.type == "alarm", e.direction == "device")
    )
    rows: list[tuple[int, int, AlarmRow]] = [
        (0, event_id, AlarmRow(ts, device_ms, str(code), str(priority), bool(raised)))
        for event_id, ts, code, priority, raised, device_ms in seen
    ]
    found = db.execute(
        select(a.id, a.ts, a.code, a.priority, a.device_time_ms, a.note).where(a.session_id == session_id)
    )
    rows += [
        (1, found_id, AlarmRow(ts, device_ms, code, priority, True, note))
        for found_id, ts, code, priority, device_ms, note in found
    ]
    rows.sort(key=lambda r: (r[2].host_time_utc, r[0], r[1]))
    return [row for _, _, row in rows]


def unreceived_ranges(db: Connection, session_id: int) -> list[tuple[int, int]]:
    """The session's device's unreceived shots a host may still read back from the device's log."""
    u = t.unreceived.c
    serial, epoch = device_of(db, session_id)
    rows = db.execute(
        select(u.first, u.last).where(u.device_serial == serial, u.epoch == epoch, u.beyond_log == 0).order_by(u.first)
    ).all()
    return [(int(first), int(last)) for first, last in rows]


def anomalies(db: Connection, session_id: int) -> list[dict[str, Any]]:
    """What the record refused to believe in this session (``kind``, ``detail``, ``ts``), oldest first."""
    a = t.anomalies.c
    rows = db.execute(select(a.ts, a.kind, a.detail).where(a.session_id == session_id).order_by(a.id)).all()
    return [{"ts": ts, "kind": kind, "detail": detail} for ts, kind, detail in rows]


def notes(db: Connection, session_id: int) -> list[dict[str, Any]]:
    """The operator's notes in this session (``ts``, ``kind``, ``detail``, ``reason``), oldest first."""
    n = t.notes.c
    rows = db.execute(select(n.ts, n.kind, n.detail, n.reason).where(n.session_id == session_id).order_by(n.id)).all()
    return [{"ts": ts, "kind": kind, "detail": detail, "reason": reason} for ts, kind, detail, reason in rows]


def events(db: Connection, session_id: int) -> list[dict[str, Any]]:
    """The session's commands, replies and events in the order they were recorded."""
    e = t.events.c
    rows = db.execute(select(e.ts, e.direction, e.body).where(e.session_id == session_id).order_by(e.id)).all()
    return [{"ts": ts, "direction": direction, **json.loads(body)} for ts, direction, body in rows]
