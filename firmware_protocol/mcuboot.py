"""MCUboot images: the header and TLV layout, parsed and verified as MCUboot's bootutil does (pure, no I/O).

Layout of a signed image (all little-endian)::

    header (hdr_size bytes, 32 used) | payload (img_size bytes)
    | protected TLV area:   info (0x6908, size) | TLV… (custom 0xA0 model, 0xA1 hardware revision)
    | unprotected TLV area: info (0x6907, size) | SHA256 (0x10) | KEYHASH (0x01) | ED25519 (0x24)
    [| padding and MCUboot's trailer, when signed with --pad]

The image hash is SHA-256 over header, payload and the protected TLV area (so the signature covers model and
hardware revision); the ED25519 signature is over that 32-byte hash (imgtool's default, non-"pure" ed25519), and
KEYHASH is SHA-256 of the signer's public key as DER SubjectPublicKeyInfo. Both the host
(:mod:`mesogun.firmware.image`) and the simulated bootloader verify with :func:`verify`.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import construct as cs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from firmware_protocol.errors import (
    BadSignature,
    ImageDowngrade,
    ImageTampered,
    ImageTooLarge,
    ImageUnsigned,
    InvalidKey,
    MalformedImage,
    NotAnImage,
    TruncatedImage,
    UntrustedKey,
    WrongHardwareRevision,
    WrongModel,
)

IMAGE_MAGIC = 0x96F3B83D
HEADER_SIZE = 32
"""The header's own size; ``hdr_size`` may be larger (zero padding before the payload)."""
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
TRAILER_SIZE = 432
"""MCUboot's swap trailer as imgtool reserves it by default (128 sectors × 3 status bytes at write size 1, four
8-byte flags, 16-byte magic): an image must leave this much of its slot free."""

ENCRYPTED_FLAGS = 0x0000_000C
"""IMAGE_F_ENCRYPTED_AES128 | IMAGE_F_ENCRYPTED_AES256: this verifier cannot hash an encrypted payload."""


class TlvType(enum.IntEnum):
    """The TLV tags this package reads or writes (MCUboot's, and ours in the vendor range 0xA0–0xFFFE)."""

    KEYHASH = 0x01
    PUBKEY = 0x02
    SHA256 = 0x10
    ED25519 = 0x24
    SEC_CNT = 0x50
    MODEL = 0xA0
    """Protected, UTF-8: the gun model the image is built for (``MG-1``)."""
    HARDWARE_REVISION = 0xA1
    """Protected, UTF-8: the hardware revision the image is built for (``SIM-A``)."""


IMAGE_VERSION = cs.Struct(
    "major" / cs.Int8ul,
    "minor" / cs.Int8ul,
    "revision" / cs.Int16ul,
    "build" / cs.Int32ul,
)
IMAGE_HEADER = cs.Struct(
    "magic" / cs.Int32ul,
    "load_addr" / cs.Int32ul,
    "hdr_size" / cs.Int16ul,
    "protect_tlv_size" / cs.Int16ul,
    "img_size" / cs.Int32ul,
    "flags" / cs.Int32ul,
    "version" / IMAGE_VERSION,
    "pad1" / cs.Int32ul,
)
"""struct image_header (bootutil/image.h): 32 bytes."""
TLV_INFO = cs.Struct("magic" / cs.Int16ul, "tlv_tot" / cs.Int16ul)
"""struct image_tlv_info: the head of a TLV area; ``tlv_tot`` counts this head too."""
TLV_HEAD = cs.Struct("type" / cs.Int16ul, "len" / cs.Int16ul)
"""struct image_tlv: each TLV's head, followed by ``len`` bytes of value."""
TLV_INFO_SIZE = TLV_INFO.sizeof()
TLV_HEAD_SIZE = TLV_HEAD.sizeof()

_VERSION_TEXT = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\+(0|[1-9]\d*))?")
_VERSION_LIMITS = (0xFF, 0xFF, 0xFFFF, 0xFFFF_FFFF)


@dataclass(frozen=True, order=True)
class ImageVersion:
    """MCUboot's version ``major.minor.revision+build`` (u8.u8.u16+u32); ``str()`` omits a zero build."""

    major: int
    minor: int
    revision: int
    build: int = 0

    @classmethod
    def parse(cls, text: str) -> ImageVersion:
        """``"1.2.3"`` or ``"1.2.3+4"``; :class:`ValueError` naming the text otherwise."""
        match = _VERSION_TEXT.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"version {text!r} is not major.minor.revision[+build] (e.g. 1.2.3 or 1.2.3+4)")
        parts = tuple(int(group or 0) for group in match.groups())
        for name, part, limit in zip(("major", "minor", "revision", "build"), parts, _VERSION_LIMITS, strict=True):
            if part > limit:
                raise ValueError(f"version {text!r}: {name} {part} is over MCUboot's limit {limit}")
        return cls(*parts)

    @property
    def release(self) -> tuple[int, int, int]:
        """What MCUboot's downgrade prevention compares by default: the build number is not part of it."""
        return (self.major, self.minor, self.revision)

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.revision}"
        return f"{base}+{self.build}" if self.build else base


