"""The message catalog: every message's type id, direction, reply and fields, declared with construct.

This module is the single source of truth of the protocol. The construct ``Struct`` of each payload is
built from its :class:`Field` list; docs/protocol.md, the JSON form and the catalog fingerprint are all
derived from the same declarations.

Type id ranges (so new families never collide): ``0x01-0x3F`` host→device core commands,
``0x40-0x4F`` calibration, ``0x50-0x5F`` firmware update, ``0x60-0x6F`` logs, ``0x80-0xFF``
device→host (the high bit set). A family's own replies take its range with the high bit set (calibration:
``0xC0-0xCF``, firmware update: ``0xD0-0xDF``, logs: ``0xE0-0xEF``), so the core's device→host ids
(``0x80-0xBF``) stay free for core messages.
The families and their ranges are :mod:`firmware_protocol.families`; each family has its own fingerprint
(:attr:`Catalog.family_fingerprints`), and :attr:`Catalog.fingerprint` (the one ``hello`` checks) is the core's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import construct as cs

from firmware_protocol.enums import AlarmCode, AlarmPriority, DeviceState, Mode, NakCode, ShotSource, WireEnum
from firmware_protocol.families import CORE, family_of, fingerprint_of
from firmware_protocol.fastpath import FastLayout
from firmware_protocol.framing import MAX_PAYLOAD, PROTOCOL_VERSION


class Direction(enum.Enum):
    """Who sends a message."""

    HOST_TO_DEVICE = "host→device"
    DEVICE_TO_HOST = "device→host"


class FieldKind(enum.Enum):
    """How a field's wire value maps to Python and JSON."""

    INT = "int"
    BOOL = "bool"
    TEXT = "text"
    ENUM = "enum"
    ENUM_LIST = "enum list"
    INT_LIST = "int list"
    MESSAGE_TYPE = "message type"
    """A type id of this catalog; JSON shows the message name."""
    RECORD_LIST = "record list"
    """A u8-counted list of records, each laid out as the field's :attr:`Field.record` fields (a JSON list of
    objects)."""
    BYTES = "bytes"
    """A u16-length-prefixed run of raw bytes (Python ``bytes``; JSON: lowercase hex): an SMP frame."""


@dataclass(frozen=True)
class Field:
    """One payload field: its wire type (a construct subcon), unit and meaning."""

    name: str
    wire: cs.Construct
    wire_type: str
    """The wire type as written in the spec (``u8``, ``u16``, ``u32``, ``str8``, ``u8[]``, …)."""
    unit: str = ""
    doc: str = ""
    kind: FieldKind = FieldKind.INT
    enum: type[WireEnum] | None = None
    default: Any = None
    """Value used when a host→device command omits the field (``None``: required)."""
    default_factory: Callable[[], Any] | None = None
    record: tuple[Field, ...] = ()
    """For a :attr:`FieldKind.RECORD_LIST`: the fields of one record, in wire order."""

    def default_value(self) -> Any:
        """The value an omitted field takes; ``None`` if it is required."""
        return self.default_factory() if self.default_factory is not None else self.default

    def signature(self) -> str:
        """The part of the definition the fingerprint covers."""
        enum_part = ""
        if self.enum is not None:
            enum_part = "{" + ",".join(f"{m.json_name}={m.value}" for m in self.enum) + "}"
        record_part = "[" + ",".join(f.signature() for f in self.record) + "]" if self.record else ""
        return f"{self.name}:{self.wire_type}:{self.unit}:{self.kind.value}{enum_part}{record_part}"


def _u8(name: str, unit: str = "", doc: str = "", default: Any = None) -> Field:
    return Field(name, cs.Int8ul, "u8", unit, doc, default=default)


def _u16(name: str, unit: str = "", doc: str = "", default: Any = None) -> Field:
    return Field(name, cs.Int16ul, "u16", unit, doc, default=default)


def _u32(name: str, unit: str = "", doc: str = "", default: Any = None) -> Field:
    return Field(name, cs.Int32ul, "u32", unit, doc, default=default)


def _i16(name: str, unit: str = "", doc: str = "", default: Any = None) -> Field:
    """A signed 16-bit field (two's complement, little-endian): a calibration's depth offset."""
    return Field(name, cs.Int16sl, "i16", unit, doc, default=default)


def _flag(name: str, doc: str, default: Any = None) -> Field:
    return Field(name, cs.Flag, "u8 (0/1)", "", doc, kind=FieldKind.BOOL, default=default)


