"""The generated reference part of docs/protocol.md (tooling: the contract never imports it).

:func:`generate_reference` renders the catalog (frame header, messages, fields, enums, CRC, fingerprint,
a worked example) and the device rules of :mod:`firmware_protocol.rules` (order of checks, state table,
reference identity, alarm priorities) as Markdown; :func:`splice` puts it between the markers of
docs/protocol.md, so the file's prose is hand-written and its tables can never drift from the catalog
and the rules (a test checks it).
"""

from __future__ import annotations

import ast
import inspect
import io
import itertools
import json
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import construct as cs

from firmware_protocol.catalog import CATALOG, Catalog, Direction, Field, FieldKind, MessageSpec
from firmware_protocol.enums import AlarmCode, AlarmPriority, DeviceState, Mode, NakCode, WireEnum
from firmware_protocol.families import CORE, FAMILIES
from firmware_protocol.framing import (
    CRC_CHECK,
    CRC_NAME,
    CRC_SIZE,
    FRAME,
    HEADER_SIZE,
    MAX_ENCODED,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    Flag,
    frame_body,
)
from firmware_protocol.messages import Message, encode_message, ignores_trailing_bytes, make, to_json, to_wire
from firmware_protocol.rules import (
    ALARM_PRIORITIES,
    CALIBRATION_LIMITS,
    FIELD_LIMITS,
    GATES,
    REFERENCE_IDENTITY,
    REFERENCE_MODEL,
    STATE_TABLE,
    Outcome,
)

BEGIN_MARKER = "<!-- BEGIN GENERATED: python -m firmware_protocol spec --write docs/protocol.md -->"
END_MARKER = "<!-- END GENERATED -->"

# ---------------------------------------------------------------------------------------------------
# Small helpers shared with the command-line tool.


