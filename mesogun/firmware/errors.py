"""The errors of firmware images and their keys, codes ``MG850`` upward (docs/firmware.md).

Each is raised before a byte is sent to a gun, names the field and value that failed and what was expected, and
exits the CLI with 2 (bad input: the image or key given). The checks themselves are
:mod:`firmware_protocol.mcuboot`'s (shared with the simulated bootloader); :func:`from_protocol` gives each of its
:class:`~firmware_protocol.errors.ImageError` kinds its host class here.
"""

from __future__ import annotations

from firmware_protocol import errors as fp
from mesogun.errors import MesogunError


class FirmwareImageError(MesogunError, ValueError):
    """A firmware image was refused, or could not be made; nothing was sent to the gun."""

    code = "MG850"
    exit_code = 2

    def __init__(self, message: str, *, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class NotAnImage(FirmwareImageError):
    """The file is no MCUboot image (no header magic 0x96f3b83d): a raw binary or the wrong file."""

    code = "MG851"


class ImageTruncated(FirmwareImageError):
    """The image is shorter than its header and TLV areas declare (a copy or download cut short)."""

    code = "MG852"


class ImageMalformed(FirmwareImageError):
    """The image's header or TLV areas are inconsistent, it has no hash TLV, or it is encrypted."""

    code = "MG853"


class ImageTooLarge(FirmwareImageError):
    """The image with MCUboot's trailer does not fit the gun's slot (names both sizes)."""

    code = "MG854"


class ImageTampered(FirmwareImageError):
    """The image's bytes changed after signing: its SHA-256 is not the one it carries."""

    code = "MG855"


class ImageUnsigned(FirmwareImageError):
    """The image carries no ED25519 signature."""

    code = "MG856"


class UntrustedKey(FirmwareImageError):
    """The image is signed with a key that is not one of the pinned (trusted) public keys."""

    code = "MG857"


class BadSignature(FirmwareImageError):
    """The image names a trusted key but its signature does not verify."""

    code = "MG858"


class WrongModel(FirmwareImageError):
    """The image is built for another gun model (its protected model TLV 0xA0), or names none."""

    code = "MG859"


class WrongHardwareRevision(FirmwareImageError):
    """The image is built for another hardware revision (its protected TLV 0xA1), or names none."""

    code = "MG860"


class DowngradeRefused(FirmwareImageError):
    """The image is older than the gun's firmware and ``--allow-downgrade`` (``allow_downgrade=True``) was not given.

    Example: "image version 1.0.0 is older than the device's 1.2.0: a downgrade needs --allow-downgrade".
    """

    code = "MG861"


class FirmwareKeyError(FirmwareImageError):
    """A signing or trusted key cannot be used: missing or unreadable file, not ed25519, a private key given as a
    trusted one, password-protected, or no trusted key configured at all."""

    code = "MG862"


FIRMWARE_ERRORS: tuple[type[FirmwareImageError], ...] = (
    FirmwareImageError,
    NotAnImage,
    ImageTruncated,
    ImageMalformed,
    ImageTooLarge,
    ImageTampered,
    ImageUnsigned,
    UntrustedKey,
    BadSignature,
    WrongModel,
    WrongHardwareRevision,
    DowngradeRefused,
    FirmwareKeyError,
)
"""Every class here, for :func:`mesogun.errors.error_class_for_code`."""

_FROM_PROTOCOL: dict[type[fp.ImageError], type[FirmwareImageError]] = {
    fp.NotAnImage: NotAnImage,
    fp.TruncatedImage: ImageTruncated,
    fp.MalformedImage: ImageMalformed,
    fp.ImageTooLarge: ImageTooLarge,
    fp.ImageTampered: ImageTampered,
    fp.ImageUnsigned: ImageUnsigned,
    fp.UntrustedKey: UntrustedKey,
    fp.BadSignature: BadSignature,
    fp.WrongModel: WrongModel,
    fp.WrongHardwareRevision: WrongHardwareRevision,
    fp.ImageDowngrade: DowngradeRefused,
    fp.InvalidKey: FirmwareKeyError,
}


def from_protocol(error: fp.ImageError) -> FirmwareImageError:
    """The host's error for a :mod:`firmware_protocol.mcuboot` refusal: same message, field and value."""
    cls = _FROM_PROTOCOL.get(type(error), FirmwareImageError)
    return cls(str(error), field=error.field, value=error.value)