def _text(name: str, doc: str) -> Field:
    return Field(name, cs.PascalString(cs.Int8ul, "utf8"), "str8", "", doc, kind=FieldKind.TEXT)


def _enum(name: str, enum_cls: type[WireEnum], doc: str) -> Field:
    return Field(name, cs.Int8ul, "u8", "", doc, kind=FieldKind.ENUM, enum=enum_cls)


def _enum_list(name: str, enum_cls: type[WireEnum], doc: str) -> Field:
    return Field(
        name,
        cs.PrefixedArray(cs.Int8ul, cs.Int8ul),
        "u8 count + u8[]",
        "",
        doc,
        kind=FieldKind.ENUM_LIST,
        enum=enum_cls,
    )


def _message_type(name: str, doc: str) -> Field:
    return Field(name, cs.Int8ul, "u8", "", doc, kind=FieldKind.MESSAGE_TYPE)


def _appended(f: Field, default: Any) -> Field:
    """``f``, appended to a device→host message after its first release: a receiver fills in ``default`` (what a
    sender that predates the field implies) when an older sender's payload ends before it (docs/protocol.md,
    section 7)."""
    return replace(f, default=default)


def _bytes16(name: str, doc: str) -> Field:
    """A run of raw bytes after its u16 length (little-endian): a frame of another protocol carried whole."""
    return Field(name, cs.Prefixed(cs.Int16ul, cs.GreedyBytes), "u16 length + u8[]", "", doc, kind=FieldKind.BYTES)


def _record_list(name: str, record: tuple[Field, ...], doc: str) -> Field:
    item = cs.Struct(*(f.name / f.wire for f in record))
    wire = cs.PrefixedArray(cs.Int8ul, item)
    return Field(name, wire, "u8 count + record[]", "", doc, kind=FieldKind.RECORD_LIST, record=record)


_TYPED_KINDS = frozenset({FieldKind.ENUM_LIST, FieldKind.MESSAGE_TYPE, FieldKind.INT_LIST, FieldKind.RECORD_LIST})