@dataclass(frozen=True)
class Tlv:
    """One TLV entry: its tag, value, offset of its head in the image, and whether it is hashed (protected)."""

    type: int
    value: bytes
    offset: int
    protected: bool


@dataclass(frozen=True)
class Image:
    """A parsed (not yet verified) MCUboot image."""

    load_addr: int
    header_size: int
    protected_tlv_size: int
    image_size: int
    flags: int
    version: ImageVersion
    tlvs: tuple[Tlv, ...]
    hashed_size: int
    """Header + payload + protected TLV area: the bytes the image hash covers."""
    end: int
    """Offset just past the unprotected TLV area; bytes after it (padding, trailer) are not part of the image."""

    def protected(self, tlv_type: int) -> bytes | None:
        """The first protected TLV of this tag, ``None`` if the image has none (unprotected ones never count)."""
        return next((t.value for t in self.tlvs if t.protected and t.type == tlv_type), None)

    def unprotected(self, tlv_type: int) -> list[bytes]:
        """Every unprotected TLV of this tag, in order."""
        return [t.value for t in self.tlvs if not t.protected and t.type == tlv_type]


@dataclass(frozen=True)
class VerifiedImage:
    """An image that passed :func:`verify`: its parse, its hash and who signed it."""

    image: Image
    sha256: bytes
    """The image hash (the SHA256 TLV): what MCUboot and SMP's image state name the image by."""
    key_sha256: bytes
    """SHA-256 of the trusted public key whose signature verified (DER SubjectPublicKeyInfo)."""
    model: str | None
    hardware_revision: str | None


def parse(data: bytes) -> Image:
    """Read the header and both TLV areas of ``data``; :class:`NotAnImage`, :class:`TruncatedImage` or
    :class:`MalformedImage` naming the field if the layout does not hold. Checks no hash or signature."""
    size = len(data)
    if size < 4 or cs.Int32ul.parse(data[:4]) != IMAGE_MAGIC:
        found = f"0x{cs.Int32ul.parse(data[:4]):08x}" if size >= 4 else f"{size} bytes"
        raise NotAnImage(
            f"not an MCUboot image: it starts with {found}, not the magic 0x{IMAGE_MAGIC:08x}",
            field="magic",
            value=found,
        )
    if size < HEADER_SIZE:
        raise TruncatedImage(
            f"the image is {size} bytes, shorter than MCUboot's {HEADER_SIZE}-byte header", field="size", value=size
        )
    header = IMAGE_HEADER.parse(data[:HEADER_SIZE])
    if header.hdr_size < HEADER_SIZE:
        raise MalformedImage(
            f"the header declares hdr_size {header.hdr_size}, less than its own {HEADER_SIZE} bytes",
            field="hdr_size",
            value=header.hdr_size,
        )
    if header.flags & ENCRYPTED_FLAGS:
        raise MalformedImage(
            f"the image is encrypted (flags 0x{header.flags:08x}); encrypted images are not supported",
            field="flags",
            value=header.flags,
        )
    tlvs: list[Tlv] = []
    offset = header.hdr_size + header.img_size
    if header.protect_tlv_size:
        offset = _read_area(data, offset, TLV_PROT_INFO_MAGIC, header.protect_tlv_size, tlvs)
    hashed_size = offset
    end = _read_area(data, offset, TLV_INFO_MAGIC, None, tlvs)
    return Image(
        load_addr=header.load_addr,
        header_size=header.hdr_size,
        protected_tlv_size=header.protect_tlv_size,
        image_size=header.img_size,
        flags=header.flags,
        version=ImageVersion(**{k: header.version[k] for k in ("major", "minor", "revision", "build")}),
        tlvs=tuple(tlvs),
        hashed_size=hashed_size,
        end=end,
    )


