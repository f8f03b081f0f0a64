"""The one exception hierarchy of the wire protocol.

Every error carries a stable ``code`` a technician can look up in docs/protocol.md, and a message that
names what was wrong (the field, the value, the limit).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error raised by :mod:`firmware_protocol`.

    Example: a frame read off the wire whose CRC does not match, or a JSON message naming a type the
    catalog does not know.
    """

    code = "FP000"


class FrameError(ProtocolError):
    """A byte sequence is not a valid frame (the stream decoder counts these instead of raising)."""

    code = "FP100"
    #: Name of the :class:`~firmware_protocol.stream.DecoderStats` counter this error increments.
    counter = "garbage_bytes"


class CobsError(FrameError):
    """The bytes between two delimiters are not valid COBS (line noise, or a frame's head was lost)."""

    code = "FP101"


class TruncatedFrame(FrameError):
    """The frame is shorter than its header, or than the payload length its header declares.

    Example: bytes dropped mid-frame on a noisy serial line.
    """

    code = "FP102"
    counter = "truncated"


class BadLength(FrameError):
    """The header's payload length is absurd (over the maximum) or disagrees with the bytes received."""

    code = "FP103"
    counter = "bad_length"


class CrcMismatch(FrameError):
    """The CRC over header and payload does not match: the frame was corrupted in transit."""

    code = "FP104"
    counter = "crc_errors"


class OversizeFrame(FrameError):
    """More bytes arrived without a delimiter than the largest frame can have."""

    code = "FP105"
    counter = "oversize"


class MessageError(ProtocolError):
    """A frame is valid but its message is not (unknown type, payload not matching the catalog)."""

    code = "FP200"


class UnknownMessageType(MessageError):
    """The type id or name is not in this catalog (a newer or older peer, or a typo in JSON)."""

    code = "FP201"


class BadPayload(MessageError):
    """The payload does not parse as the catalog's definition of its message type.

    Example: a ``set_parameters`` payload two bytes short, or an enum value the catalog does not define.
    """

    code = "FP202"


class InvalidField(MessageError, ValueError):
    """A field given to the encoder is missing, unknown, of the wrong type, or does not fit its wire type.

    Example: ``{"type": "fire", "count": -1}``: count is an unsigned 32-bit integer.
    """

    code = "FP203"
