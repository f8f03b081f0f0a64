"""Firmware images on the host: signed with imgtool, verified before a byte is sent (docs/firmware.md).

:func:`sign_image` builds an MCUboot image through imgtool's Python API (ed25519 over the image hash, the key
hash TLV, the gun's model and hardware revision as protected custom TLVs 0xA0/0xA1). :func:`verify_image` applies
:func:`firmware_protocol.mcuboot.verify` (the checks the simulated bootloader makes too) plus the host's: the
version against the gun's, a downgrade only when allowed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_protocol import mcuboot
from firmware_protocol.errors import ImageError
from firmware_protocol.firmware_payload import PayloadManifest, build_payload, read_manifest
from mesogun.errors import ParameterError
from mesogun.firmware.errors import FirmwareImageError, FirmwareKeyError, ImageTooLarge, from_protocol


@dataclass(frozen=True)
class ImageInfo:
    """A verified image, as the transfer and the record see it."""

    version: str
    """``major.minor.revision[+build]`` from the header."""
    sha256: bytes
    """The MCUboot image hash (its SHA256 TLV): what SMP's image state lists and test/confirm name."""
    size: int
    """Bytes to upload (the whole file)."""
    model: str
    hardware_revision: str
    key_sha256: bytes
    """SHA-256 of the trusted public key that signed it."""
    manifest: PayloadManifest | None
    """The simulated firmware's manifest, ``None`` for a payload that is none (real firmware)."""
    file_sha256: bytes
    """SHA-256 of all :attr:`size` bytes: the ``sha`` of an SMP upload's first chunk."""
    downgrade: bool = False
    """True when the image is older than the gun's firmware and ``allow_downgrade`` let it through (record it)."""