@dataclass(frozen=True)
class MessageSpec:
    """One message of the catalog."""

    type_id: int
    name: str
    direction: Direction
    doc: str
    fields: tuple[Field, ...] = ()
    reply: str | None = None
    """For commands: the message the device answers with on success (``ack``, ``identity``, ``status``)."""
    echoes: bool = False
    """For commands: the ``ack`` repeats this command's fields with the values the device applied."""
    frozen_prefix: bool = False
    """Layout frozen across protocol versions: later versions only append, receivers ignore the tail."""
    struct: cs.Struct = field(init=False, repr=False, compare=False)
    fast: FastLayout | None = field(init=False, repr=False, compare=False)
    """The ``struct`` fast path derived from :attr:`struct`'s fields, when the layout allows one."""
    typed_fields: tuple[Field, ...] = field(init=False, repr=False, compare=False)
    """Fields other than single enums whose wire value becomes another Python type (message names, lists)."""
    enum_fields: tuple[tuple[str, Mapping[int, WireEnum]], ...] = field(init=False, repr=False, compare=False)
    """Single-enum fields with their value → member tables (a dict lookup: decoding is a measured hot path)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "struct", cs.Struct(*(f.name / f.wire for f in self.fields)))
        object.__setattr__(self, "fast", FastLayout.derive(self.fields))
        object.__setattr__(self, "typed_fields", tuple(f for f in self.fields if f.kind in _TYPED_KINDS))
        enums = tuple(
            (f.name, {m.value: m for m in f.enum}) for f in self.fields if f.enum and f.kind is FieldKind.ENUM
        )
        object.__setattr__(self, "enum_fields", enums)

    def signature(self) -> str:
        """The part of the definition the fingerprint covers."""
        fields = ";".join(f.signature() for f in self.fields)
        return f"{self.type_id:#04x}|{self.name}|{self.direction.name}|{self.reply}|{self.echoes}|{fields}"


# ---------------------------------------------------------------------------------------------------
# Field blocks shared between a command and the ack that echoes it.

_PARAMETER_FIELDS = (
    _u16("depth_um", "µm", "needle depth"),
    _u32("dose_nl", "nL", "drop volume per shot"),
    _u16("rate_mhz", "milli-shots/s", "firing rate"),
    _enum("mode", Mode, "firing mode"),
)
_SYRINGE_FIELDS = (
    _u32("capacity_nl", "nL", "syringe capacity (one of identity.syringe_sizes_nl)"),
    _u32("fill_nl", "nL", "volume in the syringe, at most its capacity"),
)


_SHOT_LOG_ENTRY = (
    _u32("shot_index", "", "lifetime shot number of this shot (as in its shot event)"),
    _u16("fire_seq", "", "seq of the fire command it belongs to (0 for a trigger or pedal shot)"),
    _u16("depth_um", "µm", "depth of the shot (as in its shot event)"),
    _u32("dose_nl", "nL", "dose of the shot (as in its shot event)"),
    _u32("device_time_ms", "ms", "device time of the shot (as in its shot event)"),
    _enum("source", ShotSource, "what fired it"),
    _flag("partial", "1: the stroke was aborted by an alarm after the plunger started moving (as in its shot event)"),
    _u32("delivered_nl", "nL", "estimated volume of the stroke: dose_nl for a whole stroke (as in its shot event)"),
    _u32("host_id", "", "the host id of the session open when it was fired (as in its shot event; 0: none)"),
    _u32("calibration_id", "", "the device calibration it was fired with (as in its shot event; 0: factory)"),
)
SHOT_LOG_HEADER_SIZE = 9
"""Bytes of a ``shot_log`` payload before its entries: oldest_index, newest_index, the entry count."""
SHOT_LOG_ENTRY_SIZE = sum(f.wire.sizeof() for f in _SHOT_LOG_ENTRY)
"""Bytes of one ``shot_log`` entry."""
SHOT_LOG_PAGE_MAX = 33
"""Most entries one ``get_shot_log`` may ask for (one ``shot_log`` page): 33 × 30 + 9 = 999 bytes, within
:data:`~firmware_protocol.framing.MAX_PAYLOAD`."""
assert SHOT_LOG_HEADER_SIZE + SHOT_LOG_PAGE_MAX * SHOT_LOG_ENTRY_SIZE <= MAX_PAYLOAD


_ALARM_LOG_ENTRY = (
    _enum("code", AlarmCode, "which alarm"),
    _enum("priority", AlarmPriority, "the priority it was raised with"),
    _flag("raised", "1 raised, 0 cleared"),
    _u32("boot", "", "the boot_count of the power-on during which it changed (device_time_ms is on that boot's clock)"),
    _u32("device_time_ms", "ms", "device time of the change, as in its alarm event"),
)
DIAGNOSTICS_ALARMS_MAX = 16
"""Most alarm changes one ``diagnostics`` reply lists: the device's last ones, oldest first."""
_FAMILY_ENTRY = (
    _u8("family", "", "the family's first command type id: 0x40 calibration, 0x50 firmware update, 0x60 logs"),
    _u32("fingerprint", "", "the fingerprint of the family's messages, as the device implements them"),
)


def _hello_fields() -> tuple[Field, ...]:
    return (
        _u8("protocol_version", "", "the host's protocol version", default=PROTOCOL_VERSION),
        Field(
            "fingerprint",
            cs.Int32ul,
            "u32",
            "",
            "the host's core family fingerprint (0: not checked by the device)",
            default_factory=lambda: CATALOG.fingerprint,
        ),
        _u32(
            "host_id",
            "",
            "this host's session id: a random non-zero value per host, kept across its reconnects; the device stamps "
            "it on every shot it fires while this session is open (0, or absent from an older host: none)",
            default=0,
        ),
    )


