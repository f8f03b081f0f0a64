"""Messages: typed Python values ⇄ payload bytes (via the catalog's construct structs) ⇄ JSON.

A :class:`Message` is the same flat object as the JSON form: a type name, a sequence number, flags,
and each field by name in wire units. Enum fields hold :class:`~firmware_protocol.enums.WireEnum`
members in Python and lowercase names in JSON; message-type fields hold message names.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import construct as cs

from firmware_protocol.catalog import CATALOG, Catalog, Direction, Field, FieldKind, MessageSpec
from firmware_protocol.enums import WireEnum
from firmware_protocol.errors import BadPayload, InvalidField, UnknownMessageType
from firmware_protocol.framing import MAX_PAYLOAD, Frame, encode_frame

_INT_RANGES = {"u8": (0, 0xFF), "u16": (0, 0xFFFF), "u32": (0, 0xFFFF_FFFF), "i16": (-0x8000, 0x7FFF)}
"""Each integer wire type's values (``i16``: signed, two's complement)."""
_INT_BOUNDS = {name: high for name, (_, high) in _INT_RANGES.items()}
"""The largest value of each integer wire type (the quick check of :func:`make` takes ``0..bound`` as is)."""
_HEADER_KEYS = ("type", "seq", "flags")


@dataclass(frozen=True)
class Message:
    """One protocol message in wire units: ``Message("fire", seq=8, fields={"count": 10})``."""

    name: str
    seq: int = 0
    fields: Mapping[str, Any] = field(default_factory=dict)
    flags: int = 0

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        """A field's value, or ``default`` if the message has no such field."""
        return self.fields.get(key, default)


def spec_for(name: str, catalog: Catalog = CATALOG) -> MessageSpec:
    """The catalog entry named ``name``; :class:`UnknownMessageType` lists the known names if none."""
    try:
        return catalog.by_name[name]
    except KeyError:
        known = ", ".join(catalog.by_name)
        raise UnknownMessageType(f"unknown message type {name!r}; known types: {known}") from None


def _payload_fields(spec: MessageSpec, values: Mapping[str, Any], catalog: Catalog) -> tuple[Field, ...]:
    """The fields a message carries: its own, plus the echoed command's fields for an echoing ``ack``."""
    if spec.name != "ack":
        return spec.fields
    command = values.get("command")
    command_spec = catalog.by_name.get(command) if isinstance(command, str) else None
    if command_spec is not None and command_spec.echoes:
        return spec.fields + command_spec.fields
    return spec.fields


def _coerce(message: str, f: Field, value: Any, catalog: Catalog) -> Any:
    """Check and normalise one field value (from Python or JSON) to its Python form."""
    where = f"{message}.{f.name}"
    kind = f.kind
    if kind is FieldKind.INT:
        return _coerce_int(where, f.wire_type, value, f.unit)
    if kind is FieldKind.BOOL:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise InvalidField(f"{where}={value!r} must be true or false")
    if kind is FieldKind.TEXT:
        if not isinstance(value, str):
            raise InvalidField(f"{where}={value!r} must be a string")
        if len(value.encode()) > 255:
            raise InvalidField(f"{where} is {len(value.encode())} bytes long; the limit is 255 bytes")
        return value
    if kind is FieldKind.MESSAGE_TYPE:
        if isinstance(value, str):
            return spec_for(value, catalog).name
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFF:
            # An id this catalog does not know stays a number: a nak answers unknown types too.
            known = catalog.by_id.get(value)
            return known.name if known is not None else value
        raise InvalidField(f"{where}={value!r} is not a message type name or a type id 0..255")
    if kind is FieldKind.INT_LIST:
        if not isinstance(value, (list, tuple)) or len(value) > 255:
            raise InvalidField(f"{where}={value!r} must be a list of at most 255 integers")
        return [_coerce_int(where, "u32", item, f.unit) for item in value]
    if kind is FieldKind.RECORD_LIST:
        return _coerce_records(message, f, value, catalog)
    if kind is FieldKind.BYTES:
        return _coerce_bytes(where, value)
    assert f.enum is not None
    if kind is FieldKind.ENUM:
        return _coerce_enum(where, f.enum, value)
    if not isinstance(value, (list, tuple)) or len(value) > 255:
        raise InvalidField(f"{where}={value!r} must be a list of at most 255 {f.enum.__name__} names")
    return [_coerce_enum(where, f.enum, item) for item in value]


