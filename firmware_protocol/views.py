"""Typed views of catalog messages: one frozen dataclass per message, built by :func:`view`.

A decoded :class:`~firmware_protocol.messages.Message` holds its fields in a ``Mapping[str, Any]``;
code downstream of the decoder reads ``view(m).shot_index`` (an ``int`` to mypy) instead of
``m["shot_index"]``. A view is built from the message's already decoded fields (no construct work) by a
constructor generated per view that sets its slots directly (under a microsecond for a ``shot``,
cheaper than the frozen dataclass ``__init__``; models are built from views for every shot and status).
The field names and order of each view equal the catalog's (``tests/firmware_protocol/test_views.py``
checks it), so the two cannot drift.

Every view also carries the frame header's ``seq`` and ``flags`` (keyword-only). An ``ack`` of a command
that echoes its fields carries the echoed values as the typed view of that command in :attr:`Ack.echo`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeAlias, TypeVar

from firmware_protocol.enums import AlarmCode, AlarmPriority, DeviceState, Mode, NakCode, ShotSource
from firmware_protocol.messages import Message, spec_for

MessageTypeRef: TypeAlias = str | int
"""A message-type field: the message's name, or the raw type id when the catalog does not know it."""


def _records_as_views(owner: object, name: str, record_view: type) -> None:
    """Turn the plain dicts of ``owner``'s record-list field ``name`` (as a message holds them) into a tuple of
    ``record_view`` views, in place (the owner is a frozen dataclass built from a message)."""
    items = getattr(owner, name)
    object.__setattr__(owner, name, tuple(r if isinstance(r, record_view) else record_view(**r) for r in items))


@dataclass(frozen=True, slots=True)
class _Header:
    """The frame header fields every view carries."""

    seq: int = field(default=0, kw_only=True)
    flags: int = field(default=0, kw_only=True)


# ------------------------------------------------------------------ host → device


@dataclass(frozen=True, slots=True)
class Hello(_Header):
    """``hello``: opens a session."""

    protocol_version: int
    fingerprint: int
    host_id: int


@dataclass(frozen=True, slots=True)
class Heartbeat(_Header):
    """``heartbeat``: feeds the communication watchdog."""


@dataclass(frozen=True, slots=True)
class GetStatus(_Header):
    """``get_status``: asks for a status now."""


@dataclass(frozen=True, slots=True)
class SetParameters(_Header):
    """``set_parameters`` (and the values an ``ack`` of it echoes)."""

    depth_um: int
    dose_nl: int
    rate_mhz: int
    mode: Mode


@dataclass(frozen=True, slots=True)
class LoadSyringe(_Header):
    """``load_syringe`` (and the values an ``ack`` of it echoes)."""

    capacity_nl: int
    fill_nl: int


@dataclass(frozen=True, slots=True)
class Prime(_Header):
    """``prime`` (and the value an ``ack`` of it echoes)."""

    volume_nl: int


@dataclass(frozen=True, slots=True)
class Arm(_Header):
    """``arm``."""


@dataclass(frozen=True, slots=True)
class Disarm(_Header):
    """``disarm``."""


@dataclass(frozen=True, slots=True)
class Fire(_Header):
    """``fire`` (and the count an ``ack`` of it echoes)."""

    count: int


@dataclass(frozen=True, slots=True)
class Stop(_Header):
    """``stop``."""


@dataclass(frozen=True, slots=True)
class EmergencyStop(_Header):
    """``emergency_stop``."""


@dataclass(frozen=True, slots=True)
class ClearAlarm(_Header):
    """``clear_alarm``."""


@dataclass(frozen=True, slots=True)
class SetBurstCount(_Header):
    """``set_burst_count`` (and the value an ``ack`` of it echoes): shots per trigger press in burst mode."""

    burst_count: int


@dataclass(frozen=True, slots=True)
class GetShotLog(_Header):
    """``get_shot_log``: asks for a page of the device's shot log."""

    from_index: int
    count: int


@dataclass(frozen=True, slots=True)
class GetDiagnostics(_Header):
    """``get_diagnostics``: asks for the device's diagnostics."""


@dataclass(frozen=True, slots=True)
class VolumeGain:
    """One entry of a calibration's ``volume_gains`` (a record, not a message): a syringe brand and its gain."""

    brand: str
    gain_ppm: int
    """Delivered / commanded for that brand, in millionths."""


@dataclass(frozen=True, slots=True)
class GetCalibration(_Header):
    """``get_calibration``: asks for the device calibration in force."""