_MESSAGES: tuple[MessageSpec, ...] = (
    MessageSpec(
        0x01,
        "hello",
        Direction.HOST_TO_DEVICE,
        "Opens a session: the device answers with its identity and capabilities. A device whose core "
        "fingerprint differs answers identity all the same (so the host can name both versions) and then NAKs "
        "every other command but stop and emergency_stop with incompatible_version until a matching hello.",
        _hello_fields(),
        reply="identity",
        frozen_prefix=True,
    ),
    MessageSpec(0x02, "heartbeat", Direction.HOST_TO_DEVICE, "Keeps the communication watchdog fed.", reply="ack"),
    MessageSpec(0x03, "get_status", Direction.HOST_TO_DEVICE, "Asks for a status message now.", reply="status"),
    MessageSpec(
        0x10,
        "set_parameters",
        Direction.HOST_TO_DEVICE,
        "Sets depth, dose, rate and mode. Allowed in idle, ready and armed; the depth motor starts moving "
        "to the new depth and fire is refused (busy) until it arrives.",
        _PARAMETER_FIELDS,
        reply="ack",
        echoes=True,
    ),
    MessageSpec(
        0x11,
        "load_syringe",
        Direction.HOST_TO_DEVICE,
        "Declares a newly loaded syringe. Clears the primed flag. Allowed in idle and ready.",
        _SYRINGE_FIELDS,
        reply="ack",
        echoes=True,
    ),
    MessageSpec(
        0x12,
        "prime",
        Direction.HOST_TO_DEVICE,
        "Pushes volume_nl through the line to expel air; uses reservoir volume. Allowed in idle and ready "
        "with a syringe loaded; the device reports priming, then ready.",
        (_u32("volume_nl", "nL", "volume to push through the line"),),
        reply="ack",
        echoes=True,
    ),
    MessageSpec(
        0x13,
        "arm",
        Direction.HOST_TO_DEVICE,
        "Arms the gun (ready → armed); starts the communication watchdog.",
        reply="ack",
    ),
    MessageSpec(0x14, "disarm", Direction.HOST_TO_DEVICE, "Disarms (armed → ready).", reply="ack"),
    MessageSpec(
        0x15,
        "fire",
        Direction.HOST_TO_DEVICE,
        "Starts firing (armed → firing): count shots at the set rate; 0 fires until stop. In single mode "
        "one shot. The ack comes when firing starts; shots arrive as shot events.",
        (_u32("count", "shots", "shots to fire; 0 = until stop"),),
        reply="ack",
        echoes=True,
    ),
    MessageSpec(
        0x16,
        "stop",
        Direction.HOST_TO_DEVICE,
        "Stops firing (firing → armed) at the end of the shot in progress. Accepted in every state, whatever "
        "the session's fingerprints.",
        reply="ack",
    ),
    MessageSpec(
        0x17,
        "emergency_stop",
        Direction.HOST_TO_DEVICE,
        "Stops everything within one shot period and latches emergency_stop until clear_alarm. Accepted in "
        "every state, whatever the session's fingerprints.",
        reply="ack",
    ),
    MessageSpec(
        0x18,
        "clear_alarm",
        Direction.HOST_TO_DEVICE,
        "Clears latched alarms whose cause is gone and an emergency stop; the device returns to idle or ready.",
        reply="ack",
    ),
    MessageSpec(
        0x19,
        "set_burst_count",
        Direction.HOST_TO_DEVICE,
        "Sets how many shots one trigger or pedal press fires in burst mode (a parameter of its own: commands "
        "never gain fields). Allowed where set_parameters is; 1 to identity.burst_count_max.",
        (_u16("burst_count", "shots", "shots per trigger or pedal press in burst mode, 1–identity.burst_count_max"),),
        reply="ack",
        echoes=True,
    ),
    MessageSpec(
        0x80,
        "identity",
        Direction.DEVICE_TO_HOST,
        "Answers hello: who the device is and its hard limits. The first two fields are frozen forever so "
        "that any host can read a device's version and fingerprint.",
        (
            _u8("protocol_version", "", "the device's protocol version"),
            _u32("fingerprint", "", "the device's core family fingerprint"),
            _text("model", "model name"),
            _text("serial_number", "serial number (also the USB serial number)"),
            _text("hardware_revision", "hardware revision"),
            _text("firmware_version", "firmware version (semantic version)"),
            _u16("depth_min_um", "µm", "shallowest needle depth"),
            _u16("depth_max_um", "µm", "deepest needle depth"),
            _u16("depth_step_um", "µm", "depth resolution"),
            _u32("dose_min_nl", "nL", "smallest drop volume"),
            _u32("dose_max_nl", "nL", "largest drop volume"),
            _u32("dose_step_nl", "nL", "drop volume resolution"),
            _u16("rate_min_mhz", "milli-shots/s", "slowest firing rate"),
            _u16("rate_max_mhz", "milli-shots/s", "fastest firing rate"),
            _u16("rate_step_mhz", "milli-shots/s", "firing rate resolution"),
            _enum_list("modes", Mode, "firing modes supported"),
            Field(
                "syringe_sizes_nl",
                cs.PrefixedArray(cs.Int8ul, cs.Int32ul),
                "u8 count + u32[]",
                "nL",
                "syringe capacities accepted",
                kind=FieldKind.INT_LIST,
            ),
            _u16("watchdog_ms", "ms", "communication watchdog period while armed or firing"),
            _u16("status_period_ms", "ms", "period of unsolicited status messages"),
            _appended(
                _text(
                    "hardware_id",
                    "the board's unique id (e.g. its microcontroller's unique id in hex): never changes, never reused",
                ),
                "",
            ),
            _appended(
                _u32(
                    "counter_epoch",
                    "",
                    "id of the lifetime counter's epoch: a new random non-zero value whenever the lifetime counter "
                    "is reset (NVM erased or replaced), unchanged otherwise (0: the device does not say)",
                ),
                0,
            ),
            _appended(
                _record_list(
                    "families",
                    _FAMILY_ENTRY,
                    "each further message family the device implements (not the core), with its fingerprint",
                ),
                (),
            ),
            _appended(
                _flag("remote_fire", "1: the device accepts fire from a host; 0: it refuses it (remote_fire_disabled)"),
                True,
            ),
            _appended(
                _u16(
                    "burst_count_max", "shots", "most shots one trigger press may fire in burst mode (set_burst_count)"
                ),
                1,
            ),
            _appended(
                _u32(
                    "calibration_id",
                    "",
                    "the id of the device calibration in force (write_calibration assigns it; 0: factory calibration, "
                    "or a device older than this field)",
                ),
                0,
            ),
        ),
        frozen_prefix=True,
    ),
    MessageSpec(
        0x81,
        "ack",
        Direction.DEVICE_TO_HOST,
        "A command was accepted. Carries the command's seq (REPLY flag set) and, for commands that set "
        "values, the command's own fields with the values the device applied (after rounding to resolution).",
        (_message_type("command", "the type of the command acknowledged"),),
    ),
    MessageSpec(
        0x82,
        "nak",
        Direction.DEVICE_TO_HOST,
        "A command was refused and changed nothing. Carries the command's seq (REPLY flag set).",
        (
            _message_type("command", "the type of the command refused (0 if unreadable)"),
            _enum("code", NakCode, "why"),
            _text("detail", "a one-line reason for a technician, e.g. 'depth_um=5000 above max 4000'"),
        ),
    ),
    MessageSpec(
        0x83,
        "status",
        Direction.DEVICE_TO_HOST,
        "The device's state, sent every status_period_ms and in answer to get_status (REPLY flag set).",
        (
            _enum("state", DeviceState, "device state"),
            *_PARAMETER_FIELDS,
            _u16("needle_depth_um", "µm", "where the depth stop is now (differs from depth_um while moving)"),
            _u32("syringe_capacity_nl", "nL", "capacity of the loaded syringe, 0 if none"),
            _u32("reservoir_nl", "nL", "volume left in the syringe, by the device's estimate"),
            _flag("primed", "the line has been primed since the syringe was loaded"),
            _u32("shots_session", "shots", "shots since power-on"),
            _u32("shots_lifetime", "shots", "shots over the device's life (non-volatile)"),
            _u32("shots_remaining", "shots", "shots left in the current fire command (0 if none or unbounded)"),
            _u32("device_time_ms", "ms", "milliseconds since power-on"),
            _enum_list("active_alarms", AlarmCode, "alarms latched now"),
        ),
    ),
    MessageSpec(
        0x84,
        "shot",
        Direction.DEVICE_TO_HOST,
        "One shot was delivered, whole or (partial = 1) cut short by an alarm. shot_index is the lifetime shot "
        "counter after this shot, so a gap means a lost event.",
        (
            _u32("shot_index", "", "lifetime shot number of this shot"),
            _u16("fire_seq", "", "seq of the fire command this shot belongs to (0 for a trigger or pedal shot)"),
            _u16("depth_um", "µm", "depth the device commanded for this shot (its estimate)"),
            _u32("dose_nl", "nL", "volume the device commanded for this shot (its estimate)"),
            _u32("device_time_ms", "ms", "device time of the shot"),
            Field(
                "source",
                cs.Int8ul,
                "u8",
                "",
                "what fired it: the trigger, the pedal, or a host's fire (remote; a device older than this field "
                "fires only remotely, hence the default)",
                kind=FieldKind.ENUM,
                enum=ShotSource,
                default=ShotSource.REMOTE,
            ),
            _u32(
                "host_id",
                "",
                "the host_id of the hello of the session open when the shot was fired (a remote shot: the session "
                "that sent its fire), so a host tells its own shots from another host's; 0: no session was open, "
                "or a device older than this field",
                default=0,
            ),
            _flag(
                "partial",
                "1: the stroke was aborted by an alarm after the plunger started moving (a device older than this "
                "field reports only whole strokes, hence the default 0)",
                default=False,
            ),
            _u32(
                "delivered_nl",
                "nL",
                "the device's estimate of the volume that left: dose_nl for a whole stroke, dose_nl x the fraction "
                "of the stroke done for a partial one (read as dose_nl when partial is 0)",
                default=0,
            ),
            _u32(
                "calibration_id",
                "",
                "the id of the device calibration the shot was fired with (0: factory calibration, or a device older "
                "than this field)",
                default=0,
            ),
        ),
    ),
    MessageSpec(
        0x85,
        "alarm",
        Direction.DEVICE_TO_HOST,
        "An alarm was raised (raised=1) or cleared (raised=0).",
        (
            _enum("code", AlarmCode, "which alarm"),
            _enum("priority", AlarmPriority, "IEC 60601-1-8 priority"),
            _flag("raised", "1 raised, 0 cleared"),
            _u32("device_time_ms", "ms", "device time of the change"),
        ),
    ),
    MessageSpec(
        0x86,
        "trigger",
        Direction.DEVICE_TO_HOST,
        "The handpiece trigger or the foot pedal was pressed (pressed=1) and the device acted on it, or that "
        "press was released (pressed=0). A press the device does not act on (not armed, already firing) is "
        "not reported and changes nothing.",
        (
            _enum("source", ShotSource, "which switch: trigger or pedal (never remote)"),
            _flag("pressed", "1 pressed, 0 released"),
            _u32("device_time_ms", "ms", "device time of the change"),
        ),
    ),
)


