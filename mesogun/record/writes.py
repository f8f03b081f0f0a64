"""The record's writes, each a function of a connection inside the caller's transaction (see
:meth:`mesogun.record.store.TreatmentRecord.transaction`): sessions, messages and shots, reconciliation with the
device's lifetime counter, shots read back from its log, and alarms found latched at a connect.

The rules they keep are told in :mod:`mesogun.record.store`'s docstring.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, CursorResult, Executable, and_, bindparam, delete, func, insert, select, update

from firmware_protocol import AlarmCode, Message, to_json, views
from firmware_protocol.rules import ALARM_PRIORITIES
from firmware_protocol.views import view_as
from mesogun.errors import RecordError
from mesogun.models import fired_by_other_host
from mesogun.record import dialects
from mesogun.record import schema as t
from mesogun.record.basics import (
    BETWEEN_SESSIONS,
    COUNTER_JUMP,
    FOUND_AT_CONNECT,
    MAX_PLAUSIBLE_UNRECEIVED,
    TREATMENT,
    now,
)
from mesogun.shot_counter import unwrap, unwrap_page

_SHOT_DETAILS = (
    "ts",
    "fire_seq",
    "depth_um",
    "dose_nl",
    "device_time_ms",
    "source",
    "partial",
    "delivered_nl",
    "host_id",
    "other_host",
    "zone",
    "lot_id",
    "calibration_id",
)
"""The columns a shot's details fill in (over an "unreceived" placeholder row of an old record)."""


@functools.cache
def _shot_upsert(dialect: str, recovered: bool) -> Executable:
    """Insert a shot with its details; over a placeholder (``received = 0``) fill them in, else keep what is there
    (the same shot event seen twice stays one shot). Built once per dialect; run with the row as parameters."""
    stmt = dialects.upsert(dialect, t.shots)
    filled: dict[str, Any] = {column: stmt.excluded[column] for column in _SHOT_DETAILS}
    return stmt.on_conflict_do_update(
        index_elements=["device_serial", "epoch", "shot_index"],
        set_={"received": 1, **({"recovered": 1} if recovered else {}), **filled},
        where=t.shots.c.received == 0,
    )


def start_session(db: Connection, **values: Any) -> int:
    """A new ``sessions`` row (started now) with ``values``; its id."""
    return inserted_id(db.execute(insert(t.sessions).values({"started": now(), **values})))