def _read_area(data: bytes, start: int, magic: int, declared: int | None, into: list[Tlv]) -> int:
    """Append the TLVs of the area at ``start`` to ``into``; the offset just past the area."""
    protected = magic == TLV_PROT_INFO_MAGIC
    area = "protected TLV area" if protected else "TLV area"
    _need(data, start + TLV_INFO_SIZE, f"its {area}")
    info = TLV_INFO.parse(data[start : start + TLV_INFO_SIZE])
    if info.magic != magic:
        raise MalformedImage(
            f"the {area} at offset {start} starts with 0x{info.magic:04x}, not its magic 0x{magic:04x}",
            field="tlv_info.magic",
            value=info.magic,
        )
    if declared is not None and info.tlv_tot != declared:
        raise MalformedImage(
            f"the protected TLV area is {info.tlv_tot} bytes; the header's protect_tlv_size says {declared}",
            field="protect_tlv_size",
            value=declared,
        )
    if info.tlv_tot < TLV_INFO_SIZE:
        raise MalformedImage(f"the {area} declares {info.tlv_tot} bytes", field="tlv_info.tlv_tot", value=info.tlv_tot)
    end = start + int(info.tlv_tot)
    _need(data, end, f"its {area}")
    offset = start + TLV_INFO_SIZE
    while offset < end:
        if offset + TLV_HEAD_SIZE > end:
            raise MalformedImage(f"a TLV head at offset {offset} runs past the {area}", field="tlv", value=offset)
        head = TLV_HEAD.parse(data[offset : offset + TLV_HEAD_SIZE])
        value_end = offset + TLV_HEAD_SIZE + head.len
        if value_end > end:
            raise MalformedImage(
                f"TLV 0x{head.type:02x} at offset {offset} ({head.len} bytes) runs past the {area}",
                field="tlv",
                value=head.type,
            )
        into.append(Tlv(head.type, bytes(data[offset + TLV_HEAD_SIZE : value_end]), offset, protected))
        offset = value_end
    return end


def _need(data: bytes, size: int, what: str) -> None:
    if len(data) < size:
        raise TruncatedImage(
            f"the image is {len(data)} bytes; its header and {what} declare at least {size} bytes (truncated)",
            field="size",
            value=len(data),
        )


def public_key(key: bytes | Ed25519PublicKey) -> Ed25519PublicKey:
    """A trusted key from PEM, DER (SubjectPublicKeyInfo) or 32 raw bytes; :class:`InvalidKey` otherwise."""
    if isinstance(key, Ed25519PublicKey):
        return key
    try:
        if len(key) == 32:
            return Ed25519PublicKey.from_public_bytes(key)
        loaded = (
            serialization.load_pem_public_key(key) if b"-----BEGIN" in key else serialization.load_der_public_key(key)
        )
    except (ValueError, TypeError) as error:
        raise InvalidKey(f"a trusted key is not an ed25519 public key: {error}", field="trusted_key") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise InvalidKey(f"a trusted key is a {type(loaded).__name__}, not an ed25519 public key", field="trusted_key")
    return loaded


def key_hash(key: bytes | Ed25519PublicKey) -> bytes:
    """KEYHASH as imgtool writes it: SHA-256 of the public key as DER SubjectPublicKeyInfo."""
    der = public_key(key).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def image_hash(data: bytes, image: Image) -> bytes:
    """SHA-256 over header, payload and protected TLV area, as MCUboot computes the image hash."""
    return hashlib.sha256(memoryview(data)[: image.hashed_size]).digest()


def payload_of(data: bytes, image: Image) -> bytes:
    """The payload bytes of a parsed image (what the firmware is; the simulated one's JSON manifest)."""
    return bytes(data[image.header_size : image.header_size + image.image_size])


def check_slot(data: bytes, image: Image, slot_size: int, *, trailer_size: int = TRAILER_SIZE) -> None:
    """:class:`ImageTooLarge` unless the image and MCUboot's trailer fit the slot (and the bytes given do too)."""
    needed = image.end + trailer_size
    if needed > slot_size or len(data) > slot_size:
        raise ImageTooLarge(
            f"the image is {image.end} bytes, with MCUboot's {trailer_size}-byte trailer {needed} bytes"
            f"{f' ({len(data)} bytes given)' if len(data) != image.end else ''}; the slot holds {slot_size} bytes",
            field="size",
            value=max(needed, len(data)),
        )


