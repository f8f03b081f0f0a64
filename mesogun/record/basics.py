"""The record's light vocabulary: what its queries return (a session's summary, its shots and alarms: plain frozen
dataclasses), its constants and small helpers. Nothing here loads SQLAlchemy, so ``import mesogun`` and the
``mesogun`` command start without the database layer; it is imported when a record is opened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from firmware_protocol import Message, views
from firmware_protocol.views import view_as

TREATMENT = "treatment"
"""The ``sessions.kind`` of a session a host held open."""

BETWEEN_SESSIONS = "between_sessions"
"""The ``sessions.kind`` of what a device did while no host was connected (found at the next connect)."""

MAX_PLAUSIBLE_UNRECEIVED = 20_000
"""The most shots a device can plausibly fire unseen between two reconciliations: twice a full 10 mL
syringe at the smallest dose (0.001 mL). A larger jump of the counter is flagged, not expanded."""

FOUND_AT_CONNECT = (
    "raised while no host was connected: active on the device at the connect, which does not say when it was raised"
)
"""The note of an alarm entered at a connect (see :meth:`~mesogun.record.store.TreatmentRecord.enter_active_alarms`)."""

COUNTER_JUMP = "counter_jump"
"""The ``anomalies.kind`` of a device counter that moved by more than :data:`MAX_PLAUSIBLE_UNRECEIVED`."""

BUSY_TIMEOUT_S = 1.0
"""How long a write waits for another process's write lock before failing (SQLite: "database is locked";
PostgreSQL: its lock timeout). Below the recorder's write timeout, so a locked record is reported by its cause."""


def now() -> str:
    """The host's wall time, UTC, ISO 8601 to the millisecond (the record's timestamps sort as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def is_keepalive(message: Message) -> bool:
    """Whether ``message`` is a heartbeat or the device's ack of one (never recorded)."""
    return message.name == "heartbeat" or (message.name == "ack" and view_as(message, views.Ack).command == "heartbeat")


def one_line(exc: BaseException | str) -> str:
    """An exception's (or a text's) message on one line (database and OS messages go into one-line CLI errors)."""
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True)
class SessionSummary:
    """One treatment session as ``record list`` shows it."""

    session: int
    device_serial: str
    started: str
    ended: str | None
    shots_recorded: int
    """Shots on record in detail: their event reached the host, or they were read back from the device's log."""
    shots_unreceived: int
    """Shots the device counted but whose event never reached the host."""
    volume_nl: int
    """Volume delivered by the recorded shots, each its ``delivered_nl`` (a partial shot less than its dose;
    unreceived shots' volumes are unknown)."""
    alarms: int
    anomalies: int = 0
    """Entries the record refused to believe (e.g. a device counter that jumped): :meth:`TreatmentRecord.anomalies`."""
    kind: str = TREATMENT
    """``treatment`` (a host was connected) or ``between_sessions`` (what the device did while none was)."""
    shots_other_host: int = 0
    """Shots fired by another host's session (another workstation on the gun): not in ``shots_recorded``."""


@dataclass(frozen=True)
class AlarmRow:
    """One alarm raised or cleared, as ``record show`` lists it."""

    host_time_utc: str
    """When the host recorded it (host wall clock, UTC); for an alarm found at a connect, that connect."""
    device_time_ms: int | None
    """When the device raised or cleared it (device clock: ms since its last power-on); ``None``: unknown."""
    code: str
    priority: str
    raised: bool
    note: str = ""


@dataclass(frozen=True)
class ShotRow:
    """One shot of the record; the detail fields are ``None`` for an unreceived shot."""

    shot_index: int
    received: bool
    ts: str
    fire_seq: int | None
    depth_um: int | None
    dose_nl: int | None
    device_time_ms: int | None
    epoch: int = 0
    """The device's counter epoch (it starts again after the device's counter went back)."""
    recovered: bool = False
    """The shot event never arrived: the details were read back from the device's shot log."""
    beyond_log: bool = False
    """An unreceived shot older than the device's shot log window: its details are lost for good."""
    source: str | None = None
    """What fired it: ``trigger``, ``pedal`` or ``remote`` (a host's fire); ``None`` for an unreceived shot."""
    partial: bool = False
    """A stroke cut short by an alarm after the plunger started moving."""
    delivered_nl: int | None = None
    """The device's estimate of what left (``dose_nl`` for a whole shot); ``None`` for an unreceived shot."""
    other_host: bool = False
    """Fired by another host's session (the device stamped another host id on it): not this host's shot."""
    calibration_id: int | None = None
    """The device calibration it was fired with (0: factory; ``None``: unreceived, or fired before the record kept
    it): the run that wrote it is the ``calibrations`` row of that ``calibration_id``."""