def inserted_id(result: CursorResult[Any]) -> int:
    """The id of the row an ``INSERT`` made (SQLite's rowid, PostgreSQL's ``RETURNING``)."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


@functools.cache
def _insert_event() -> Executable:
    """``INSERT INTO events``, built once (run with the row as parameters)."""
    return insert(t.events)


@functools.cache
def _shot_context() -> Executable:
    """What a shot's row needs, in one query: the session's device, its host id, the device's epoch and counter,
    and its visit's treatment zone and product lot in force now (the shot carries them: item 3's traceability)."""
    s, d, v = t.sessions.c, t.devices.c, t.visits.c
    return (
        select(s.device_serial, s.host_id, d.epoch, d.reconciled_to, v.zone, v.lot_id)
        .select_from(
            t.sessions.outerjoin(t.devices, d.serial == s.device_serial).outerjoin(t.visits, v.id == s.visit_id)
        )
        .where(s.id == bindparam("session_id"))
    )


@functools.cache
def _in_force() -> Executable:
    """A session's visit's treatment zone and product lot in force now (built once)."""
    s, v = t.sessions.c, t.visits.c
    return (
        select(v.zone, v.lot_id)
        .select_from(t.sessions.join(t.visits, v.id == s.visit_id))
        .where(s.id == bindparam("session_id"))
    )


def in_force(db: Connection, session_id: int) -> tuple[str | None, int | None]:
    """The zone and lot a shot of ``session_id`` written now carries (``None``: no visit, or none set)."""
    row = db.execute(_in_force(), {"session_id": session_id}).first()
    return (None, None) if row is None else (row[0], None if row[1] is None else int(row[1]))


def log_message(db: Connection, session_id: int, direction: str, message: Message) -> None:
    """One command or reply/event in ``events``; a shot also in ``shots``, a ``shot_log`` page recovers shots.
    A shot costs four statements (its event, one look-up, its row, its unreceived range), each built once; the
    look-up also reads the zone and lot in force on the session's visit, which the shot's row carries."""
    ts = now()
    db.execute(
        _insert_event(),
        {
            "session_id": session_id,
            "ts": ts,
            "direction": direction,
            "type": message.name,
            "seq": message.seq,
            "body": json.dumps(to_json(message)),
        },
    )
    if message.name == "shot" and direction == "device":
        shot = view_as(message, views.Shot)
        context = db.execute(_shot_context(), {"session_id": session_id}).first()
        if context is None:
            raise RecordError(f"no session {session_id} in the treatment record")
        serial, host, epoch = str(context[0]), context[1], int(context[2] or 0)
        index = unwrap(shot.shot_index, None if context[3] is None else int(context[3]))  # on past the 2**32 wrap
        other = host is not None and fired_by_other_host(shot.host_id, int(host))
        db.execute(
            _shot_upsert(db.dialect.name, False),
            {
                "device_serial": serial,
                "epoch": epoch,
                "shot_index": index,
                "session_id": session_id,
                "received": 1,
                **_details(ts, shot, other),
                "zone": context[4],
                "lot_id": context[5],
            },
        )
        take_from_ranges(db, serial, epoch, index)
    elif message.name == "shot_log" and direction == "device":
        serial, _ = device_of(db, session_id)
        page = unwrap_page(view_as(message, views.ShotLog), reconciled_to(db, serial) or 0)
        recover(db, session_id, page)


def _details(ts: str, shot: views.Shot | views.ShotLogEntry, other_host: bool) -> dict[str, Any]:
    """A shot's detail columns, from its event or its shot log entry."""
    return {
        "ts": ts,
        "fire_seq": shot.fire_seq,
        "depth_um": shot.depth_um,
        "dose_nl": shot.dose_nl,
        "device_time_ms": shot.device_time_ms,
        "source": shot.source.json_name,
        "partial": int(shot.partial),
        "delivered_nl": shot.delivered_nl if shot.partial else shot.dose_nl,
        "host_id": shot.host_id,
        "other_host": int(other_host),
        "calibration_id": shot.calibration_id,  # 0 from a device older than the field: the factory calibration
    }


def recover(db: Connection, session_id: int, page: views.ShotLog) -> None:
    """A page of the device's shot log: its shots replace their "unreceived" placeholders (in the session
    that owned them), and unreceived shots older than the log window are marked ``beyond_log``. A recovered shot
    carries the zone and lot in force on its owner session's visit when it is read back (the device does not
    report them)."""
    serial, epoch = device_of(db, session_id)
    baseline = db.execute(select(t.devices.c.baseline_lifetime).where(t.devices.c.serial == serial)).scalar()
    baseline = int(baseline) if baseline is not None else 0
    ts = now()
    carried: dict[int, tuple[str | None, int | None]] = {}
    for entry in page.entries:
        if entry.shot_index <= baseline:  # fired before this record existed: not this record's shot
            continue
        owner = take_from_ranges(db, serial, epoch, entry.shot_index)
        session = owner if owner is not None else session_id
        if session not in carried:
            carried[session] = in_force(db, session)
        db.execute(
            _shot_upsert(db.dialect.name, True),
            {
                "device_serial": serial,
                "epoch": epoch,
                "shot_index": entry.shot_index,
                "session_id": session,
                "received": 1,
                "recovered": 1,
                **_details(ts, entry, other_host(db, session_id, entry.host_id)),
                "zone": carried[session][0],
                "lot_id": carried[session][1],
            },
        )
    if page.oldest_index > 0:
        _mark_beyond_log(db, serial, epoch, page.oldest_index)


def reconciled_to(db: Connection, serial: str) -> int | None:
    """The device's lifetime counter as last reconciled (unwrapped past 2**32; ``None``: a new device)."""
    value = db.execute(select(t.devices.c.reconciled_to).where(t.devices.c.serial == serial)).scalar()
    return int(value) if value is not None else None


