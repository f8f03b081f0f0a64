"""firmware_protocol.mcuboot reads and verifies MCUboot images as bootutil does: images signed by imgtool's own API
(the independent signer) and images built here byte by byte with struct and cryptography (what exactly is hashed
and signed), each refusal with its error code and a message naming the field and value."""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from imgtool import image as imgtool_image
from imgtool import keys as imgtool_keys
from imgtool.version import decode_version

from firmware_protocol import mcuboot
from firmware_protocol.errors import (
    BadSignature,
    ImageDowngrade,
    ImageError,
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
from firmware_protocol.mcuboot import ImageVersion, TlvType

MODEL = "MG-1 (simulated)"
REVISION = "SIM-A"
PAYLOAD = bytes(range(256)) * 12


def _spki(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _imgtool_image(
    key: Ed25519PrivateKey | None,
    *,
    version: str = "1.2.3",
    payload: bytes = PAYLOAD,
    custom: dict[int, bytes] | None = None,
    pad_to: int = 0,
) -> bytes:
    """An image made by imgtool's API as `imgtool sign --header-size 32 --pad-header --custom-tlv …` makes it."""
    img = imgtool_image.Image(version=decode_version(version), header_size=32, pad_header=True, slot_size=pad_to)
    img.payload = bytes(32) + payload
    img.image_size = len(payload)
    tlvs = {0xA0: MODEL.encode(), 0xA1: REVISION.encode()} if custom is None else custom
    with contextlib.redirect_stdout(io.StringIO()):
        img.create(imgtool_keys.Ed25519(key) if key else None, "hash", None, custom_tlvs=tlvs or None)
    if pad_to:
        img.pad_to(pad_to)
    return bytes(img.payload)


def _hand_built(
    key: Ed25519PrivateKey,
    *,
    payload: bytes = PAYLOAD,
    protected: list[tuple[int, bytes]] | None = None,
    unprotected_extra: list[tuple[int, bytes]] | None = None,
) -> bytes:
    """An image laid out from bootutil's structs with struct.pack: hash over header+payload+protected area, the
    ed25519 signature over that 32-byte hash, KEYHASH = SHA-256 of the DER SubjectPublicKeyInfo."""
    prot_items = protected if protected is not None else [(0xA0, MODEL.encode()), (0xA1, REVISION.encode())]
    prot_body = b"".join(struct.pack("<HH", t, len(v)) + v for t, v in prot_items)
    prot = struct.pack("<HH", 0x6908, 4 + len(prot_body)) + prot_body if prot_items else b""
    header = struct.pack("<IIHHIIBBHII", 0x96F3B83D, 0, 32, len(prot), len(payload), 0, 1, 2, 3, 0, 0)
    digest = hashlib.sha256(header + payload + prot).digest()
    items = [(0x10, digest), (0x01, hashlib.sha256(_spki(key)).digest()), (0x24, key.sign(digest))]
    items += unprotected_extra or []
    body = b"".join(struct.pack("<HH", t, len(v)) + v for t, v in items)
    return header + payload + prot + struct.pack("<HH", 0x6907, 4 + len(body)) + body


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def signed(key: Ed25519PrivateKey) -> bytes:
    return _imgtool_image(key)


def _refused(cls: type[ImageError], data: bytes, **checks: object) -> ImageError:
    with pytest.raises(cls) as caught:
        mcuboot.verify(data, **checks)  # type: ignore[arg-type]
    return caught.value


def test_an_imgtool_image_parses_to_its_header_and_tlvs(signed: bytes) -> None:
    image = mcuboot.parse(signed)
    assert (image.header_size, image.image_size, image.version) == (32, len(PAYLOAD), ImageVersion(1, 2, 3))
    assert image.protected(TlvType.MODEL) == MODEL.encode()
    assert image.protected(TlvType.HARDWARE_REVISION) == REVISION.encode()
    assert image.hashed_size == 32 + len(PAYLOAD) + image.protected_tlv_size
    assert image.end == len(signed)
    assert mcuboot.payload_of(signed, image) == PAYLOAD
    assert [t.type for t in image.tlvs if not t.protected] == [TlvType.SHA256, TlvType.KEYHASH, TlvType.ED25519]


def test_the_construct_header_is_imgtools_struct(signed: bytes) -> None:
    ours = mcuboot.IMAGE_HEADER.parse(signed[:32])
    theirs = struct.unpack("<IIHHIIBBHII", signed[:32])
    assert mcuboot.IMAGE_HEADER.sizeof() == 32
    assert (ours.magic, ours.hdr_size, ours.protect_tlv_size, ours.img_size) == (
        theirs[0],
        theirs[2],
        theirs[3],
        theirs[4],
    )
    assert mcuboot.IMAGE_HEADER.build(ours) == signed[:32]


def test_verify_accepts_an_imgtool_image_and_names_its_hash_and_signer(key: Ed25519PrivateKey, signed: bytes) -> None:
    verified = mcuboot.verify(signed, trusted_keys=[_pem(key)], model=MODEL, hardware_revision=REVISION)
    image = mcuboot.parse(signed)
    assert verified.sha256 == hashlib.sha256(signed[: image.hashed_size]).digest()
    assert verified.sha256 == image.unprotected(TlvType.SHA256)[0]
    assert verified.key_sha256 == hashlib.sha256(_spki(key)).digest()
    assert (verified.model, verified.hardware_revision) == (MODEL, REVISION)


def test_what_is_signed_is_the_hash_over_header_payload_and_protected_tlvs(key: Ed25519PrivateKey) -> None:
    hand = _hand_built(key)
    assert mcuboot.verify(hand, trusted_keys=[_pem(key)], model=MODEL).model == MODEL
    # imgtool lays out the same bytes: the same header, TLVs and (ed25519 being deterministic) signature
    assert _imgtool_image(key) == hand


@pytest.mark.parametrize("form", ["pem", "der", "raw", "object"])
def test_a_trusted_key_may_be_pem_der_raw_or_a_key_object(key: Ed25519PrivateKey, signed: bytes, form: str) -> None:
    public = key.public_key()
    forms: dict[str, bytes | Ed25519PublicKey] = {
        "pem": _pem(key),
        "der": _spki(key),
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "object": public,
    }
    trusted = forms[form]
    assert mcuboot.verify(signed, trusted_keys=[trusted]).key_sha256 == mcuboot.key_hash(public)


def test_any_one_of_several_trusted_keys_will_do(key: Ed25519PrivateKey, signed: bytes) -> None:
    others = [_pem(Ed25519PrivateKey.generate()) for _ in range(2)]
    assert mcuboot.verify(signed, trusted_keys=[*others, _pem(key)]).key_sha256 == mcuboot.key_hash(_pem(key))


def test_a_key_that_is_not_ed25519_is_refused(signed: bytes) -> None:
    error = _refused(InvalidKey, signed, trusted_keys=[b"not a key at all, 33 bytes long.."])
    assert error.code == "FP312" and error.field == "trusted_key"


@pytest.mark.parametrize(
    ("where", "offset"),
    [("payload", 32 + 100), ("header version", 20), ("model TLV", 32 + len(PAYLOAD) + 8), ("load address", 4)],
)
def test_a_changed_byte_anywhere_hashed_is_tampering(
    key: Ed25519PrivateKey, signed: bytes, where: str, offset: int
) -> None:
    data = bytearray(signed)
    data[offset] ^= 0x01
    error = _refused(ImageTampered, bytes(data), trusted_keys=[_pem(key)])
    assert error.code == "FP305" and error.field == "sha256"
    assert "changed after signing" in str(error)


def test_a_changed_signature_is_a_bad_signature(key: Ed25519PrivateKey, signed: bytes) -> None:
    data = bytearray(signed)
    data[-1] ^= 0x80
    error = _refused(BadSignature, bytes(data), trusted_keys=[_pem(key)])
    assert error.code == "FP308" and "does not verify" in str(error)


def test_an_image_signed_by_another_key_names_that_key(signed: bytes) -> None:
    other = Ed25519PrivateKey.generate()
    error = _refused(UntrustedKey, signed, trusted_keys=[_pem(other)])
    signer = mcuboot.parse(signed).unprotected(TlvType.KEYHASH)[0].hex()
    assert error.code == "FP307" and error.value == signer
    assert signer[:16] in str(error) and "none of the 1 trusted key(s)" in str(error)


def test_no_trusted_key_accepts_nothing(signed: bytes) -> None:
    assert "no trusted firmware keys" in str(_refused(UntrustedKey, signed, trusted_keys=[]))


def test_an_unsigned_image_is_refused(key: Ed25519PrivateKey) -> None:
    unsigned = _imgtool_image(None)
    assert [t.type for t in mcuboot.parse(unsigned).tlvs if not t.protected] == [TlvType.SHA256]
    error = _refused(ImageUnsigned, unsigned, trusted_keys=[_pem(key)])
    assert error.code == "FP306" and "not signed" in str(error)


@pytest.mark.parametrize("cut", [0.5, 0.999, "protected", "tlvs", "signature"])
def test_a_truncated_image_is_refused_with_both_sizes(key: Ed25519PrivateKey, signed: bytes, cut: float | str) -> None:
    image = mcuboot.parse(signed)
    size = (
        {
            "protected": 32 + len(PAYLOAD) + 6,
            "tlvs": image.hashed_size + 2,
            "signature": len(signed) - 10,
        }.get(cut)
        if isinstance(cut, str)
        else int(len(signed) * cut)
    )
    assert isinstance(size, int)
    error = _refused(TruncatedImage, signed[:size], trusted_keys=[_pem(key)])
    assert error.code == "FP302" and error.value == size
    assert f"the image is {size} bytes" in str(error) and "truncated" in str(error)


def test_a_header_cut_short_is_truncated_and_anything_else_is_no_image(signed: bytes) -> None:
    assert "shorter than MCUboot's 32-byte header" in str(_refused(TruncatedImage, signed[:20], trusted_keys=[]))
    error = _refused(NotAnImage, b"\x7fELF" + bytes(60), trusted_keys=[])
    assert error.code == "FP301" and "0x464c457f" in str(error) and "0x96f3b83d" in str(error)
    assert "0 bytes" in str(_refused(NotAnImage, b"", trusted_keys=[]))


def test_a_broken_tlv_area_is_malformed(key: Ed25519PrivateKey, signed: bytes) -> None:
    image = mcuboot.parse(signed)
    data = bytearray(signed)
    data[image.hashed_size : image.hashed_size + 2] = b"\x00\x00"
    error = _refused(MalformedImage, bytes(data), trusted_keys=[_pem(key)])
    assert error.code == "FP303" and "not its magic 0x6907" in str(error)
    encrypted = bytearray(signed)
    encrypted[16] |= 0x04
    assert "encrypted" in str(_refused(MalformedImage, bytes(encrypted), trusted_keys=[_pem(key)]))


def test_the_trailer_reserved_is_imgtools_default() -> None:
    img = imgtool_image.Image(version=decode_version("1.0.0"))
    assert img._trailer_size(1, 128, False, None, False, 0) == mcuboot.TRAILER_SIZE


def test_an_image_larger_than_the_slot_is_refused_naming_both_sizes(key: Ed25519PrivateKey, signed: bytes) -> None:
    fits = len(signed) + mcuboot.TRAILER_SIZE
    assert mcuboot.verify(signed, trusted_keys=[_pem(key)], slot_size=fits).image.end == len(signed)
    error = _refused(ImageTooLarge, signed, trusted_keys=[_pem(key)], slot_size=fits - 1)
    assert error.code == "FP304" and error.value == fits
    assert f"the image is {len(signed)} bytes" in str(error) and f"the slot holds {fits - 1} bytes" in str(error)


def test_a_padded_image_verifies_and_counts_its_padding_against_the_slot(key: Ed25519PrivateKey) -> None:
    padded = _imgtool_image(key, pad_to=8192)
    assert len(padded) == 8192
    verified = mcuboot.verify(padded, trusted_keys=[_pem(key)], slot_size=8192)
    assert verified.image.end < 8192
    assert "(8192 bytes given)" in str(_refused(ImageTooLarge, padded, trusted_keys=[_pem(key)], slot_size=8191))


def test_an_image_for_another_model_or_revision_is_refused_naming_both(key: Ed25519PrivateKey, signed: bytes) -> None:
    trusted = [_pem(key)]
    model = _refused(WrongModel, signed, trusted_keys=trusted, model="MG-2")
    assert model.code == "FP309" and model.field == "model" and model.value == MODEL
    assert str(model) == "the image is built for model 'MG-1 (simulated)'; this gun is a 'MG-2'"
    revision = _refused(WrongHardwareRevision, signed, trusted_keys=trusted, model=MODEL, hardware_revision="B")
    assert revision.code == "FP310" and "revision 'SIM-A'" in str(revision) and "revision 'B'" in str(revision)


def test_a_model_outside_the_protected_area_does_not_count(key: Ed25519PrivateKey) -> None:
    unprotected_model = _hand_built(key, protected=[], unprotected_extra=[(0xA0, MODEL.encode())])
    assert mcuboot.verify(unprotected_model, trusted_keys=[_pem(key)]).model is None
    error = _refused(WrongModel, unprotected_model, trusted_keys=[_pem(key)], model=MODEL)
    assert "no protected TLV 0xa0" in str(error)


@pytest.mark.parametrize(
    ("text", "version"),
    [("1.2.3", ImageVersion(1, 2, 3)), ("0.1.0", ImageVersion(0, 1, 0)), ("1.2.3+45", ImageVersion(1, 2, 3, 45))],
)
def test_versions_read_and_print_as_mcuboot_writes_them(text: str, version: ImageVersion) -> None:
    assert ImageVersion.parse(text) == version and str(version) == text


@pytest.mark.parametrize("text", ["1.2", "v1.2.3", "1.2.3-rc1", "01.2.3", "256.0.0", "1.2.65536", ""])
def test_a_version_mcuboot_cannot_hold_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("+", r"\+").replace(".", r"\.")):
        ImageVersion.parse(text)


def test_a_downgrade_is_refused_unless_allowed() -> None:
    old, current = ImageVersion(1, 0, 0), ImageVersion(1, 2, 0)
    with pytest.raises(ImageDowngrade) as caught:
        mcuboot.check_version(old, current)
    assert (
        str(caught.value) == "image version 1.0.0 is older than the device's 1.2.0: a downgrade needs --allow-downgrade"
    )
    assert (caught.value.code, caught.value.field, caught.value.value) == ("FP311", "version", "1.0.0")
    mcuboot.check_version(old, current, allow_downgrade=True)
    mcuboot.check_version(current, current)  # reinstalling the same version is no downgrade
    mcuboot.check_version(ImageVersion(1, 2, 0, 1), ImageVersion(1, 2, 0, 9))  # builds are not compared
    mcuboot.check_version(old, None)
