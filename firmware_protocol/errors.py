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


class ImageError(ProtocolError, ValueError):
    """An MCUboot firmware image fails a check of :mod:`firmware_protocol.mcuboot` (the host's and the device's).

    ``field`` names what was wrong (``model``, ``version``, ``img_size``…) and ``value`` the value found; the
    message names both and what was expected. Nothing is installed or sent on this error.
    """

    code = "FP300"

    def __init__(self, message: str, *, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class NotAnImage(ImageError):
    """The bytes do not start with MCUboot's header magic 0x96f3b83d (a raw binary, a hex file, a wrong file)."""

    code = "FP301"


class TruncatedImage(ImageError):
    """The image is shorter than its header and TLV areas declare (a download or copy cut short).

    Example: "the image is 40000 bytes; its header and TLV areas declare 65840 bytes".
    """

    code = "FP302"


class MalformedImage(ImageError):
    """The header or a TLV area is inconsistent (bad TLV magic, a TLV running past its area, no hash TLV), or the
    image uses a feature this verifier refuses (encryption)."""

    code = "FP303"


class ImageTooLarge(ImageError):
    """The image with MCUboot's trailer does not fit the slot it is meant for.

    Example: "the image is 70144 bytes, with MCUboot's 432-byte trailer 70576 bytes; the slot holds 65536 bytes".
    """

    code = "FP304"


class ImageTampered(ImageError):
    """The SHA-256 over header, payload and protected TLVs is not the one the image carries: bytes changed."""

    code = "FP305"


class ImageUnsigned(ImageError):
    """The image carries no ED25519 signature TLV (unsigned, or signed with another algorithm)."""

    code = "FP306"


class UntrustedKey(ImageError):
    """The image was signed with a key that is none of the trusted (pinned) public keys."""

    code = "FP307"


class BadSignature(ImageError):
    """The image names a trusted key but its ED25519 signature does not verify over the image hash."""

    code = "FP308"


class WrongModel(ImageError):
    """The image's protected model TLV (0xA0) is missing or names another model than the gun's."""

    code = "FP309"


class WrongHardwareRevision(ImageError):
    """The image's protected hardware-revision TLV (0xA1) is missing or names another revision than the gun's."""

    code = "FP310"


class ImageDowngrade(ImageError):
    """The image's version is older than the running firmware's and a downgrade was not explicitly allowed.

    Example: "image version 1.0.0 is older than the device's 1.2.0: a downgrade needs --allow-downgrade".
    """

    code = "FP311"


class InvalidKey(ImageError):
    """A trusted key is neither a PEM/DER ed25519 public key nor 32 raw bytes."""

    code = "FP312"