def other_host(db: Connection, session_id: int, stamp: int) -> bool:
    """Whether a shot stamped ``stamp`` was fired by another host than the one holding ``session_id``."""
    host = db.execute(select(t.sessions.c.host_id).where(t.sessions.c.id == session_id)).scalar()
    return host is not None and fired_by_other_host(stamp, int(host))


def _range(serial: str, epoch: int, first: int) -> Any:
    u = t.unreceived.c
    return and_(u.device_serial == serial, u.epoch == epoch, u.first == first)


def _mark_beyond_log(db: Connection, serial: str, epoch: int, oldest: int) -> None:
    """Unreceived shots below ``oldest`` (the oldest the device's log still holds) are lost for good."""
    u = t.unreceived.c
    rows = db.execute(
        select(u.first, u.last, u.session_id, u.ts).where(
            u.device_serial == serial, u.epoch == epoch, u.first < oldest, u.beyond_log == 0
        )
    ).all()
    for first, last, owner, ts in rows:
        db.execute(delete(t.unreceived).where(_range(serial, epoch, first)))
        pieces = [(first, min(last, oldest - 1), 1), (oldest, last, 0)]
        _insert_ranges(db, [(serial, epoch, lo, hi, owner, ts, beyond) for lo, hi, beyond in pieces if lo <= hi])


def _insert_ranges(db: Connection, rows: list[tuple[str, int, int, int, int, str, int]]) -> None:
    """Enter unreceived ranges: (serial, epoch, first, last, session, ts, beyond_log) each."""
    if rows:
        keys = ("device_serial", "epoch", "first", "last", "session_id", "ts", "beyond_log")
        db.execute(insert(t.unreceived), [dict(zip(keys, row, strict=True)) for row in rows])


@functools.cache
def _range_of() -> Executable:
    """The unreceived range holding an index, if any (built once)."""
    u = t.unreceived.c
    return select(u.first, u.last, u.session_id, u.ts, u.beyond_log).where(
        u.device_serial == bindparam("serial"),
        u.epoch == bindparam("epoch"),
        u.first <= bindparam("index"),
        u.last >= bindparam("index"),
    )


def take_from_ranges(db: Connection, serial: str, epoch: int, index: int) -> int | None:
    """A shot arrived (its event, or from the device's log) for an index on record as unreceived: split its
    range around it; return the session that owned it (``None`` if it was not on record as unreceived)."""
    row = db.execute(_range_of(), {"serial": serial, "epoch": epoch, "index": index}).first()
    if row is None:
        return None
    first, last, owner, ts, beyond = int(row[0]), int(row[1]), int(row[2]), str(row[3]), int(row[4])
    db.execute(delete(t.unreceived).where(_range(serial, epoch, first)))
    pieces = [(first, index - 1), (index + 1, last)]
    _insert_ranges(db, [(serial, epoch, lo, hi, owner, ts, beyond) for lo, hi in pieces if lo <= hi])
    return owner


def serial_of(db: Connection, session_id: int) -> str:
    """The device serial of a session; :class:`RecordError` if there is no such session."""
    serial = db.execute(select(t.sessions.c.device_serial).where(t.sessions.c.id == session_id)).scalar()
    if serial is None:
        raise RecordError(f"no session {session_id} in the treatment record")
    return str(serial)


def device_of(db: Connection, session_id: int) -> tuple[str, int]:
    """The session's device serial and that device's current counter epoch."""
    serial = serial_of(db, session_id)
    epoch = db.execute(select(t.devices.c.epoch).where(t.devices.c.serial == serial)).scalar()
    return serial, int(epoch) if epoch is not None else 0


def _new_counter_epoch(connected: tuple[Any, ...], recorded: tuple[Any, ...]) -> bool:
    """Whether the (hardware id, counter epoch) a device reported differs from the one its record epoch was
    counted under; ``None`` on either side (a record or a device from before these ids) proves nothing."""
    return all(value is not None for value in (*connected, *recorded)) and tuple(connected) != tuple(recorded)