def verify(
    data: bytes,
    *,
    trusted_keys: Sequence[bytes | Ed25519PublicKey],
    model: str | None = None,
    hardware_revision: str | None = None,
    slot_size: int | None = None,
    trailer_size: int = TRAILER_SIZE,
) -> VerifiedImage:
    """Check ``data`` as MCUboot would before booting it, plus what it is meant for.

    In order: layout (:func:`parse`), size against the slot, hash, an ED25519 signature by one of
    ``trusted_keys``, then the protected model and hardware revision (when given). Raises the
    :class:`~firmware_protocol.errors.ImageError` of the first check that fails.
    """
    image = parse(data)
    if slot_size is not None:
        check_slot(data, image, slot_size, trailer_size=trailer_size)
    digest = _check_hash(data, image)
    signer = _check_signature(image, digest, trusted_keys)
    found_model = _text_tlv(image, TlvType.MODEL, "model")
    found_revision = _text_tlv(image, TlvType.HARDWARE_REVISION, "hardware_revision")
    if model is not None and found_model != model:
        raise WrongModel(
            f"the image is built for model {_named(found_model, TlvType.MODEL)}; this gun is a {model!r}",
            field="model",
            value=found_model,
        )
    if hardware_revision is not None and found_revision != hardware_revision:
        raise WrongHardwareRevision(
            f"the image is built for hardware revision {_named(found_revision, TlvType.HARDWARE_REVISION)}; "
            f"this gun is revision {hardware_revision!r}",
            field="hardware_revision",
            value=found_revision,
        )
    return VerifiedImage(image, digest, signer, found_model, found_revision)


def check_version(image: ImageVersion, current: ImageVersion | None, *, allow_downgrade: bool = False) -> None:
    """:class:`ImageDowngrade` if ``image`` is older than ``current`` (major.minor.revision, as MCUboot compares)
    and a downgrade was not allowed; the same version again is no downgrade."""
    if current is None or allow_downgrade or image.release >= current.release:
        return
    raise ImageDowngrade(
        f"image version {image} is older than the device's {current}: a downgrade needs --allow-downgrade",
        field="version",
        value=str(image),
    )


def _check_hash(data: bytes, image: Image) -> bytes:
    hashes = image.unprotected(TlvType.SHA256)
    if not hashes:
        raise MalformedImage("the image carries no SHA256 TLV (0x10)", field="tlv", value=int(TlvType.SHA256))
    digest = image_hash(data, image)
    for carried in hashes:
        if carried != digest:
            raise ImageTampered(
                f"the image hash is {digest.hex()}, but the image says {carried.hex()}: "
                "its header, payload or protected TLVs were changed after signing",
                field="sha256",
                value=carried.hex(),
            )
    return digest


def _check_signature(image: Image, digest: bytes, trusted_keys: Sequence[bytes | Ed25519PublicKey]) -> bytes:
    """The key hash of the trusted key whose signature verifies, walking the TLVs as bootutil does: a KEYHASH (or
    PUBKEY) TLV selects the key that the signature TLVs after it are checked with."""
    if not trusted_keys:
        raise UntrustedKey("no trusted firmware keys were given: no image can be accepted", field="trusted_keys")
    keys = {key_hash(key): public_key(key) for key in trusted_keys}
    named: list[bytes] = []
    selected: bytes | None = None
    signatures = 0
    for tlv in image.tlvs:
        if tlv.protected:
            continue
        if tlv.type == TlvType.KEYHASH:
            selected = tlv.value
            named.append(tlv.value)
        elif tlv.type == TlvType.PUBKEY:
            try:
                selected = key_hash(tlv.value)
            except InvalidKey:
                selected = hashlib.sha256(tlv.value).digest()
            named.append(selected)
        elif tlv.type == TlvType.ED25519:
            signatures += 1
            key = keys.get(selected) if selected is not None else None
            if key is None or len(tlv.value) != 64:
                continue
            try:
                key.verify(tlv.value, digest)
            except InvalidSignature:
                continue
            assert selected is not None
            return selected
    if not signatures:
        raise ImageUnsigned("the image is not signed: it carries no ED25519 signature TLV (0x24)", field="signature")
    if not any(name in keys for name in named):
        found = ", ".join(name.hex()[:16] for name in named) or "no key hash"
        raise UntrustedKey(
            f"the image is signed with key {found}, which is none of the {len(keys)} trusted key(s) "
            f"({', '.join(name.hex()[:16] for name in keys)})",
            field="key_sha256",
            value=named[0].hex() if named else None,
        )
    raise BadSignature(
        "the image names a trusted key but its ED25519 signature does not verify over the image hash",
        field="signature",
    )


def _text_tlv(image: Image, tlv_type: TlvType, field: str) -> str | None:
    raw = image.protected(tlv_type)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedImage(
            f"the protected {field} TLV (0x{tlv_type:02x}) is not UTF-8: {raw!r}", field=field, value=raw
        ) from None


def _named(value: str | None, tlv_type: TlvType) -> str:
    return repr(value) if value is not None else f"(none: no protected TLV 0x{tlv_type:02x})"
