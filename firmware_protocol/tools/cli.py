"""``python -m firmware_protocol``: list the catalog, encode JSON to a frame, decode frames, write the spec.

Exit codes: 0 success, 1 a bad frame or message (bad CRC, unknown type, truncated frame), 2 bad usage or
bad input (bad JSON, unknown field, a value that does not fit, text that is not hex). Every error is one
line on stderr; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from firmware_protocol.catalog import CATALOG, Catalog, Field, MessageSpec
from firmware_protocol.errors import FrameError, MessageError, ProtocolError
from firmware_protocol.framing import CRC_CHECK, CRC_NAME, MAX_PAYLOAD, PROTOCOL_VERSION, decode_frame
from firmware_protocol.messages import decode_message, from_json, to_json, to_wire
from firmware_protocol.stream import StreamDecoder
from firmware_protocol.tools import spec

EXIT_OK = 0
EXIT_BAD_FRAME = 1
EXIT_USAGE = 2

_PROG = "python -m firmware_protocol"
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")
_READ_SIZE = 1 << 16


class UsageError(Exception):
    """Bad input from the user (not a bad frame): exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{text} [{code}]" if isinstance(code, str) else text


def _emit(out: TextIO, obj: Any) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------------
# catalog


def _field_json(f: Field) -> dict[str, Any]:
    obj: dict[str, Any] = {"name": f.name, "wire_type": f.wire_type, "unit": f.unit, "kind": f.kind.value}
    if f.enum is not None:
        obj["enum"] = {m.json_name: m.value for m in f.enum}
    if f.default is not None or f.default_factory is not None:
        obj["default"] = f.default_value()
    obj["doc"] = f.doc
    if f.record:
        obj["record"] = [_field_json(r) for r in f.record]
    return obj


def _message_json(m: MessageSpec) -> dict[str, Any]:
    return {
        "type_id": f"0x{m.type_id:02X}",
        "name": m.name,
        "direction": m.direction.name.lower(),
        "reply": m.reply,
        "ack_echoes_fields": m.echoes,
        "frozen_prefix": m.frozen_prefix,
        "doc": m.doc,
        "fields": [_field_json(f) for f in m.fields],
    }


def catalog_json(catalog: Catalog = CATALOG) -> dict[str, Any]:
    """The catalog as one JSON-ready object (what ``catalog --json`` prints)."""
    return {
        "protocol_version": PROTOCOL_VERSION,
        "fingerprint": f"0x{catalog.fingerprint:08X}",
        "crc": {"name": CRC_NAME, "check": f"0x{CRC_CHECK:08X}"},
        "max_payload": MAX_PAYLOAD,
        "messages": [_message_json(m) for m in catalog],
    }


def catalog_text(catalog: Catalog = CATALOG) -> str:
    """The catalog as an aligned plain-text listing (what ``catalog`` prints)."""
    lines = [
        f"protocol version {PROTOCOL_VERSION} · catalog fingerprint 0x{catalog.fingerprint:08X} · "
        f"{CRC_NAME} (check 0x{CRC_CHECK:08X}) · payload ≤ {MAX_PAYLOAD} bytes",
        "",
    ]
    width = max(len(f.name) for m in catalog for f in m.fields)
    for m in catalog:
        reply = f"reply: {m.reply}" if m.reply else ""
        if m.echoes:
            reply += " (echoes the applied values)"
        lines.append(f"0x{m.type_id:02X}  {m.name:<15} {m.direction.value:<12} {reply}".rstrip())
        if not m.fields:
            lines.append("      (no fields)")
        for f in m.fields:
            meaning = spec.field_meaning(f)
            lines.append(f"      {f.name:<{width}}  {f.wire_type:<16} {f.unit or '-':<14} {meaning}".rstrip())
            for r in f.record:  # one record of a record list, indented under it
                meaning = spec.field_meaning(r)
                name = f"  {r.name}"
                lines.append(f"      {name:<{width}}  {r.wire_type:<16} {r.unit or '-':<14} {meaning}".rstrip())
        if m.name == "ack":
            lines.append("      + the acknowledged command's fields, for a command whose ack echoes its values")
    return "\n".join(lines) + "\n"