_VOLUME_GAIN_ENTRY = (
    _text("brand", "the syringe brand, as set_syringe_brand declares it (1–32 bytes, unique in the list)"),
    _u32("gain_ppm", "ppm", "the device's volume gain for that brand: delivered / commanded, in millionths"),
)
_CALIBRATION_CONSTANTS = (
    _record_list(
        "volume_gains",
        _VOLUME_GAIN_ENTRY,
        "the volume gain per syringe brand (at most 16); a brand not listed, or none declared, has gain 1.0",
    ),
    _i16("depth_offset_um", "µm", "true depth = depth_gain × motor position + depth_offset_um"),
    _u32("depth_gain_ppm", "ppm", "the depth gain, in millionths (1000000: 1.0)"),
    _u32("rate_gain_ppm", "ppm", "true firing rate / set rate, in millionths (1000000: 1.0)"),
    _u32("calibrated_at", "s", "when the calibration was made, Unix seconds UTC (0: none)"),
    _u32("due_at", "s", "when the next calibration is due, Unix seconds UTC (0: none)"),
    _text("technician", "who calibrated (at most 64 bytes)"),
    _text("certificate_id", "the calibration certificate's id (at most 64 bytes)"),
)

_CALIBRATION_MESSAGES: tuple[MessageSpec, ...] = (  # the calibration family (0x40-0x4F, replies 0xC0-0xCF)
    MessageSpec(
        0x40,
        "get_calibration",
        Direction.HOST_TO_DEVICE,
        "Reads the device calibration in force: its constants and metadata. Read-only: changes nothing on the "
        "device and is allowed in every state.",
        reply="calibration",
    ),
    MessageSpec(
        0x41,
        "write_calibration",
        Direction.HOST_TO_DEVICE,
        "Writes a new device calibration: every constant and the metadata; the device assigns its id (the next "
        "of its monotonic counter) and keeps it in non-volatile memory before it answers, so it survives a "
        "power loss or a brown-out, and uses it from the next shot and move on. Allowed in idle and ready "
        "only (refused while armed, firing or priming). Refused (out_of_range) when a gain is outside "
        "0.800000–1.200000, |depth_offset_um| is above 500 µm, a brand is empty, repeated, longer than 32 bytes "
        "or more than 16 are listed, or a text is longer than 64 bytes.",
        _CALIBRATION_CONSTANTS,
        reply="calibration",
    ),
    MessageSpec(
        0x42,
        "set_syringe_brand",
        Direction.HOST_TO_DEVICE,
        "Declares the brand of the loaded syringe, which selects its volume gain. Kept in RAM until the next "
        "load_syringe or power-on; an empty brand is an unknown one (gain 1.0). Allowed where load_syringe is; "
        "refused (out_of_range) when longer than 32 bytes.",
        (_text("brand", "the syringe brand (0–32 bytes; empty: unknown)"),),
        reply="ack",
    ),
    MessageSpec(
        0x43,
        "hold_depth",
        Direction.HOST_TO_DEVICE,
        "A measurement move: drives the needle to depth_um (corrected by the calibration in force) and holds it "
        "extended for a depth gauge, until release_depth, arm, set_parameters or another hold. Allowed in idle and "
        "ready; depth_um within the hard limits, rounded to the depth step (the ack echoes the value applied).",
        (_u16("depth_um", "µm", "the depth to hold the needle at"),),
        reply="ack",
        echoes=True,
    ),
    MessageSpec(
        0x44,
        "release_depth",
        Direction.HOST_TO_DEVICE,
        "Ends a hold_depth: the needle retracts and the depth stop returns to the set depth. Accepted in every "
        "state (without a hold it changes nothing).",
        reply="ack",
    ),
    MessageSpec(
        0x45,
        "deliver",
        Direction.HOST_TO_DEVICE,
        "A measurement move: fires count shots of dose_nl at rate_mhz into a vessel (armed → firing), at the set "
        "depth, as a fire would: its shots are normal shot events (fire_seq: this command's seq) and stop ends "
        "it. The set parameters do not change. Allowed where fire is; count 1–65535, dose and rate within the "
        "hard limits, rounded to their steps (the ack echoes the values applied).",
        (
            _u16("count", "shots", "shots to fire, 1–65535"),
            _u32("dose_nl", "nL", "drop volume of each shot"),
            _u16("rate_mhz", "milli-shots/s", "firing rate"),
        ),
        reply="ack",
        echoes=True,
    ),
    MessageSpec(
        0xC0,
        "calibration",
        Direction.DEVICE_TO_HOST,
        "Answers get_calibration and write_calibration: the device calibration in force (after a write: the one "
        "just written, with the id the device gave it).",
        (
            _u32("calibration_id", "", "the calibration's id, assigned by the device, monotonic (0: factory)"),
            *_CALIBRATION_CONSTANTS,
        ),
    ),
)


