"""The mesogun wire protocol: framing, CRC, catalog, stream decoder, JSON form, device rules, typed views.

The contract only, pure: no I/O, no clocks. Tooling (the CLI, the docs renderer) lives in
:mod:`firmware_protocol.tools`, which this package never imports. The host (:mod:`mesogun`) and the
simulated gun (:mod:`sims`) both import the contract; firmware implements it from docs/protocol.md.
"""

from firmware_protocol import rules, views
from firmware_protocol.catalog import CATALOG, Catalog, Direction, Field, FieldKind, MessageSpec
from firmware_protocol.enums import AlarmCode, AlarmPriority, DeviceState, Mode, NakCode, ShotSource, WireEnum
from firmware_protocol.errors import (
    BadLength,
    BadPayload,
    CobsError,
    CrcMismatch,
    FrameError,
    InvalidField,
    MessageError,
    OversizeFrame,
    ProtocolError,
    TruncatedFrame,
    UnknownMessageType,
)
from firmware_protocol.framing import (
    CRC_CHECK,
    CRC_NAME,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    Flag,
    Frame,
    crc32,
    decode_frame,
    encode_frame,
)
from firmware_protocol.messages import (
    Message,
    decode_message,
    encode_message,
    from_json,
    make,
    spec_for,
    to_json,
    to_wire,
)
from firmware_protocol.stream import DecoderStats, StreamDecoder

FINGERPRINT: int = CATALOG.fingerprint
"""The fingerprint of this package's catalog (exchanged in hello/identity)."""

__all__ = [
    "CATALOG",
    "CRC_CHECK",
    "CRC_NAME",
    "FINGERPRINT",
    "MAX_PAYLOAD",
    "PROTOCOL_VERSION",
    "AlarmCode",
    "AlarmPriority",
    "BadLength",
    "BadPayload",
    "Catalog",
    "CobsError",
    "CrcMismatch",
    "DecoderStats",
    "DeviceState",
    "Direction",
    "Field",
    "FieldKind",
    "Flag",
    "Frame",
    "FrameError",
    "InvalidField",
    "Message",
    "MessageError",
    "MessageSpec",
    "Mode",
    "NakCode",
    "OversizeFrame",
    "ProtocolError",
    "ShotSource",
    "StreamDecoder",
    "TruncatedFrame",
    "UnknownMessageType",
    "WireEnum",
    "crc32",
    "decode_frame",
    "decode_message",
    "encode_frame",
    "encode_message",
    "from_json",
    "make",
    "rules",
    "spec_for",
    "to_json",
    "to_wire",
    "views",
]
