"""Frame layout, CRC and COBS byte stuffing: turning one frame into wire bytes and back.

Wire form of one frame::

    0x00 | COBS( version u8 | type u8 | seq u16le | flags u8 | length u16le | payload | crc32 u32le ) | 0x00

The delimiter is sent before *and* after each frame, so line noise before a frame can never swallow it.
The construct declaration :data:`FRAME` is the source of truth for the layout; :func:`encode_frame` and
:func:`decode_frame` are a ``struct``-based fast path that a test keeps byte-identical with it.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

import construct as cs
from cobs import cobs

from firmware_protocol.errors import BadLength, CobsError, CrcMismatch, TruncatedFrame

#: The protocol version carried in every frame header.
PROTOCOL_VERSION = 1
#: Largest payload a frame may carry, in bytes (room for firmware-update blocks of 512 bytes).
MAX_PAYLOAD = 1024
#: Frame delimiter; COBS guarantees it never occurs inside an encoded frame.
DELIMITER = b"\x00"

#: Name and parameters of the frame CRC (see docs/protocol.md); ``zlib.crc32`` computes it.
CRC_NAME = "CRC-32/ISO-HDLC"
CRC_CHECK = 0xCBF43926
"""CRC of the ASCII bytes ``123456789``; every implementation must reproduce it."""

_HEADER = struct.Struct("<BBHBH")
_CRC_RESIDUE = 0x2144DF1C
"""CRC-32/ISO-HDLC of any data followed by its own CRC (little-endian): one pass checks a whole body."""
_CRC = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
CRC_SIZE = _CRC.size
MIN_FRAME = HEADER_SIZE + CRC_SIZE
#: Longest COBS-encoded frame, delimiters excluded: the stream decoder drops anything longer.
MAX_ENCODED = MIN_FRAME + MAX_PAYLOAD + (MIN_FRAME + MAX_PAYLOAD) // 254 + 1


class Flag(enum.IntFlag):
    """Bits of the header's flags byte."""

    NONE = 0
    RETRY = 0x01
    """Host: this frame re-sends a command under the same sequence number."""
    REPLY = 0x02
    """Device: this frame answers the host command with the same sequence number."""


#: The frame layout in construct: the declaration docs/protocol.md is written from.
FRAME = cs.Struct(
    "body"
    / cs.RawCopy(
        cs.Struct(
            "version" / cs.Int8ul * "protocol version, 1",
            "type" / cs.Int8ul * "message type id (see the catalog)",
            "seq" / cs.Int16ul * "sequence number",
            "flags" / cs.Int8ul * "bit 0 RETRY, bit 1 REPLY",
            "length" / cs.Int16ul * "payload length in bytes, at most 1024",
            "payload" / cs.Bytes(cs.this.length) * "message fields",
        )
    ),
    "crc"
    / cs.Checksum(cs.Int32ul, lambda data: zlib.crc32(data), cs.this.body.data)
    * "CRC-32/ISO-HDLC over version..payload",
)


def crc32(data: bytes) -> int:
    """The frame CRC (:data:`CRC_NAME`) of ``data``."""
    return zlib.crc32(data)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: header fields and the still-encoded message payload."""

    msg_type: int
    seq: int
    payload: bytes = b""
    flags: int = 0
    version: int = PROTOCOL_VERSION


def frame_body(frame: Frame) -> bytes:
    """Header, payload and CRC of ``frame``, before byte stuffing."""
    if not 0 <= frame.seq <= 0xFFFF:
        raise BadLength(f"seq={frame.seq} does not fit the 16-bit sequence number (0..65535)")
    if len(frame.payload) > MAX_PAYLOAD:
        raise BadLength(f"payload of {len(frame.payload)} bytes exceeds the maximum {MAX_PAYLOAD} bytes")
    body = _HEADER.pack(frame.version, frame.msg_type, frame.seq, frame.flags, len(frame.payload)) + frame.payload
    return body + _CRC.pack(zlib.crc32(body))


def encode_frame(frame: Frame) -> bytes:
    """Wire bytes of ``frame``: delimiter, COBS-stuffed body, delimiter."""
    stuffed: bytes = cobs.encode(frame_body(frame))
    return DELIMITER + stuffed + DELIMITER


def parse_body(body: bytes) -> Frame:
    """Check and split an un-stuffed frame body; raises a :class:`FrameError` subclass naming the fault."""
    if len(body) < MIN_FRAME:
        raise TruncatedFrame(f"frame of {len(body)} bytes is shorter than the minimum {MIN_FRAME} bytes")
    version, msg_type, seq, flags, length = _HEADER.unpack_from(body)
    if length > MAX_PAYLOAD:
        raise BadLength(f"header declares a {length}-byte payload; the maximum is {MAX_PAYLOAD} bytes")
    end = HEADER_SIZE + length
    if len(body) < end + CRC_SIZE:
        raise TruncatedFrame(f"header declares a {length}-byte payload but only {len(body) - MIN_FRAME} bytes arrived")
    if len(body) > end + CRC_SIZE:
        raise BadLength(f"header declares a {length}-byte payload but {len(body) - MIN_FRAME} bytes arrived")
    if zlib.crc32(body) != _CRC_RESIDUE:  # the CRC over content + its own LE bytes is constant when intact
        (received,) = _CRC.unpack_from(body, end)
        computed = zlib.crc32(body[:end])
        raise CrcMismatch(f"CRC mismatch: frame says 0x{received:08X}, content gives 0x{computed:08X}")
    return Frame(msg_type, seq, body[HEADER_SIZE:end], flags, version)


def _cobs_prefix(stuffed: bytes) -> bytes:
    """What a COBS run whose last block is cut short decodes to, as far as it goes."""
    out = bytearray()
    i, n = 0, len(stuffed)
    while i < n:
        code = stuffed[i]
        out += stuffed[i + 1 : i + code]
        i += code
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


def unstuff(stuffed: bytes) -> bytes:
    """Undo COBS on the bytes between two delimiters.

    A run whose last COBS block is cut short is a frame that lost its tail when the part that did arrive
    holds a header declaring more bytes than arrived: :class:`TruncatedFrame`; any other invalid run is
    :class:`CobsError` (noise, or a frame whose head was lost).
    """
    try:
        body: bytes = cobs.decode(stuffed)
    except cobs.DecodeError as exc:
        prefix = _cobs_prefix(stuffed)
        if len(prefix) >= HEADER_SIZE:
            length = _HEADER.unpack_from(prefix)[4]
            if length <= MAX_PAYLOAD and len(prefix) < HEADER_SIZE + length + CRC_SIZE:
                raise TruncatedFrame(
                    f"frame cut short: its header declares a {length}-byte payload "
                    f"({HEADER_SIZE + length + CRC_SIZE} bytes with header and CRC) but the data ends "
                    f"after {len(prefix)} bytes"
                ) from None
        raise CobsError(f"not a COBS-encoded frame ({exc})") from None
    return body


def decode_frame(data: bytes) -> Frame:
    """Decode exactly one frame from wire bytes (delimiters optional); raises :class:`FrameError` if bad."""
    stuffed = data.strip(DELIMITER)
    if DELIMITER in stuffed:
        raise CobsError("more than one frame (a 0x00 delimiter inside the data)")
    if not stuffed:
        raise TruncatedFrame("no frame: the data is empty")
    return parse_body(unstuff(stuffed))