def _cmd_catalog(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.json:
        _emit(out, catalog_json())
    else:
        out.write(catalog_text())
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------
# encode


def _cmd_encode(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        text = sys.stdin.read() if args.json == "-" else args.json
    except UnicodeDecodeError:
        raise UsageError("standard input is not text (expected a JSON object)") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"bad JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        wire = to_wire(from_json(obj))
    except ProtocolError as exc:
        raise UsageError(_one_line(exc)) from None
    out.write(wire.hex() + "\n")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------
# decode


def _parse_hex(text: str) -> bytes:
    digits = "".join(text.split())
    if digits[:2] in ("0x", "0X"):
        digits = digits[2:]
    bad = _NOT_HEX.search(digits)
    if bad:
        raise UsageError(f"not hex: {bad.group()!r} after {bad.start()} hex digits")
    if len(digits) % 2:
        raise UsageError(f"odd number of hex digits ({len(digits)}): the last byte is incomplete")
    if not digits:
        raise UsageError("no hex digits given")
    return bytes.fromhex(digits)


def _cmd_decode(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.stream:
        if args.hex is not None:
            raise UsageError("give HEX or --stream (which reads standard input), not both")
        return _decode_stream(sys.stdin, out, err)
    if args.hex is None:
        raise UsageError("decode needs HEX, or --stream to read hex from standard input")
    data = _parse_hex(args.hex)
    try:
        message = decode_message(decode_frame(data))
    except FrameError as exc:
        err.write(f"error: bad frame: {_one_line(exc)}\n")
        return EXIT_BAD_FRAME
    except MessageError as exc:
        err.write(f"error: bad message: {_one_line(exc)}\n")
        return EXIT_BAD_FRAME
    _emit(out, to_json(message))
    return EXIT_OK


def _hex_chunks(source: TextIO) -> Iterator[bytes]:
    """Bytes from hex text read in chunks; whitespace anywhere (line breaks too) is ignored."""
    carry = ""
    seen = 0
    while True:
        try:
            text = source.read(_READ_SIZE)
        except UnicodeDecodeError:
            raise UsageError("standard input is not text (expected hex digits)") from None
        if not text:
            break
        digits = carry + "".join(text.split())
        bad = _NOT_HEX.search(digits)
        if bad:
            raise UsageError(f"standard input is not hex: {bad.group()!r} after {seen + bad.start()} hex digits")
        usable = len(digits) - len(digits) % 2
        carry = digits[usable:]
        seen += usable
        if usable:
            yield bytes.fromhex(digits[:usable])
    if carry:
        raise UsageError(f"odd number of hex digits ({seen + 1}) on standard input: the last byte is incomplete")


def _decode_stream(source: TextIO, out: TextIO, err: TextIO) -> int:
    decoder = StreamDecoder()
    undecodable = 0
    for chunk in _hex_chunks(source):
        for frame in decoder.feed(chunk):
            try:
                message = decode_message(frame)
            except MessageError as exc:
                undecodable += 1
                err.write(f"skipped frame (type 0x{frame.msg_type:02X}, seq {frame.seq}): {_one_line(exc)}\n")
                continue
            _emit(out, to_json(message))
            out.flush()
    summary: dict[str, int] = decoder.stats.as_dict()
    if undecodable:
        summary["undecodable_messages"] = undecodable
    _emit(out, {"summary": summary})
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------
# spec


def _cmd_spec(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    reference = spec.generate_reference()
    if args.write is None and args.check is None:
        out.write(reference)
        return EXIT_OK
    path: Path = args.write if args.write is not None else args.check
    try:
        document = path.read_text(encoding="utf-8")
        updated = spec.splice(document, reference)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: {_one_line(exc)}") from None
    if args.check is not None:
        if updated != document:
            err.write(f"{path} is out of step with the catalog; run: {_PROG} spec --write {path}\n")
            return EXIT_BAD_FRAME
        out.write(f"{path} is current (fingerprint 0x{CATALOG.fingerprint:08X})\n")
        return EXIT_OK
    if updated != document:
        try:
            path.write_text(updated, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: {_one_line(exc)}") from None
        out.write(f"wrote {path} (fingerprint 0x{CATALOG.fingerprint:08X})\n")
    else:
        out.write(f"{path} was already current\n")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------
# the parser


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=100)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m firmware_protocol`` (every subcommand has --help with examples)."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=_PROG,
        description="Encode and decode mesogun protocol frames; list the message catalog; write the spec.",
        epilog="Exit codes: 0 success, 1 bad frame or message, 2 bad usage or input.\n\n"
        "Examples:\n"
        f"  {_PROG} catalog\n"
        f'  {_PROG} encode \'{{"type": "fire", "seq": 8, "count": 10}}\'\n'
        f"  {_PROG} decode 0004011508010204020a010105ea247a2400",
        formatter_class=raw,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "catalog",
        help="list every message: type id, name, direction, reply, fields with wire type and unit",
        description=_wrap(
            "List every message of the catalog: type id (hex), name, direction, reply, and each "
            "field with its wire type, unit and meaning."
        ),
        epilog=f"Examples:\n  {_PROG} catalog\n  {_PROG} catalog --json | jq '.messages[].name'",
        formatter_class=raw,
    )
    p.add_argument("--json", action="store_true", help="print the catalog as one JSON object")
    p.set_defaults(run=_cmd_catalog)

    p = sub.add_parser(
        "encode",
        help="print the frame of a JSON message as hex (delimiters included)",
        description=_wrap(
            'Encode a message given in its JSON form ({"type": name, "seq": n, fields in wire units}) '
            "and print its frame as hex, 0x00 delimiters included. A bad field exits 2 naming the field, the "
            "value and the limit."
        ),
        epilog="Examples:\n"
        f'  {_PROG} encode \'{{"type": "fire", "seq": 8, "count": 10}}\'\n'
        f'  {_PROG} encode \'{{"type": "set_parameters", "seq": 7, "depth_um": 2500, '
        f'"dose_nl": 50000, "rate_mhz": 3000, "mode": "burst"}}\'\n'
        f'  echo \'{{"type": "hello", "seq": 1}}\' | {_PROG} encode -',
        formatter_class=raw,
    )
    p.add_argument("json", metavar="JSON", help="the message as a JSON object, or - to read it from standard input")
    p.set_defaults(run=_cmd_encode)

    p = sub.add_parser(
        "decode",
        help="print the message of a hex frame as JSON, or decode a hex stream from standard input",
        description=_wrap(
            "Decode one frame given as hex (delimiters optional, whitespace ignored) and print its "
            "message as one line of JSON. A bad CRC, an unknown type or a truncated frame exits 1 with the "
            "reason. With --stream, read hex from standard input (whitespace and line breaks ignored), print "
            'one JSON line per valid frame and, last, {"summary": {...}} with the decoder\'s counters.'
        ),
        epilog="Examples:\n"
        f"  {_PROG} decode 0004011508010204020a010105ea247a2400\n"
        f"  {_PROG} decode '00 04 01 15 08 01 02 04 02 0a 01 01 05 ea 24 7a 24 00'\n"
        f"  cat capture.hex | {_PROG} decode --stream",
        formatter_class=raw,
    )
    p.add_argument("hex", metavar="HEX", nargs="?", help="one frame as hex")
    p.add_argument("--stream", action="store_true", help="read a hex byte stream from standard input")
    p.set_defaults(run=_cmd_decode)

    p = sub.add_parser(
        "spec",
        help="print, write or check the generated reference of docs/protocol.md",
        description=_wrap(
            "Generate the reference section of docs/protocol.md from the catalog. Without options, "
            "print it; --write replaces the part of the file between its GENERATED markers; --check exits 1 "
            "when the file is out of step with the catalog."
        ),
        epilog=f"Examples:\n  {_PROG} spec --write docs/protocol.md\n  {_PROG} spec --check docs/protocol.md",
        formatter_class=raw,
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", type=Path, help="update PATH's generated section in place")
    group.add_argument("--check", metavar="PATH", type=Path, help="exit 1 if PATH's generated section is stale")
    p.set_defaults(run=_cmd_spec)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the tool and return its exit code; errors become one line on ``err``, never a traceback."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help printed its text
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        code: int = args.run(args, out, err)
        return code
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (``… | head``): nothing left to report to
        return EXIT_OK
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