def reconcile(db: Connection, session_id: int, device_lifetime: int, *, at_connect: bool) -> int:
    """See :meth:`mesogun.record.store.TreatmentRecord.reconcile`; the shots entered as unreceived."""
    d, s = t.devices.c, t.sessions.c
    serial = serial_of(db, session_id)
    board = tuple(db.execute(select(s.hardware_id, s.counter_epoch).where(s.id == session_id)).one())
    row = db.execute(select(d.reconciled_to, d.epoch, d.hardware_id, d.counter_epoch).where(d.serial == serial)).first()
    if row is None:
        db.execute(
            insert(t.devices).values(
                serial=serial,
                first_seen=now(),
                baseline_lifetime=device_lifetime,
                reconciled_to=device_lifetime,
                hardware_id=board[0],
                counter_epoch=board[1],
            )
        )
        return 0
    complete_to, epoch = int(row[0]), int(row[1])
    counted = unwrap(device_lifetime, complete_to)  # the device's u32 counter wraps at 2**32: count on
    devices = update(t.devices).where(d.serial == serial)
    if _new_counter_epoch(board, (row[2], row[3])) or counted < complete_to:
        # The counter was reset (the device reports a new counter epoch, or another board with this serial,
        # or - from a device that reports neither - the counter went back): its indices will repeat, so its
        # shots go in a new epoch rather than collide with recorded ones.
        db.execute(
            devices.values(
                epoch=epoch + 1,
                baseline_lifetime=device_lifetime,
                reconciled_to=device_lifetime,
                hardware_id=board[0],
                counter_epoch=board[1],
            )
        )
        return 0
    device_lifetime = counted
    if row[3] is None and board[1] is not None:  # a record from before these ids: adopt the device's
        db.execute(devices.values(hardware_id=board[0], counter_epoch=board[1]))
    if device_lifetime == complete_to:
        return 0
    if device_lifetime - complete_to > MAX_PLAUSIBLE_UNRECEIVED:
        _flag_counter_jump(db, session_id, serial, complete_to, device_lifetime)
        return 0
    sh = t.shots.c
    known = [
        int(index)
        for index in db.execute(
            select(sh.shot_index)
            .where(sh.device_serial == serial, sh.epoch == epoch, sh.shot_index > complete_to, sh.shot_index <= counted)
            .order_by(sh.shot_index)
        ).scalars()
    ]
    db.execute(devices.values(reconciled_to=device_lifetime))
    gaps = _gaps(complete_to + 1, device_lifetime, known)
    if not gaps:
        return 0
    owner = session_id
    if at_connect:
        before = _owner_session(db, serial, epoch, session_id, gaps[0][0])
        crashed = before != session_id and _left_open(db, before)
        owner = before if crashed else _between(db, session_id)
    ts = now()
    _insert_ranges(db, [(serial, epoch, first, last, owner, ts, 0) for first, last in gaps])
    return sum(last - first + 1 for first, last in gaps)


def _flag_counter_jump(db: Connection, session_id: int, serial: str, before: int, after: int) -> None:
    """Enter an implausible counter jump as an anomaly and continue from the new counter (nothing charged)."""
    detail = (
        f"device {serial} counter went from {before} to {after} (+{after - before}), more than "
        f"{MAX_PLAUSIBLE_UNRECEIVED} shots unseen is implausible: not entered as unreceived shots"
    )
    db.execute(insert(t.anomalies).values(session_id=session_id, ts=now(), kind=COUNTER_JUMP, detail=detail))
    db.execute(update(t.devices).where(t.devices.c.serial == serial).values(reconciled_to=after))


def _owner_session(db: Connection, serial: str, epoch: int, session_id: int, first_missing: int) -> int:
    """The session a run of unreceived shots belongs to: the one that recorded the shot before it."""
    sh, u = t.shots.c, t.unreceived.c
    candidates = [
        db.execute(
            select(sh.session_id, sh.shot_index)
            .where(sh.device_serial == serial, sh.epoch == epoch, sh.shot_index < first_missing)
            .order_by(sh.shot_index.desc())
            .limit(1)
        ).first(),
        db.execute(
            select(u.session_id, u.last)
            .where(u.device_serial == serial, u.epoch == epoch, u.last < first_missing)
            .order_by(u.last.desc())
            .limit(1)
        ).first(),
    ]
    found = [row for row in candidates if row is not None]
    return int(max(found, key=lambda row: int(row[1]))[0]) if found else session_id