@dataclass(frozen=True, slots=True)
class WriteCalibration(_Header):
    """``write_calibration``: a new device calibration (the device assigns its id).

    Built from a message, :attr:`volume_gains` holds :class:`VolumeGain` views (the message holds plain dicts).
    """

    volume_gains: Sequence[VolumeGain]
    depth_offset_um: int
    depth_gain_ppm: int
    rate_gain_ppm: int
    calibrated_at: int
    due_at: int
    technician: str
    certificate_id: str

    def __post_init__(self) -> None:
        _records_as_views(self, "volume_gains", VolumeGain)


@dataclass(frozen=True, slots=True)
class SetSyringeBrand(_Header):
    """``set_syringe_brand``: the loaded syringe's brand (selects its volume gain)."""

    brand: str


@dataclass(frozen=True, slots=True)
class HoldDepth(_Header):
    """``hold_depth`` (and the depth an ``ack`` of it echoes): hold the needle at a depth for a gauge."""

    depth_um: int


@dataclass(frozen=True, slots=True)
class ReleaseDepth(_Header):
    """``release_depth``: end a hold_depth."""


@dataclass(frozen=True, slots=True)
class Deliver(_Header):
    """``deliver`` (and the values an ``ack`` of it echoes): fire count shots of a dose at a rate into a vessel."""

    count: int
    dose_nl: int
    rate_mhz: int


@dataclass(frozen=True, slots=True)
class SmpRequest(_Header):
    """``smp_request``: one SMP request frame (8-byte SMP header + CBOR body) for the device's SMP server."""

    frame: bytes


# ------------------------------------------------------------------ device → host


@dataclass(frozen=True, slots=True)
class FamilyFingerprint:
    """One entry of :attr:`Identity.families` (a record, not a message): a family and its fingerprint."""

    family: int
    """The family's first command type id (:attr:`firmware_protocol.families.Family.wire_id`)."""
    fingerprint: int


@dataclass(frozen=True, slots=True)
class Identity(_Header):
    """``identity``: who the device is and its hard limits."""

    protocol_version: int
    fingerprint: int
    model: str
    serial_number: str
    hardware_revision: str
    firmware_version: str
    depth_min_um: int
    depth_max_um: int
    depth_step_um: int
    dose_min_nl: int
    dose_max_nl: int
    dose_step_nl: int
    rate_min_mhz: int
    rate_max_mhz: int
    rate_step_mhz: int
    modes: Sequence[Mode]
    syringe_sizes_nl: Sequence[int]
    watchdog_ms: int
    status_period_ms: int
    hardware_id: str
    counter_epoch: int
    families: Sequence[FamilyFingerprint]

    def __post_init__(self) -> None:
        _records_as_views(self, "families", FamilyFingerprint)

    remote_fire: bool
    burst_count_max: int
    calibration_id: int


EchoView: TypeAlias = SetParameters | LoadSyringe | Prime | Fire | SetBurstCount | HoldDepth | Deliver
"""The views an ``ack`` may echo (the commands whose catalog entry has ``echoes=True``)."""


@dataclass(frozen=True, slots=True)
class Ack(_Header):
    """``ack``: a command was accepted; :attr:`echo` holds the applied values of an echoing command."""

    command: MessageTypeRef
    echo: EchoView | None = None
    """Not a wire field of its own: the echoed command's fields, as that command's view (seq/flags 0)."""


@dataclass(frozen=True, slots=True)
class Nak(_Header):
    """``nak``: a command was refused and changed nothing."""

    command: MessageTypeRef
    code: NakCode
    detail: str


@dataclass(frozen=True, slots=True)
class Status(_Header):
    """``status``: the device's state."""

    state: DeviceState
    depth_um: int
    dose_nl: int
    rate_mhz: int
    mode: Mode
    needle_depth_um: int
    syringe_capacity_nl: int
    reservoir_nl: int
    primed: bool
    shots_session: int
    shots_lifetime: int
    shots_remaining: int
    device_time_ms: int
    active_alarms: Sequence[AlarmCode]


@dataclass(frozen=True, slots=True)
class Shot(_Header):
    """``shot``: one shot was delivered."""

    shot_index: int
    fire_seq: int
    depth_um: int
    dose_nl: int
    device_time_ms: int
    source: ShotSource
    host_id: int
    partial: bool
    delivered_nl: int
    calibration_id: int


@dataclass(frozen=True, slots=True)
class Alarm(_Header):
    """``alarm``: an alarm was raised or cleared."""

    code: AlarmCode
    priority: AlarmPriority
    raised: bool
    device_time_ms: int


@dataclass(frozen=True, slots=True)
class Trigger(_Header):
    """``trigger``: the handpiece trigger or the foot pedal was pressed (and acted on) or released."""

    source: ShotSource
    pressed: bool
    device_time_ms: int


@dataclass(frozen=True, slots=True)
class ShotLogEntry:
    """One shot of a ``shot_log`` page (not a message of its own: a record of :attr:`ShotLog.entries`)."""

    shot_index: int
    fire_seq: int
    depth_um: int
    dose_nl: int
    device_time_ms: int
    source: ShotSource
    partial: bool
    delivered_nl: int
    host_id: int
    calibration_id: int