SMP_FRAME_MAX = MAX_PAYLOAD - 2
"""Longest SMP frame one ``smp_request`` or ``smp_response`` carries (its u16 length takes 2 bytes of the
payload): the 8-byte SMP header and its CBOR body."""

_FIRMWARE_UPDATE_MESSAGES: tuple[MessageSpec, ...] = (  # the firmware update family (0x50-0x5F, replies 0xD0-0xDF)
    MessageSpec(
        0x50,
        "smp_request",
        Direction.HOST_TO_DEVICE,
        "Carries one whole SMP (mcumgr) request frame to the device's SMP server: the 8-byte SMP header and its "
        "CBOR body, as the `smp` package serialises them (os_mgmt echo, reset, MCUmgr parameters; img_mgmt state "
        "read and write, upload, erase). Accepted in every state; the SMP server answers each request with one "
        "smp_response, and a refused SMP operation is answered there with SMP's own error (rc and a reason): an "
        "image upload while armed or firing is MGMT_ERR_EBUSY. A frame is at most "
        f"{SMP_FRAME_MAX} bytes (docs/protocol.md, section 14).",
        (_bytes16("frame", f"the SMP request frame: header + CBOR body, at most {SMP_FRAME_MAX} bytes"),),
        reply="smp_response",
    ),
    MessageSpec(
        0xD0,
        "smp_response",
        Direction.DEVICE_TO_HOST,
        "Answers smp_request: the SMP server's response frame to the request carried (its SMP header carries the "
        "request's SMP sequence number), a success or an SMP error response.",
        (_bytes16("frame", f"the SMP response frame: header + CBOR body, at most {SMP_FRAME_MAX} bytes"),),
    ),
)