def _signing_key(key_path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    where = Path(key_path)
    try:
        pem = where.read_bytes()
    except OSError as error:
        raise FirmwareKeyError(
            f"signing key {where} cannot be read: {error.strerror or error}", field="key_path", value=str(where)
        ) from None
    if b"PRIVATE KEY" not in pem:
        raise FirmwareKeyError(
            f"signing key {where} is no private key (PEM): signing needs the ed25519 private key",
            field="key_path",
            value=str(where),
        )
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise FirmwareKeyError(
            f"signing key {where} is password-protected; give an unencrypted key", field="key_path", value=str(where)
        ) from None
    except ValueError as error:
        raise FirmwareKeyError(f"signing key {where}: {error}", field="key_path", value=str(where)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise FirmwareKeyError(
            f"signing key {where} is a {type(key).__name__}, not ed25519", field="key_path", value=str(where)
        )
    return key


def _text_tlv(name: str, value: str) -> bytes:
    raw = value.encode("utf-8")
    if not value.strip() or len(raw) > 255:
        raise ParameterError(
            f"{name}={value!r} must be a non-empty text of at most 255 bytes (UTF-8)", field=name, value=value
        )
    return raw


def _imgtool_sign(
    payload: bytes,
    key: Ed25519PrivateKey,
    version: mcuboot.ImageVersion,
    tlvs: dict[int, bytes],
    slot_size: int,
    pad: bool,
) -> bytes:
    """imgtool's ``sign`` as its CLI runs it (``--header-size 32 --pad-header --custom-tlv …``), in process."""
    from imgtool import image as imgtool_image  # loaded only when an image is signed
    from imgtool import keys as imgtool_keys
    from imgtool.version import decode_version

    img = imgtool_image.Image(
        version=decode_version(str(version)),
        header_size=mcuboot.HEADER_SIZE,
        pad_header=True,
        pad=pad,
        slot_size=slot_size,
    )
    with tempfile.TemporaryDirectory(prefix="mesogun-sign-") as folder:
        source = Path(folder, "payload.bin")
        source.write_bytes(payload)
        img.load(str(source))
    with contextlib.redirect_stdout(io.StringIO()):  # imgtool prints "image.py: sign the digest"
        img.create(imgtool_keys.Ed25519(key), "hash", None, custom_tlvs=tlvs)
    if pad:
        img.pad_to(slot_size)
    return bytes(img.payload)


def sign_image(
    payload: bytes,
    *,
    key_path: str | os.PathLike[str],
    version: str,
    model: str,
    hardware_revision: str,
    slot_size: int,
    pad: bool = False,
) -> bytes:
    """An MCUboot image of ``payload`` signed with the ed25519 key at ``key_path`` (PKCS#8 PEM).

    ``version`` is ``major.minor.revision[+build]``; ``model`` and ``hardware_revision`` go in protected TLVs
    (0xA0, 0xA1) so the signature covers them. The image with MCUboot's trailer must fit ``slot_size``
    (:class:`~mesogun.firmware.errors.ImageTooLarge` naming both sizes otherwise); ``pad`` fills it to
    ``slot_size`` with the erased trailer, as ``imgtool sign --pad`` does (for flashing, not for an SMP upload).
    A payload that is a simulated-firmware manifest must carry the same version (:class:`ParameterError`).
    """
    try:
        parsed = mcuboot.ImageVersion.parse(version)
    except ValueError as error:
        raise ParameterError(str(error), field="version", value=version) from None
    manifest = read_manifest(payload)
    if manifest is not None and manifest.firmware_version != str(parsed):
        raise ParameterError(
            f"version={version!r} differs from the payload manifest's firmware_version "
            f"{manifest.firmware_version!r}: an image says one version",
            field="version",
            value=version,
        )
    if slot_size <= 0:
        raise ParameterError(f"slot_size={slot_size} bytes must be positive", field="slot_size", value=slot_size)
    tlvs = {
        int(mcuboot.TlvType.MODEL): _text_tlv("model", model),
        int(mcuboot.TlvType.HARDWARE_REVISION): _text_tlv("hardware_revision", hardware_revision),
    }
    key = _signing_key(key_path)
    import click  # imgtool's own refusals are click usage errors

    try:
        return _imgtool_sign(payload, key, parsed, tlvs, slot_size, pad)
    except click.UsageError as error:
        unchecked = _imgtool_sign(payload, key, parsed, tlvs, 0, False)
        try:
            mcuboot.check_slot(unchecked, mcuboot.parse(unchecked), slot_size)
        except ImageError as refusal:
            raise from_protocol(refusal) from None
        raise ImageTooLarge(f"imgtool refused the image: {error.message}", field="size", value=len(unchecked)) from None


def verify_image(
    data: bytes,
    *,
    trusted_keys: Sequence[bytes],
    model: str,
    hardware_revision: str,
    current_version: str | None,
    allow_downgrade: bool = False,
    slot_size: int | None = None,
) -> ImageInfo:
    """Check an image before a byte of it is sent to the gun, and describe it.

    Refuses, with the :class:`~mesogun.firmware.errors.FirmwareImageError` of the first check that fails: not an
    image, truncated, malformed, larger than ``slot_size``, tampered (hash), unsigned, signed by none of
    ``trusted_keys`` (PEM or raw 32-byte ed25519 public keys) or with a bad signature, built for another
    ``model`` or ``hardware_revision``, or older than ``current_version`` (the gun's) unless ``allow_downgrade``.
    """
    try:
        current = mcuboot.ImageVersion.parse(current_version) if current_version is not None else None
    except ValueError as error:
        raise ParameterError(
            f"the gun's firmware version: {error}", field="current_version", value=current_version
        ) from None
    try:
        verified = mcuboot.verify(
            data, trusted_keys=trusted_keys, model=model, hardware_revision=hardware_revision, slot_size=slot_size
        )
        mcuboot.check_version(verified.image.version, current, allow_downgrade=allow_downgrade)
    except ImageError as error:
        raise from_protocol(error) from None
    image = verified.image
    return ImageInfo(
        version=str(image.version),
        sha256=verified.sha256,
        size=len(data),
        model=model,
        hardware_revision=hardware_revision,
        key_sha256=verified.key_sha256,
        manifest=read_manifest(mcuboot.payload_of(data, image)),
        file_sha256=hashlib.sha256(data).digest(),
        downgrade=current is not None and image.version.release < current.release,
    )


def simulated_payload(firmware_version: str, self_test: str = "pass", size: int | None = None) -> bytes:
    """The payload of a simulated firmware (:mod:`firmware_protocol.firmware_payload`): its JSON manifest padded to
    ``size`` bytes (``None``: unpadded); ``self_test="fail"`` makes a firmware that never confirms itself."""
    try:
        mcuboot.ImageVersion.parse(firmware_version)
    except ValueError as error:
        raise ParameterError(str(error), field="firmware_version", value=firmware_version) from None
    try:
        return build_payload(firmware_version, self_test, size)
    except ValueError as error:
        field = "self_test" if "self_test" in str(error) else "size"
        raise ParameterError(str(error), field=field, value=self_test if field == "self_test" else size) from None


__all__ = ["FirmwareImageError", "ImageInfo", "sign_image", "simulated_payload", "verify_image"]