def enum_member_docs(enum_cls: type[WireEnum]) -> dict[WireEnum, str]:
    """Each member's docstring (the string literal under its definition), read from the enum's source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(enum_cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    docs: dict[WireEnum, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            member = enum_cls.__members__.get(statement.targets[0].id)
            if member is not None:
                docs[member] = " ".join(following.value.value.split())
    return docs


def wire_range(f: Field, limited: bool = True) -> str:
    """The values a field may take (``limited``: a command field bounded by the device's identity)."""
    if limited and f.name in FIELD_LIMITS:
        low, high, step = FIELD_LIMITS[f.name]
        ref = REFERENCE_IDENTITY
        return f"identity {low}–{high}, step {step} (reference: {ref[low]}–{ref[high]} step {ref[step]})"
    if f.kind is FieldKind.INT and f.wire_type.startswith("i"):
        half = 2 ** (8 * f.wire.sizeof() - 1)
        return f"−{half}–{half - 1}"
    if f.kind is FieldKind.INT:
        return f"0–{2 ** (8 * f.wire.sizeof()) - 1}"
    if f.kind is FieldKind.BOOL:
        return "0 or 1"
    if f.kind is FieldKind.TEXT:
        return "0–255 bytes of UTF-8"
    if f.kind is FieldKind.INT_LIST:
        return "0–255 items"
    if f.kind is FieldKind.BYTES:
        return f"0–{MAX_PAYLOAD - 2} bytes"
    if f.kind is FieldKind.ENUM and f.enum is not None:
        return f"{f.enum.__name__}: " + ", ".join(str(m.value) for m in f.enum)
    if f.kind is FieldKind.ENUM_LIST and f.enum is not None:
        return f"0–255 items of {f.enum.__name__}"
    if f.kind is FieldKind.RECORD_LIST:
        try:
            size = sum(r.wire.sizeof() for r in f.record)
        except cs.SizeofError:  # a record with text: its size varies
            return "0–255 records of variable size (below)"
        return f"0–255 records of {size} bytes (below)"
    return "a type id"


def field_meaning(f: Field) -> str:
    """A field's meaning as one line: its doc, its enum, its default when a command may omit it."""
    parts = [f.doc] if f.doc else []
    if f.enum is not None:
        parts.append(f"{f.enum.__name__}: " + ", ".join(m.json_name for m in f.enum))
    if f.default is not None or f.default_factory is not None:
        parts.append(f"default {f.default_value()}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------------
# Markdown rendering.


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _field_rows(fields: Sequence[Field], start: int = 0, limited: bool = True) -> list[list[object]]:
    rows: list[list[object]] = []
    offset: int | None = start
    for f in fields:
        try:
            size: int | None = f.wire.sizeof()
        except cs.SizeofError:
            size = None
        rows.append(
            [
                "—" if offset is None else offset,
                f"`{f.name}`",
                f.wire_type,
                f.unit or "—",
                wire_range(f, limited),
                field_meaning(f) or "—",
            ]
        )
        offset = None if offset is None or size is None else offset + size
    return rows


_FIELD_HEADER = ("offset", "field", "wire type", "unit", "range", "meaning")


def _constants(catalog: Catalog) -> list[str]:
    return [
        "### Constants",
        "",
        *_table(
            ("name", "value", "meaning"),
            [
                ("protocol version", PROTOCOL_VERSION, "in every frame header, and in hello and identity"),
                (
                    "core fingerprint",
                    f"`0x{catalog.fingerprint:08X}`",
                    "in hello and identity; every family's: see *Fingerprint input* below",
                ),
                ("CRC", CRC_NAME, "over header and payload; check value over ASCII `123456789` below"),
                ("CRC check value", f"`0x{CRC_CHECK:08X}`", f"{CRC_NAME} of the 9 bytes `31 32 … 39`"),
                ("header size", f"{HEADER_SIZE} bytes", "version, type, seq, flags, length"),
                ("CRC size", f"{CRC_SIZE} bytes", "u32, little-endian, after the payload"),
                ("maximum payload", f"{MAX_PAYLOAD} bytes", "a longer length field makes the frame invalid"),
                (
                    "maximum encoded frame",
                    f"{MAX_ENCODED} bytes",
                    "COBS-encoded header+payload+CRC, delimiters excluded: a longer run is dropped",
                ),
                ("flag RETRY", f"`0x{Flag.RETRY:02X}`", "host: this frame re-sends a command with the same seq"),
                ("flag REPLY", f"`0x{Flag.REPLY:02X}`", "device: this frame answers the command with this seq"),
            ],
        ),
        "",
    ]


def _frame_header() -> list[str]:
    body = FRAME.subcons[0].subcon.subcon  # "body" / RawCopy(Struct(...))
    rows: list[list[object]] = []
    offset: int | None = 0
    for sub in body.subcons:
        try:
            size: int | None = sub.subcon.sizeof()
        except cs.SizeofError:
            size = None
        wire = {1: "u8", 2: "u16", 4: "u32"}.get(size or 0, "bytes[length]")
        rows.append([offset if offset is not None else "7", f"`{sub.name}`", wire, sub.docs])
        offset = None if offset is None or size is None else offset + size
    crc = FRAME.subcons[1]
    rows.append(["7 + length", f"`{crc.name}`", "u32", crc.docs])
    return [
        "### Frame body (before COBS), from the construct declaration `firmware_protocol.framing.FRAME`",
        "",
        *_table(("offset", "field", "wire type", "meaning"), rows),
        "",
    ]


def _message_index(catalog: Catalog) -> list[str]:
    rows = [
        (
            f"`0x{m.type_id:02X}`",
            f"[`{m.name}`](#0x{m.type_id:02x}-{m.name})",
            m.direction.value,
            m.reply or "—",
            "yes" if m.echoes else "—",
            "yes" if m.frozen_prefix else "—",
            "ignored" if ignores_trailing_bytes(m) else "`bad_payload`",
        )
        for m in catalog
    ]
    header = ("type id", "name", "direction", "reply", "ack echoes fields", "frozen prefix", "bytes after last field")
    return [
        "### Messages",
        "",
        *_table(header, rows),
        "",
    ]


def _message_section(spec: MessageSpec, catalog: Catalog) -> list[str]:
    lines = [f"#### 0x{spec.type_id:02X} {spec.name}", ""]
    facts = [f"Direction: {spec.direction.value}."]
    if spec.reply:
        facts.append(f"Answered by `{spec.reply}` (REPLY flag set, this command's seq).")
    if spec.echoes:
        facts.append("Its `ack` repeats these fields with the values the device applied.")
    if spec.frozen_prefix:
        facts.append("Frozen prefix: its fields never change; later versions only append fields.")
    if ignores_trailing_bytes(spec):
        facts.append("A receiver ignores bytes after the last field it knows (fields appended by a later version).")
    else:
        facts.append("Bytes after the last field make the payload invalid (`nak bad_payload`).")
    lines += [spec.doc, "", " ".join(facts), ""]
    if spec.fields:
        limited = spec.direction is Direction.HOST_TO_DEVICE
        lines += [*_table(_FIELD_HEADER, _field_rows(spec.fields, limited=limited)), ""]
        for f in spec.fields:
            if f.kind is FieldKind.RECORD_LIST:
                lines += [
                    f"*one record of `{f.name}`* (offsets within the record; records follow the count byte "
                    "back to back)",
                    "",
                    *_table(_FIELD_HEADER, _field_rows(f.record, limited=False)),
                    "",
                ]
    else:
        lines += ["No fields: the payload is empty (length 0).", ""]
    if spec.name == "ack":
        echoing = [m for m in catalog if m.echoes]
        lines += [
            "After `command`, an ack of a command that sets values carries that command's fields, in its "
            "layout, with the values the device applied. Ack of " + ", ".join(f"`{m.name}`" for m in echoing) + ":",
            "",
        ]
        for m in echoing:
            lines += [f"*ack of `{m.name}`*", "", *_table(_FIELD_HEADER, _field_rows(m.fields, start=1)), ""]
        lines += ["An ack of any other command carries `command` only (payload length 1).", ""]
    return lines


def _enum_section(enum_cls: type[WireEnum]) -> list[str]:
    docs = enum_member_docs(enum_cls)
    doc = " ".join((enum_cls.__doc__ or "").split())
    rows = [(m.value, f"`{m.json_name}`", docs.get(m, "—")) for m in enum_cls]
    return [f"#### {enum_cls.__name__}", "", doc, "", *_table(("value", "name", "meaning"), rows), ""]


def _enums(catalog: Catalog) -> list[str]:
    seen: list[type[WireEnum]] = []
    for spec in catalog:
        for f in (field for top in spec.fields for field in (top, *top.record)):
            if f.enum is not None and f.enum not in seen:
                seen.append(f.enum)
    for extra in (DeviceState, Mode, AlarmCode, AlarmPriority, NakCode):
        if extra not in seen:
            seen.append(extra)
    lines = ["### Enumerations (one unsigned byte each; JSON uses the lowercase name)", ""]
    for enum_cls in seen:
        lines += _enum_section(enum_cls)
    return lines


HOST_REFUSES_MARK = "†"
"""Marks a cell the device accepts but a host refuses before sending (it changes nothing)."""


def outcome_cell(rule: Outcome) -> str:
    """The Markdown table cell: ``✓ → armed (busy, insufficient_volume)`` or ``*wrong_state*``."""
    if not rule.accepted:
        return " / ".join(f"*{code.json_name}*" for code in rule.naks)
    text = "✓" + (HOST_REFUSES_MARK if rule.host_refuses else "")
    text += (" → " + " or ".join(s.json_name for s in rule.to)) if rule.to else ""
    return text + (" (" + ", ".join(c.json_name for c in rule.naks) + ")" if rule.naks else "")


def _gates() -> list[str]:
    rows = [
        (i, f"`{gate.code.json_name}`", gate.when, ", ".join(f"`{name}`" for name in sorted(gate.exempt)) or "—")
        for i, gate in enumerate(GATES, start=1)
    ]
    return [
        "### Checks before the state rules (in this order)",
        "",
        *_table(("order", "nak code", "when", "except"), rows),
        "",
    ]


def _state_table(catalog: Catalog) -> list[str]:
    states = list(DeviceState)
    rows = [
        [f"`{name}`", *(outcome_cell(STATE_TABLE[name][s]) for s in states)]
        for name in (m.name for m in catalog if m.direction is Direction.HOST_TO_DEVICE)
        if name in STATE_TABLE
    ]
    return [
        "### State rules (command × device state)",
        "",
        "✓: carried out and acknowledged (→ the state it leads to); *italics*: refused with that nak code, "
        "nothing changes. Names in parentheses are checked next, in order, each refusing with its own nak "
        "code (section 3.2, *Order of checks*).",
        "",
        *_table(("command", *(s.json_name for s in states)), rows),
        "",
        *(_host_refuses_note() if any(r.host_refuses for row in STATE_TABLE.values() for r in row.values()) else []),
    ]


def _host_refuses_note() -> list[str]:
    """The footnote for :data:`HOST_REFUSES_MARK`, printed only when some cell carries the mark."""
    return [
        f"{HOST_REFUSES_MARK}: accepted and acknowledged, but it changes nothing; a host refuses it before "
        "sending, as it can only be a mistake.",
        "",
    ]


def _show(name: str, value: Any) -> str:
    return f"0x{value:08X}" if name == "fingerprint" else json.dumps(value, ensure_ascii=False)


def _reference_device() -> list[str]:
    ref = REFERENCE_IDENTITY
    human = {
        "depth_min_um": "1.0 mm",
        "depth_max_um": "4.0 mm",
        "depth_step_um": "0.1 mm",
        "dose_min_nl": "0.001 mL",
        "dose_max_nl": "0.200 mL",
        "dose_step_nl": "0.001 mL",
        "rate_min_mhz": "0.5 shots/s",
        "rate_max_mhz": "10 shots/s",
        "rate_step_mhz": "0.1 shot/s",
        "syringe_sizes_nl": "2, 3, 5, 10 mL",
        "watchdog_ms": "1 s",
        "status_period_ms": "0.1 s",
        "burst_count_max": "20 shots per press",
        "calibration_id": "factory calibration (never calibrated)",
    }
    identity = CATALOG.by_name["identity"]
    rows = [
        (f"`{f.name}`", f"`{_show(f.name, ref[f.name])}`", f.unit or "—", human.get(f.name, "—"))
        for f in identity.fields
    ]
    alarm_rows = [(f"`{code.json_name}`", f"`{prio.json_name}`") for code, prio in ALARM_PRIORITIES.items()]
    model, cal = REFERENCE_MODEL, CALIBRATION_LIMITS
    model_rows = [
        ("power-on parameters", f"depth_um {model.power_on_depth_um}, dose_nl {model.power_on_dose_nl}, "
         f"rate_mhz {model.power_on_rate_mhz}, mode {model.power_on_mode.json_name}, burst_count "
         f"{model.power_on_burst_count}",
         "set at every power-on and brown-out, needle stop at that depth"),
        ("depth motor speed", f"{model.depth_speed_um_s} µm/s", "constant; a move of d µm takes d / 5 ms"),
        ("priming flow", f"{model.prime_rate_nl_s} nL/s", "priming volume_nl takes volume_nl / 50 000 s"),
        ("plunger stroke", f"{model.stroke_min_ms} ms + {model.stroke_max_ms - model.stroke_min_ms} ms × "
         "dose_nl / dose_max_nl", f"at most {model.stroke_max_ms} ms: shorter than the shortest shot period, so "
         "no dose is ever refused for the plunger"),
        ("reservoir_low threshold", f"{model.low_reservoir_doses} doses", "raised when reservoir_nl < "
         f"{model.low_reservoir_doses} × dose_nl"),
        ("calibration gains", f"{cal.gain_min_ppm}–{cal.gain_max_ppm} ppm", "volume, depth and rate gains a "
         "write_calibration may set (0.80–1.20); factory: 1000000 (1.0)"),
        ("calibration depth offset", f"−{cal.depth_offset_max_um}–{cal.depth_offset_max_um} µm", "factory: 0"),
        ("calibration texts", f"{cal.brands_max} brands of at most {cal.brand_max_bytes} bytes; technician and "
         f"certificate_id at most {cal.text_max_bytes} bytes", "UTF-8"),
    ]  # fmt: skip
    return [
        "### Reference device (identity values, device model and alarm priorities)",
        "",
        "The hard limits of the reference device as it reports them in `identity`. A host must use the limits "
        "a device reports, never copies of these.",
        "",
        *_table(("field", "value", "wire unit", "in everyday units"), rows),
        "",
        "What `identity` does not carry: fixed values of the device model, which a host uses to predict "
        "timings (the values of another model are in its own documentation).",
        "",
        *_table(("quantity", "reference device", "meaning"), model_rows),
        "",
        *_table(("alarm code", "priority"), alarm_rows),
        "",
    ]


def _body_byte_names(message: Message, catalog: Catalog) -> list[str]:
    """What each byte of ``message``'s frame body (header, payload, CRC) is, with the value it spells."""
    frame = encode_message(message, catalog)
    body = frame_body(frame)
    spec = catalog.by_name[message.name]
    fields = list(spec.fields)
    command = message.fields.get("command") if spec.name == "ack" else None
    echoed = catalog.by_name.get(command) if isinstance(command, str) else None
    if echoed is not None and echoed.echoes:
        fields += echoed.fields
    flags = " (" + ", ".join(f.name or "" for f in Flag if f and f in Flag(frame.flags)) + ")" if frame.flags else ""
    names = [
        f"version = {frame.version}",
        f"type = 0x{frame.msg_type:02X} ({spec.name})",
        f"seq low byte (seq = {frame.seq}, u16 little-endian)",
        "seq high byte",
        f"flags = 0x{frame.flags:02X}{flags}",
        f"length low byte (length = {len(frame.payload)}, u16 little-endian)",
        "length high byte",
    ]
    stream = io.BytesIO(frame.payload)
    for f in fields:
        start = stream.tell()
        raw = f.wire.parse_stream(stream)
        size = stream.tell() - start
        shown = f"`{f.name}` = {to_json(message).get(f.name, raw)}"
        if size == 1:
            names.append(shown)
        else:
            names += [
                f"{shown} ({f.wire_type} little-endian), byte 0",
                *(f"`{f.name}` byte {i}" for i in range(1, size)),
            ]
    crc = int.from_bytes(body[-CRC_SIZE:], "little")
    names += [f"CRC byte 0 (CRC = 0x{crc:08X}, u32 little-endian)", *(f"CRC byte {i}" for i in range(1, CRC_SIZE))]
    assert len(names) == len(body)
    return names


def _byte_walk(message: Message, catalog: Catalog) -> list[list[object]]:
    """One row per wire byte of ``message``: its offset, value, and what it is (COBS code or body byte)."""
    names = _body_byte_names(message, catalog)
    wire = to_wire(message, catalog)
    rows: list[list[object]] = [[0, "`00`", "delimiter"]]
    position = 0  # index into the frame body
    i = 1
    while i < len(wire) - 1:
        code = wire[i]
        block = code - 1
        ends_with_zero = code < 0xFF and i + code < len(wire) - 1
        meaning = f"COBS code: {block} data byte{'s follow' if block != 1 else ' follows'}"
        if ends_with_zero:
            meaning += f", then the block stands for a `00`: {names[position + block]}"
        else:
            meaning += " (last block: no `00`)" if code < 0xFF else " (254 bytes, no `00`)"
        rows.append([i, f"`{code:02X}`", meaning])
        rows += [[i + 1 + k, f"`{wire[i + 1 + k]:02X}`", names[position + k]] for k in range(block)]
        position += block + (1 if ends_with_zero else 0)
        i += code
    rows.append([len(wire) - 1, "`00`", "delimiter"])
    return rows


def _example(title: str, message: Message, catalog: Catalog) -> list[str]:
    frame = encode_message(message, catalog)
    body = frame_body(frame)
    wire = to_wire(message, catalog)
    return [
        f"#### {title}",
        "",
        f"JSON: `{json.dumps(to_json(message), ensure_ascii=False)}`",
        "",
        "```",
        f"body (header+payload+CRC): {body.hex(' ')}",
        f"CRC-32 of header+payload:  0x{int.from_bytes(body[-CRC_SIZE:], 'little'):08X} (stored little-endian)",
        f"on the wire:               {wire.hex(' ')}",
        "```",
        "",
        *_table(("wire offset", "byte", "meaning"), _byte_walk(message, catalog)),
        "",
    ]


def _examples(catalog: Catalog) -> list[str]:
    return [
        "### Worked example",
        "",
        *_example("`fire` (seq 8, count 10)", make("fire", seq=8, catalog=catalog, count=10), catalog),
        *_example(
            "its `ack` (seq 8, REPLY flag, echoing count 10)",
            make("ack", seq=8, flags=Flag.REPLY, catalog=catalog, command="fire", count=10),
            catalog,
        ),
    ]


def signature_lines(catalog: Catalog = CATALOG, family: str = CORE.name) -> list[str]:
    """One family's fingerprint input (default: the core's), one line per message in type id order (joined
    with ``\\n``, UTF-8)."""
    return list(catalog.signature_lines.get(family, ()))


def _fingerprint(catalog: Catalog) -> list[str]:
    lines = [
        "### Fingerprint input",
        "",
        "Each message family has its own fingerprint: SHA-256 over its messages' signature lines, in type id "
        "order, joined by `\\n` (no trailing newline), UTF-8 encoded; the fingerprint is the first 4 bytes of "
        "the digest read as a little-endian u32. `hello` and `identity` carry the core family's; "
        "`identity.families` the others'.",
        "",
    ]
    for family in FAMILIES:
        if family.name not in catalog.family_fingerprints:
            continue
        value = catalog.family_fingerprints[family.name]
        lines += [
            f"#### {family.name} family ({family.commands.start:#04x}-{family.commands.stop - 1:#04x}, "
            f"{family.replies.start:#04x}-{family.replies.stop - 1:#04x})",
            "",
            f"{len(catalog.signature_lines[family.name])} lines; fingerprint **`0x{value:08X}`** (decimal {value}).",
            "",
            "```text",
            *signature_lines(catalog, family.name),
            "```",
            "",
        ]
    return lines


def generate_reference(catalog: Catalog = CATALOG) -> str:
    """The generated reference section of docs/protocol.md (without the markers)."""
    lines = [
        "## Reference (generated from the catalog — do not edit by hand)",
        "",
        *_constants(catalog),
        *_frame_header(),
        *_message_index(catalog),
        *(line for spec in catalog for line in _message_section(spec, catalog)),
        *_enums(catalog),
        *_gates(),
        *_state_table(catalog),
        *_reference_device(),
        *_examples(catalog),
        *_fingerprint(catalog),
    ]
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def splice(document: str, reference: str) -> str:
    """``document`` with everything between the markers replaced by ``reference``.

    Raises ``ValueError`` when the markers are missing or out of order (nothing is changed then).
    """
    begin = document.find(BEGIN_MARKER)
    end = document.find(END_MARKER)
    if begin < 0 or end < 0 or end < begin:
        raise ValueError(f"the document lacks the markers {BEGIN_MARKER!r} … {END_MARKER!r} (in that order)")
    head = document[: begin + len(BEGIN_MARKER)]
    return f"{head}\n\n{reference}\n{document[end:]}"


def is_current(document: str, catalog: Catalog = CATALOG) -> bool:
    """True when ``document``'s generated section is exactly what the catalog generates now."""
    return splice(document, generate_reference(catalog)) == document