def _left_open(db: Connection, session_id: int) -> bool:
    """Whether a treatment session was never closed by its host (it crashed or lost power)."""
    s = t.sessions.c
    row = db.execute(select(s.ended, s.kind).where(s.id == session_id)).first()
    return row is not None and row[0] is None and row[1] == TREATMENT


def _between(db: Connection, session_id: int) -> int:
    """The *between sessions* entry for what the device did before the connect of ``session_id`` while
    no host was connected: created at the first need, spanning the end of the device's previous
    session to this connect (one per connect)."""
    s = t.sessions.c
    serial = serial_of(db, session_id)
    found = db.execute(
        select(s.id).where(s.device_serial == serial, s.kind == BETWEEN_SESSIONS, s.id > session_id).order_by(s.id)
    ).first()
    if found is not None:
        return int(found[0])
    started = db.execute(select(s.started).where(s.id == session_id)).scalar_one()
    previous = db.execute(
        select(func.coalesce(s.ended, s.started))
        .where(s.device_serial == serial, s.id < session_id, s.kind == TREATMENT)
        .order_by(s.id.desc())
        .limit(1)
    ).scalar()
    return start_session(
        db, device_serial=serial, url="", started=previous or started, ended=started, kind=BETWEEN_SESSIONS
    )


def enter_active_alarms(db: Connection, session_id: int, active: Iterable[AlarmCode]) -> list[AlarmCode]:
    """See :meth:`mesogun.record.store.TreatmentRecord.enter_active_alarms`; the codes entered."""
    s = t.sessions.c
    serial = serial_of(db, session_id)
    seen = open_alarms(db, serial)
    missing = [code for code in dict.fromkeys(active) if code.json_name not in seen]
    if not missing:
        return []
    previous = db.execute(
        select(s.id)
        .where(s.device_serial == serial, s.id < session_id, s.kind == TREATMENT)
        .order_by(s.id.desc())
        .limit(1)
    ).scalar()
    owner = int(previous) if previous is not None and _left_open(db, int(previous)) else _between(db, session_id)
    ts = now()
    db.execute(
        insert(t.alarms_found),
        [
            {
                "session_id": owner,
                "ts": ts,
                "code": code.json_name,
                "priority": ALARM_PRIORITIES[code].json_name,
                "device_time_ms": None,
                "note": FOUND_AT_CONNECT,
            }
            for code in missing
        ],
    )
    return missing


def open_alarms(db: Connection, serial: str) -> set[str]:
    """The alarm codes the record last saw raised (and not cleared since) on this device."""
    e, s, a = t.events.c, t.sessions.c, t.alarms_found.c
    raised_events = db.execute(
        select(e.ts, dialects.text_field(e.body, "code"), dialects.int_field(e.body, "raised"))
        .join_from(t.events, t.sessions, s.id == e.session_id)
        .where(s.device_serial == serial, e.type == "alarm", e.direction == "device")
    ).all()
    found = db.execute(
        select(a.ts, a.code)
        .join_from(t.alarms_found, t.sessions, s.id == a.session_id)
        .where(s.device_serial == serial)
    ).all()
    rows = [*((ts, code, raised) for ts, code, raised in raised_events), *((ts, code, 1) for ts, code in found)]
    latest = {str(code): bool(raised) for _, code, raised in sorted(rows, key=lambda row: row[0])}
    return {code for code, raised in latest.items() if raised}


def _gaps(first: int, last: int, known: list[int]) -> list[tuple[int, int]]:
    """The ranges of ``first..last`` not in ``known`` (sorted): the unreceived shots as (first, last) pairs."""
    gaps: list[tuple[int, int]] = []
    start = first
    for index in known:
        if index > start:
            gaps.append((start, index - 1))
        start = max(start, index + 1)
    if start <= last:
        gaps.append((start, last))
    return gaps


def end_session(db: Connection, session_id: int) -> None:
    """Mark a session ended now."""
    db.execute(update(t.sessions).where(t.sessions.c.id == session_id).values(ended=now()))


def add_note(db: Connection, session_id: int, kind: str, detail: str, reason: str) -> None:
    """Enter an operator's note in the session."""
    db.execute(insert(t.notes).values(session_id=session_id, ts=now(), kind=kind, detail=detail, reason=reason))