@dataclass(frozen=True, slots=True)
class ShotLog(_Header):
    """``shot_log``: one page of the shot log and the window the log holds.

    Built from a message, :attr:`entries` holds :class:`ShotLogEntry` views (the message holds plain dicts).
    """

    oldest_index: int
    newest_index: int
    entries: Sequence[ShotLogEntry]

    def __post_init__(self) -> None:
        _records_as_views(self, "entries", ShotLogEntry)


@dataclass(frozen=True, slots=True)
class AlarmLogEntry:
    """One alarm change of a ``diagnostics`` reply (a record of :attr:`Diagnostics.alarms`)."""

    code: AlarmCode
    priority: AlarmPriority
    raised: bool
    boot: int
    device_time_ms: int


@dataclass(frozen=True, slots=True)
class Diagnostics(_Header):
    """``diagnostics``: the device's counters and readings for a technician.

    Built from a message, :attr:`alarms` holds :class:`AlarmLogEntry` views (the message holds plain dicts).
    """

    uptime_ms: int
    boot_count: int
    frames_received: int
    frames_sent: int
    crc_errors: int
    framing_errors: int
    bytes_discarded: int
    replays: int
    bad_payloads: int
    strokes: int
    stroke_last_us: int
    stroke_mean_us: int
    stroke_max_us: int
    plunger_stalls: int
    line_pressure_kpa: int
    supply_mv: int
    alarms: Sequence[AlarmLogEntry]

    def __post_init__(self) -> None:
        _records_as_views(self, "alarms", AlarmLogEntry)


@dataclass(frozen=True, slots=True)
class Calibration(_Header):
    """``calibration``: the device calibration in force.

    Built from a message, :attr:`volume_gains` holds :class:`VolumeGain` views (the message holds plain dicts).
    """

    calibration_id: int
    volume_gains: Sequence[VolumeGain]
    depth_offset_um: int
    depth_gain_ppm: int
    rate_gain_ppm: int
    calibrated_at: int
    due_at: int
    technician: str
    certificate_id: str

    def __post_init__(self) -> None:
        _records_as_views(self, "volume_gains", VolumeGain)


@dataclass(frozen=True, slots=True)
class SmpResponse(_Header):
    """``smp_response``: the SMP server's response frame to an ``smp_request``."""

    frame: bytes


MessageView: TypeAlias = (
    Hello
    | Heartbeat
    | GetStatus
    | SetParameters
    | LoadSyringe
    | Prime
    | Arm
    | Disarm
    | Fire
    | Stop
    | EmergencyStop
    | ClearAlarm
    | SetBurstCount
    | GetShotLog
    | GetDiagnostics
    | GetCalibration
    | WriteCalibration
    | SetSyringeBrand
    | HoldDepth
    | ReleaseDepth
    | Deliver
    | SmpRequest
    | Identity
    | Ack
    | Nak
    | Status
    | Shot
    | Alarm
    | Trigger
    | ShotLog
    | Diagnostics
    | Calibration
    | SmpResponse
)
"""Any message view."""

VIEWS: Mapping[str, type[MessageView]] = {
    "hello": Hello,
    "heartbeat": Heartbeat,
    "get_status": GetStatus,
    "set_parameters": SetParameters,
    "load_syringe": LoadSyringe,
    "prime": Prime,
    "arm": Arm,
    "disarm": Disarm,
    "fire": Fire,
    "stop": Stop,
    "emergency_stop": EmergencyStop,
    "clear_alarm": ClearAlarm,
    "set_burst_count": SetBurstCount,
    "get_shot_log": GetShotLog,
    "get_diagnostics": GetDiagnostics,
    "get_calibration": GetCalibration,
    "write_calibration": WriteCalibration,
    "set_syringe_brand": SetSyringeBrand,
    "hold_depth": HoldDepth,
    "release_depth": ReleaseDepth,
    "deliver": Deliver,
    "smp_request": SmpRequest,
    "identity": Identity,
    "ack": Ack,
    "nak": Nak,
    "status": Status,
    "shot": Shot,
    "alarm": Alarm,
    "trigger": Trigger,
    "shot_log": ShotLog,
    "diagnostics": Diagnostics,
    "calibration": Calibration,
    "smp_response": SmpResponse,
}
"""Message name → its view class (one per catalog message)."""

HEADER_FIELDS = ("seq", "flags")
"""View attributes that come from the frame header, not from the catalog's fields."""


_Builder: TypeAlias = Callable[[Mapping[str, Any], int, int], MessageView]