def _coerce_records(message: str, f: Field, value: Any, catalog: Catalog) -> list[dict[str, Any]]:
    """A list of records (mappings, or objects with the record's attributes) as checked dicts."""
    names = ", ".join(r.name for r in f.record)
    if not isinstance(value, (list, tuple)) or len(value) > 255:
        raise InvalidField(f"{message}.{f.name} must be a list of at most 255 records ({names})")
    records: list[dict[str, Any]] = []
    for number, item in enumerate(value):
        where = f"{message}.{f.name}[{number}]"
        if not isinstance(item, Mapping):
            item = {r.name: getattr(item, r.name) for r in f.record if hasattr(item, r.name)}
        unknown = set(item) - {r.name for r in f.record}
        if unknown:
            raise InvalidField(f"{where} has no field {', '.join(sorted(unknown))}; a record takes: {names}")
        missing = [r.name for r in f.record if item.get(r.name) is None]
        if missing:
            raise InvalidField(f"{where} lacks {', '.join(missing)}; a record takes: {names}")
        records.append({r.name: _coerce(where, r, item[r.name], catalog) for r in f.record})
    return records


_BYTES_MAX = MAX_PAYLOAD - 2
"""Longest value of a bytes field: what a payload holds after the field's u16 length."""


def _coerce_bytes(where: str, value: Any) -> bytes:
    """Raw bytes from Python (``bytes``, ``bytearray``, ``memoryview``) or JSON (a hex string)."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise InvalidField(f"{where}={value[:40]!r} is not a hex string of bytes") from None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidField(f"{where}={value!r} must be bytes (JSON: a hex string)")
    data = bytes(value)
    if len(data) > _BYTES_MAX:
        raise InvalidField(f"{where} is {len(data)} bytes long; the limit is {_BYTES_MAX} bytes")
    return data


def _coerce_int(where: str, wire_type: str, value: Any, unit: str = "") -> int:
    unit_text = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(f"{where}={value!r} must be an integer in{unit_text or ' wire units'} (no fractions)")
    low, limit = _INT_RANGES[wire_type]
    if not low <= value <= limit:
        raise InvalidField(
            f"{where}={value}{unit_text} does not fit its wire type {wire_type} ({low}..{limit}{unit_text})"
        )
    return value


def _coerce_enum(where: str, enum_cls: type[WireEnum], value: Any) -> WireEnum:
    if isinstance(value, enum_cls):
        return value
    try:
        if isinstance(value, str):
            return enum_cls.from_json_name(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return enum_cls(value)
    except (KeyError, ValueError):
        pass
    names = ", ".join(m.json_name for m in enum_cls)
    raise InvalidField(f"{where}={value!r} is not a {enum_cls.__name__}; expected one of: {names}")


@dataclass(frozen=True)
class _Plan:
    """How :func:`make` checks the fields of one message kind: their names, and per field the quick check that
    accepts most values as they are (an in-range ``int``, a ``bool``, a member of the field's enum)."""

    fields: tuple[Field, ...]
    names: frozenset[str]
    checks: tuple[tuple[Field, int | None, type[WireEnum] | None, bool], ...]
    """(field, upper bound of a plain integer, enum class of a single enum, whether a bool is taken as is)."""


_PLANS: dict[tuple[int, str, str | None], tuple[Catalog, _Plan]] = {}
"""Plans by (catalog, message name, echoed command); the catalog is kept so its id stays its own."""


def _plan(spec: MessageSpec, values: Mapping[str, Any], catalog: Catalog) -> _Plan:
    """The plan of ``spec`` (an ``ack`` has one per echoed command), made on first use."""
    command = values.get("command") if spec.name == "ack" else None
    key = (id(catalog), spec.name, command if isinstance(command, str) else None)
    entry = _PLANS.get(key)
    if entry is not None and entry[0] is catalog:
        return entry[1]
    fields = _payload_fields(spec, values, catalog)
    checks = tuple(
        (
            f,
            _INT_BOUNDS[f.wire_type] if f.kind is FieldKind.INT else None,
            f.enum if f.kind is FieldKind.ENUM else None,
            f.kind is FieldKind.BOOL,
        )
        for f in fields
    )
    plan = _Plan(fields, frozenset(f.name for f in fields), checks)
    if len(_PLANS) < 4096:  # bounded: an ack may name any command, known or not
        _PLANS[key] = (catalog, plan)
    return plan


def make(name: str, seq: int = 0, flags: int = 0, catalog: Catalog = CATALOG, **values: Any) -> Message:
    """Build a checked :class:`Message`; omitted fields take their defaults, required ones raise.

    Raises :class:`UnknownMessageType` or :class:`InvalidField` (a ``ValueError``) naming the field,
    the value and the limit.
    """
    spec = spec_for(name, catalog)
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 0xFFFF:
        raise InvalidField(f"{name}.seq={seq!r} must be an integer 0..65535")
    if isinstance(flags, bool) or not isinstance(flags, int) or not 0 <= flags <= 0xFF:
        raise InvalidField(f"{name}.flags={flags!r} must be an integer 0..255")
    plan = _plan(spec, values, catalog)
    if not plan.names.issuperset(values):
        unknown = set(values) - plan.names
        expected = ", ".join(f.name for f in plan.fields) or "no fields"
        raise InvalidField(f"{name} has no field {', '.join(sorted(unknown))}; it takes: {expected}")
    checked: dict[str, Any] = {}
    for f, bound, enum_cls, flag in plan.checks:
        value = values.get(f.name)
        if value is None:
            value = f.default_value()
            if value is None:
                raise InvalidField(f"{name}.{f.name} is required ({f.wire_type} {f.unit})".rstrip())
        # Most values are already in their Python form (an in-range int, a bool, an enum member): taken as
        # they are (messages are built for every status and reply; the general path below says what is
        # wrong with anything else).
        kind = type(value)
        if (
            (bound is not None and kind is int and 0 <= value <= bound)
            or (enum_cls is not None and kind is enum_cls)
            or (flag and kind is bool)
        ):
            checked[f.name] = value
        else:
            checked[f.name] = _coerce(name, f, value, catalog)
    return Message(name, seq, checked, flags)


def _wire_value(f: Field, value: Any, catalog: Catalog) -> Any:
    if f.kind is FieldKind.MESSAGE_TYPE:
        return catalog.by_name[value].type_id if isinstance(value, str) else value
    if f.kind is FieldKind.ENUM:
        return int(value)
    if f.kind is FieldKind.ENUM_LIST:
        return [int(v) for v in value]
    if f.kind is FieldKind.RECORD_LIST:
        return [{r.name: _wire_value(r, item[r.name], catalog) for r in f.record} for item in value]
    return value


_AS_IS_KINDS = frozenset({FieldKind.INT, FieldKind.BOOL, FieldKind.ENUM, FieldKind.ENUM_LIST})
"""Field kinds whose Python values ``struct`` packs as they are (an enum member is an ``int``)."""
_PACKS_AS_IS: dict[int, tuple[MessageSpec, bool]] = {}
"""By spec id: whether the spec's fast layout packs a checked message's values as they are (no conversion)."""


def _packs_as_is(spec: MessageSpec) -> bool:
    entry = _PACKS_AS_IS.get(id(spec))
    if entry is not None and entry[0] is spec:
        return entry[1]
    as_is = spec.fast is not None and all(f.kind in _AS_IS_KINDS for f in spec.fields)
    _PACKS_AS_IS[id(spec)] = (spec, as_is)
    return as_is


def _build_fields(spec: MessageSpec, values: Mapping[str, Any], catalog: Catalog) -> bytes:
    if _packs_as_is(spec):  # most messages (status, shot, ack, heartbeat): no wire dict to make first
        assert spec.fast is not None
        return spec.fast.build(values)
    int_kind = FieldKind.INT
    wire = {
        f.name: values[f.name] if f.kind is int_kind else _wire_value(f, values[f.name], catalog) for f in spec.fields
    }
    if spec.fast is not None:
        return spec.fast.build(wire)
    return bytes(spec.struct.build(wire))


def encode_payload(message: Message, catalog: Catalog = CATALOG) -> bytes:
    """The payload bytes of ``message`` (assumed checked: build it with :func:`make`)."""
    return _encode_payload(spec_for(message.name, catalog), message, catalog)


def _encode_payload(spec: MessageSpec, message: Message, catalog: Catalog) -> bytes:
    own = _build_fields(spec, message.fields, catalog)
    if spec.name != "ack" or len(_payload_fields(spec, message.fields, catalog)) == len(spec.fields):
        return own
    return own + _build_fields(catalog.by_name[message.fields["command"]], message.fields, catalog)


def encode_message(message: Message, catalog: Catalog = CATALOG) -> Frame:
    """The frame carrying ``message``."""
    spec = spec_for(message.name, catalog)
    return Frame(spec.type_id, message.seq, _encode_payload(spec, message, catalog), message.flags)


def to_wire(message: Message, catalog: Catalog = CATALOG) -> bytes:
    """Wire bytes of ``message``, delimiters included."""
    return encode_frame(encode_message(message, catalog))


def _python_value(f: Field, raw: Any, catalog: Catalog, message: str) -> Any:
    """The Python value of a list or message-type field (single enums are looked up in the spec's tables)."""
    kind = f.kind
    try:
        if kind is FieldKind.ENUM_LIST:
            return [f.enum(v) for v in raw]  # type: ignore[misc]
    except ValueError:
        raise BadPayload(f"{message}.{f.name}: {raw!r} is not a valid {f.name} value") from None
    if kind is FieldKind.MESSAGE_TYPE:
        spec = catalog.by_id.get(raw)
        return spec.name if spec is not None else raw
    if kind is FieldKind.INT_LIST:
        return list(raw)
    if kind is FieldKind.RECORD_LIST:
        return [_python_record(f, item, catalog, message) for item in raw]
    return raw


def _python_record(f: Field, raw: Mapping[str, Any], catalog: Catalog, message: str) -> dict[str, Any]:
    """One decoded record as a dict of Python values (enums as members, flags as booleans)."""
    record: dict[str, Any] = {}
    for r in f.record:
        value = raw[r.name]
        if r.kind is FieldKind.ENUM and r.enum is not None:
            try:
                value = r.enum(value)
            except ValueError:
                raise BadPayload(f"{message}.{f.name}.{r.name}: {value!r} is not a valid {r.name} value") from None
        elif r.kind is FieldKind.BOOL:
            value = bool(value)
        else:
            value = _python_value(r, value, catalog, message)
        record[r.name] = value
    return record


def ignores_trailing_bytes(spec: MessageSpec) -> bool:
    """Whether a receiver ignores bytes after the last field of ``spec`` that it knows (fields appended later).

    The versioning rule (docs/protocol.md, section 7): a device→host message, and ``hello``, may gain fields
    at the end in a later catalog and an older receiver reads the fields it knows; any other command with
    bytes after its last field is refused (``bad_payload``), so a device never acts on a command it only
    partly understood.
    """
    return spec.frozen_prefix or spec.direction is Direction.DEVICE_TO_HOST


def _parse_failure(spec: MessageSpec, payload: bytes, offset: int) -> str:
    """Why ``payload`` (from ``offset``) does not parse as ``spec``, in protocol terms: field, wire type, bytes.

    Walks the fields one by one (only on the error path), so the detail a ``nak bad_payload`` carries names
    the first field that does not fit, never a decoder library's own message.
    """
    position = offset
    for f in spec.fields:
        stream = io.BytesIO(payload[position:])
        try:
            f.wire.parse_stream(stream)
        except (cs.StringError, UnicodeDecodeError):
            return f"{spec.name}.{f.name} ({f.wire_type}) at payload offset {position} is not valid UTF-8"
        except cs.ConstructError:
            left = len(payload) - position
            try:
                whole = spec.name if offset == 0 else f"the ack of {spec.name}"
                needs = f"; {whole} takes {offset + spec.struct.sizeof()} bytes"
            except cs.SizeofError:  # variable length (text, lists)
                needs = ""
            return (
                f"{spec.name}.{f.name} ({f.wire_type}) at payload offset {position} runs past the end of the "
                f"{len(payload)}-byte payload ({left} byte{'s' if left != 1 else ''} left{needs})"
            )
        position += stream.tell()
    return f"{spec.name}: the payload does not match its layout"  # not reached: some field failed to parse


def _parse_older(spec: MessageSpec, payload: bytes, offset: int) -> tuple[dict[str, Any], int]:
    """A payload from an older sender that ends before fields appended later: the fields it has, and the
    default of each missing one (docs/protocol.md, section 7). Only for messages that may gain fields, and only
    when the payload ends exactly at a field boundary before fields that all have a default; otherwise
    :class:`BadPayload` naming the first field that does not fit."""
    values: dict[str, Any] = {}
    position = offset
    for index, f in enumerate(spec.fields):
        if position == len(payload) and ignores_trailing_bytes(spec):
            missing = spec.fields[index:]
            defaults = [m.default_value() for m in missing]
            if all(d is not None for d in defaults):
                values.update(zip((m.name for m in missing), defaults, strict=True))
                return values, position
        stream = io.BytesIO(payload[position:])
        try:
            values[f.name] = f.wire.parse_stream(stream)
        except (cs.ConstructError, UnicodeDecodeError):
            raise BadPayload(_parse_failure(spec, payload, offset)) from None
        position += stream.tell()
    return values, position


def _parse_fields(spec: MessageSpec, payload: bytes, offset: int, catalog: Catalog) -> tuple[dict[str, Any], int]:
    if spec.fast is not None:
        try:
            values, end = spec.fast.parse(payload, offset)
        except ValueError:
            values, end = _parse_older(spec, payload, offset)
    else:
        stream = io.BytesIO(payload[offset:])
        try:
            parsed = spec.struct.parse_stream(stream)
            values = {f.name: parsed[f.name] for f in spec.fields}
            end = offset + stream.tell()
        except (cs.ConstructError, UnicodeDecodeError):
            values, end = _parse_older(spec, payload, offset)
    for name, members in spec.enum_fields:
        try:
            values[name] = members[values[name]]
        except KeyError:
            raise BadPayload(f"{spec.name}.{name}: {values[name]!r} is not a valid {name} value") from None
    for f in spec.typed_fields:
        values[f.name] = _python_value(f, values[f.name], catalog, spec.name)
    return values, end


def decode_message(frame: Frame, catalog: Catalog = CATALOG) -> Message:
    """The message a frame carries; raises :class:`UnknownMessageType` or :class:`BadPayload`."""
    spec = catalog.by_id.get(frame.msg_type)
    if spec is None:
        raise UnknownMessageType(f"unknown message type id 0x{frame.msg_type:02X}")
    payload = frame.payload
    values, used = _parse_fields(spec, payload, 0, catalog)
    if spec.name == "ack":
        command = catalog.by_name.get(values["command"]) if isinstance(values["command"], str) else None
        if command is not None and command.echoes:
            echoed, used = _parse_fields(command, payload, used, catalog)
            values.update(echoed)
    if used != len(payload) and not ignores_trailing_bytes(spec):
        raise BadPayload(
            f"{spec.name}: {len(payload) - used} unexpected bytes after the last field "
            f"(payload {len(payload)} bytes, the fields take {used})"
        )
    return Message(spec.name, frame.seq, values, frame.flags)


def to_json(message: Message) -> dict[str, Any]:
    """The flat JSON object of ``message``: type, seq, flags if any, then each field in wire units."""
    obj: dict[str, Any] = {"type": message.name, "seq": message.seq}
    if message.flags:
        obj["flags"] = message.flags
    for key, value in message.fields.items():
        if isinstance(value, WireEnum):
            obj[key] = value.json_name
        elif isinstance(value, bytes):
            obj[key] = value.hex()
        elif isinstance(value, list):
            obj[key] = [_json_item(v) for v in value]
        else:
            obj[key] = value
    return obj


def _json_item(value: Any) -> Any:
    """One list item in its JSON form (an enum by name, a record as an object of JSON values)."""
    if isinstance(value, WireEnum):
        return value.json_name
    if isinstance(value, Mapping):
        return {k: v.json_name if isinstance(v, WireEnum) else v for k, v in value.items()}
    return value


def from_json(obj: Mapping[str, Any], catalog: Catalog = CATALOG) -> Message:
    """Build a checked :class:`Message` from its JSON object (``"type"`` required, ``"seq"`` defaults 0)."""
    if not isinstance(obj, Mapping):
        raise InvalidField(f"a message must be a JSON object, not {type(obj).__name__}")
    name = obj.get("type")
    if not isinstance(name, str):
        raise InvalidField(f'a message needs a "type" string naming its message type, got {name!r}')
    values = {k: v for k, v in obj.items() if k not in _HEADER_KEYS}
    return make(name, obj.get("seq", 0), obj.get("flags", 0), catalog, **values)