_LOG_MESSAGES: tuple[MessageSpec, ...] = (  # the logs family (0x60-0x6F, replies 0xE0-0xEF)
    MessageSpec(
        0x60,
        "get_shot_log",
        Direction.HOST_TO_DEVICE,
        "Reads the device's shot log: up to count shots from from_index on, oldest first. Read-only: changes "
        f"nothing on the device and is allowed in every state. Refused (out_of_range) when count is 0 or above "
        f"{SHOT_LOG_PAGE_MAX}, or from_index is past the newest shot; a from_index older than the oldest shot "
        "the log still holds is answered from that oldest shot (the reply's oldest_index says where the log "
        "starts).",
        (
            _u32("from_index", "", "lifetime shot number of the first shot wanted"),
            _u16("count", "shots", f"shots wanted, 1–{SHOT_LOG_PAGE_MAX}"),
        ),
        reply="shot_log",
    ),
    MessageSpec(
        0xE0,
        "shot_log",
        Direction.DEVICE_TO_HOST,
        "Answers get_shot_log: one page of the shot log (the shots from max(from_index, oldest_index) on, at "
        "most count of them, oldest first) and the window the log holds now.",
        (
            _u32("oldest_index", "", "lifetime shot number of the oldest shot the log holds (0: the log is empty)"),
            _u32("newest_index", "", "lifetime shot number of the newest shot (the lifetime counter; 0: empty)"),
            _record_list("entries", _SHOT_LOG_ENTRY, "the shots of this page, in shot_index order"),
        ),
    ),
    MessageSpec(
        0x61,
        "get_diagnostics",
        Direction.HOST_TO_DEVICE,
        "Asks for the device's diagnostics: link counters, plunger health, line pressure, supply voltage, uptime, "
        "boot count and its last alarms. Read-only: changes nothing on the device and is allowed in every state.",
        reply="diagnostics",
    ),
    MessageSpec(
        0xE1,
        "diagnostics",
        Direction.DEVICE_TO_HOST,
        "Answers get_diagnostics. Counters marked 'since power-on' restart at every power-on (a brown-out "
        "included), like device_time_ms; boot_count, plunger_stalls and the alarm list are non-volatile.",
        (
            _u32("uptime_ms", "ms", "milliseconds since the last power-on (the device_time_ms clock)"),
            _u32("boot_count", "boots", "power-ons over the device's life, brown-outs included (non-volatile)"),
            _u32("frames_received", "frames", "valid frames received since power-on"),
            _u32("frames_sent", "frames", "frames sent since power-on (replies and events)"),
            _u32("crc_errors", "frames", "frames dropped since power-on because their CRC did not match"),
            _u32("framing_errors", "frames", "runs dropped since power-on as truncated, of a bad length or oversize"),
            _u32("bytes_discarded", "bytes", "bytes dropped since power-on while resynchronising (not a frame)"),
            _u32("replays", "frames", "repeated commands answered from the replay cache since power-on"),
            _u32("bad_payloads", "frames", "commands refused with bad_payload since power-on"),
            _u32("strokes", "strokes", "plunger strokes completed since power-on"),
            _u32("stroke_last_us", "µs", "duration of the last plunger stroke, as the device timed it (0: none)"),
            _u32("stroke_mean_us", "µs", "mean stroke duration since power-on (0: none)"),
            _u32("stroke_max_us", "µs", "longest stroke duration since power-on (0: none)"),
            _u32("plunger_stalls", "stalls", "motor stalls over the device's life (non-volatile)"),
            _u16("line_pressure_kpa", "kPa", "line pressure now, gauge (above atmospheric)"),
            _u16("supply_mv", "mV", "supply voltage now"),
            _record_list(
                "alarms", _ALARM_LOG_ENTRY, f"the last alarm changes (at most {DIAGNOSTICS_ALARMS_MAX}), oldest first"
            ),
        ),
    ),
)