def _builder(cls: type[MessageView]) -> _Builder:
    """A constructor for ``cls`` from a message's fields: one slot store per field, no ``__init__`` call.

    Equivalent to ``cls(seq=seq, flags=flags, **fields)`` for a message with exactly the view's fields (the
    decoder's output); :func:`view` falls back to the dataclass ``__init__`` (and its ``TypeError``) otherwise.
    """
    names = [f.name for f in fields(cls)]
    own = [n for n in names if n not in HEADER_FIELDS]
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    env.update({f"_set_{n}": getattr(cls, n).__set__ for n in names})
    params = "_new=_new, _cls=_cls" + "".join(f", _set_{n}=_set_{n}" for n in names)
    body = "".join(f"    _set_{n}(o, f[{n!r}])\n" for n in own)
    source = (
        f"def build(f, seq, flags, *, {params}):\n"
        "    o = _new(_cls)\n"
        "    _set_seq(o, seq)\n"
        "    _set_flags(o, flags)\n"
        f"{body}"
        "    return o\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<view builder {cls.__name__}>", "exec"), env, namespace)
    build: _Builder = namespace["build"]
    return build


_BUILDERS: Mapping[str, tuple[type[MessageView], int, _Builder]] = {
    name: (cls, len(fields(cls)) - len(HEADER_FIELDS), _builder(cls))
    for name, cls in VIEWS.items()
    if cls not in (Ack, ShotLog, Diagnostics, Identity, WriteCalibration, Calibration)
}
"""Message name → (its view, its field count, its generated constructor), for every view but :class:`Ack`,
:class:`ShotLog`, :class:`Diagnostics`, :class:`Identity`, :class:`WriteCalibration` and :class:`Calibration`
(whose records are converted by their ``__post_init__``)."""


def view(message: Message) -> MessageView:
    """The typed view of ``message``; raises ``KeyError`` for a message this module has no view for."""
    entry = _BUILDERS.get(message.name)
    if entry is not None and len(message.fields) == entry[1]:
        try:
            return entry[2](message.fields, message.seq, message.flags)
        except KeyError:
            pass  # not the view's fields: let the dataclass say which
    cls = VIEWS[message.name]
    if cls is Ack:
        return _ack(message)
    return cls(seq=message.seq, flags=message.flags, **message.fields)


V = TypeVar("V", bound=MessageView)


def view_as(message: Message, cls: type[V]) -> V:
    """The view of ``message`` as ``cls`` (``view_as(m, Shot).shot_index``); ``TypeError`` for another message."""
    entry = _BUILDERS.get(message.name)
    if entry is not None and entry[0] is cls and len(message.fields) == entry[1]:
        try:
            return entry[2](message.fields, message.seq, message.flags)  # type: ignore[return-value]
        except KeyError:
            pass  # not the view's fields: let view() say which
    if VIEWS.get(message.name) is not cls:
        raise TypeError(f"{message.name} message is not a {cls.__name__}")
    return view(message)  # type: ignore[return-value]


def echoed(message: Message, cls: type[V]) -> V:
    """The command an ``ack`` echoes, as ``cls`` (``echoed(ack, Fire).count``); ``TypeError`` if it echoes
    something else (or nothing)."""
    echo = view_as(message, Ack).echo
    if not isinstance(echo, cls):
        raise TypeError(f"{message.name} echoes {type(echo).__name__}, not {cls.__name__}")
    return echo


def _ack(message: Message) -> Ack:
    values: dict[str, Any] = dict(message.fields)
    command = values.pop("command")
    echo: EchoView | None = None
    if values and isinstance(command, str):
        echo_cls = VIEWS[spec_for(command).name]
        echo = echo_cls(**values)  # type: ignore[assignment]
    return Ack(command, echo, seq=message.seq, flags=message.flags)


__all__ = [
    "HEADER_FIELDS",
    "VIEWS",
    "Ack",
    "Alarm",
    "AlarmLogEntry",
    "Arm",
    "Calibration",
    "ClearAlarm",
    "Deliver",
    "Diagnostics",
    "Disarm",
    "EchoView",
    "EmergencyStop",
    "FamilyFingerprint",
    "Fire",
    "GetCalibration",
    "GetDiagnostics",
    "GetShotLog",
    "GetStatus",
    "Heartbeat",
    "Hello",
    "HoldDepth",
    "Identity",
    "LoadSyringe",
    "MessageTypeRef",
    "MessageView",
    "Nak",
    "Prime",
    "ReleaseDepth",
    "SetBurstCount",
    "SetParameters",
    "SetSyringeBrand",
    "Shot",
    "ShotLog",
    "ShotLogEntry",
    "SmpRequest",
    "SmpResponse",
    "Status",
    "Stop",
    "Trigger",
    "VolumeGain",
    "WriteCalibration",
    "echoed",
    "view",
    "view_as",
]