class Catalog:
    """An immutable set of message definitions, indexed by type id and name, with its fingerprint."""

    def __init__(self, messages: Iterable[MessageSpec]) -> None:
        self.messages: tuple[MessageSpec, ...] = tuple(sorted(messages, key=lambda m: m.type_id))
        self.by_id: Mapping[int, MessageSpec] = {m.type_id: m for m in self.messages}
        self.by_name: Mapping[str, MessageSpec] = {m.name: m for m in self.messages}
        if len(self.by_id) != len(self.messages) or len(self.by_name) != len(self.messages):
            raise ValueError("duplicate message type id or name in the catalog")
        lines: dict[str, list[str]] = {}
        for spec in self.messages:
            high_bit = bool(spec.type_id & 0x80)
            if high_bit != (spec.direction is Direction.DEVICE_TO_HOST):
                raise ValueError(f"{spec.name}: type id {spec.type_id:#04x} contradicts its direction")
            lines.setdefault(family_of(spec.type_id).name, []).append(spec.signature())
        self.signature_lines: Mapping[str, tuple[str, ...]] = {name: tuple(ls) for name, ls in lines.items()}
        """Each family's fingerprint input: its messages' signature lines, in type id order."""
        self.family_fingerprints: Mapping[str, int] = {name: fingerprint_of(ls) for name, ls in lines.items()}
        """The fingerprint of each family that has messages (a change to one family changes only its own)."""
        self.fingerprint: int = self.family_fingerprints.get(CORE.name, 0)
        """The core family's fingerprint: the one ``hello`` and ``identity`` exchange."""

    def __iter__(self) -> Any:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)


#: The catalog this package speaks.
CATALOG = Catalog(_MESSAGES + _CALIBRATION_MESSAGES + _FIRMWARE_UPDATE_MESSAGES + _LOG_MESSAGES)
