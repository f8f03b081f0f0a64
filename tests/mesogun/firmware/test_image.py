"""The host signs MCUboot images with imgtool and refuses a bad one before a byte is sent: each refusal has its code
and a message naming the field and value. `imgtool verify` (the field's tool, run as a process) accepts what we
sign, and rejects what we reject. Keys are generated at test time (tmp_path), never committed."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_protocol import mcuboot
from mesogun.errors import MesogunError, ParameterError, error_class_for_code, error_from_reply
from mesogun.firmware import (
    DevKey,
    FirmwareImageError,
    FirmwareKeyError,
    ImageInfo,
    generate_dev_key,
    load_trusted_keys,
    sign_image,
    simulated_payload,
    verify_image,
)
from mesogun.firmware import errors as fw
from mesogun.firmware.keys import KEYS_ENV

ROOT = Path(__file__).resolve().parents[3]
IMGTOOL = [sys.executable, "-c", "from imgtool.main import imgtool; imgtool()"]
MODEL = "MG-1 (simulated)"
REVISION = "SIM-A"
SLOT = 64 * 1024


@pytest.fixture
def dev_key(tmp_path: Path) -> DevKey:
    return generate_dev_key(tmp_path / "dev-key.pem")


def _sign(key: DevKey, version: str = "1.2.3", payload: bytes | None = None, **overrides: object) -> bytes:
    options: dict[str, object] = {
        "key_path": key.private_path,
        "version": version,
        "model": MODEL,
        "hardware_revision": REVISION,
        "slot_size": SLOT,
    }
    options.update(overrides)
    body = payload if payload is not None else simulated_payload(version, size=8000)
    return sign_image(body, **options)  # type: ignore[arg-type]


def _verify(data: bytes, key: DevKey, **overrides: object) -> ImageInfo:
    options: dict[str, object] = {
        "trusted_keys": [key.public_pem],
        "model": MODEL,
        "hardware_revision": REVISION,
        "current_version": "1.0.0",
        "slot_size": SLOT,
    }
    options.update(overrides)
    return verify_image(data, **options)  # type: ignore[arg-type]


def _imgtool_verify(image: bytes, public_key: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    path = folder / f"image-{hashlib.sha256(image).hexdigest()[:12]}.bin"
    path.write_bytes(image)
    return subprocess.run([*IMGTOOL, "verify", "-k", str(public_key), str(path)], capture_output=True, text=True)


def test_a_signed_image_verifies_and_describes_itself(dev_key: DevKey) -> None:
    image = _sign(dev_key)
    info = _verify(image, dev_key)
    assert (info.version, info.model, info.hardware_revision, info.size) == ("1.2.3", MODEL, REVISION, len(image))
    assert info.key_sha256 == dev_key.key_sha256
    assert info.sha256 == mcuboot.parse(image).unprotected(mcuboot.TlvType.SHA256)[0]
    assert info.file_sha256 == hashlib.sha256(image).digest()
    assert info.manifest is not None and (info.manifest.firmware_version, info.manifest.self_test) == ("1.2.3", "pass")
    assert not info.downgrade


def test_a_real_binary_payload_has_no_manifest(dev_key: DevKey) -> None:
    info = _verify(_sign(dev_key, payload=os.urandom(3000)), dev_key)
    assert info.manifest is None and info.version == "1.2.3"


@pytest.mark.realio
def test_imgtool_verify_accepts_what_we_sign_padded_or_not(dev_key: DevKey, tmp_path: Path) -> None:
    for image in (_sign(dev_key), _sign(dev_key, "2.0.0+7", pad=True)):
        result = _imgtool_verify(image, dev_key.public_path, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Image was correctly validated" in result.stdout
        assert f"Image digest: {_verify(image, dev_key).sha256.hex()}" in result.stdout
    assert len(_sign(dev_key, pad=True)) == SLOT


@pytest.mark.realio
def test_we_accept_what_the_imgtool_cli_signs(dev_key: DevKey, tmp_path: Path) -> None:
    source, signed = tmp_path / "app.bin", tmp_path / "app.signed.bin"
    source.write_bytes(simulated_payload("1.4.0", size=5000))
    command = [*IMGTOOL, "sign", "-k", str(dev_key.private_path), "--header-size", "32", "--pad-header"]
    command += [
        "--slot-size",
        str(SLOT),
        "-v",
        "1.4.0",
        "--custom-tlv",
        "0xa0",
        MODEL,
        "--custom-tlv",
        "0xa1",
        REVISION,
    ]
    subprocess.run([*command, str(source), str(signed)], check=True, capture_output=True)
    info = _verify(signed.read_bytes(), dev_key)
    assert (info.version, info.model, info.key_sha256) == ("1.4.0", MODEL, dev_key.key_sha256)


def _flip(offset: Callable[[bytes], int]) -> Callable[[bytes], bytes]:
    def mutate(image: bytes) -> bytes:
        data = bytearray(image)
        data[offset(image)] ^= 0x01
        return bytes(data)

    return mutate


TAMPERINGS: dict[str, tuple[Callable[[bytes], bytes], type[FirmwareImageError]]] = {
    "payload byte": (_flip(lambda image: 32 + 500), fw.ImageTampered),
    "version in the header": (_flip(lambda image: 21), fw.ImageTampered),
    "hardware revision TLV": (_flip(lambda image: mcuboot.parse(image).hashed_size - 3), fw.ImageTampered),
    "signature": (_flip(lambda image: len(image) - 5), fw.BadSignature),
    "truncated": (lambda image: image[: len(image) // 2], fw.ImageTruncated),
    "not an image": (lambda image: b"\x00" * 4 + image[4:], fw.NotAnImage),
}


@pytest.mark.realio
@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_we_and_imgtool_both_reject_a_tampered_image(dev_key: DevKey, tmp_path: Path, tampering: str) -> None:
    mutate, refusal = TAMPERINGS[tampering]
    bad = mutate(_sign(dev_key))
    with pytest.raises(refusal):
        _verify(bad, dev_key)
    result = _imgtool_verify(bad, dev_key.public_path, tmp_path)
    assert result.returncode != 0
    assert "correctly validated" not in result.stdout


@pytest.mark.realio
def test_we_and_imgtool_both_reject_another_signers_image(dev_key: DevKey, tmp_path: Path) -> None:
    stranger = generate_dev_key(tmp_path / "stranger.pem")
    image = _sign(stranger)
    with pytest.raises(fw.UntrustedKey) as caught:
        _verify(image, dev_key)
    assert caught.value.value == stranger.key_sha256.hex()
    assert _imgtool_verify(image, dev_key.public_path, tmp_path).returncode != 0


def _refusal(cls: type[FirmwareImageError], code: str, data: bytes, key: DevKey, **overrides: object) -> str:
    with pytest.raises(cls) as caught:
        _verify(data, key, **overrides)
    assert (caught.value.code, caught.value.exit_code) == (code, 2)
    return str(caught.value)


def test_a_downgrade_is_refused_naming_both_versions_and_the_flag(dev_key: DevKey) -> None:
    old = _sign(dev_key, "1.0.0")
    message = _refusal(fw.DowngradeRefused, "MG861", old, dev_key, current_version="1.2.0")
    assert message == "image version 1.0.0 is older than the device's 1.2.0: a downgrade needs --allow-downgrade"
    allowed = _verify(old, dev_key, current_version="1.2.0", allow_downgrade=True)
    assert allowed.downgrade and allowed.version == "1.0.0"
    assert not _verify(old, dev_key, current_version=None).downgrade


def test_an_image_for_another_model_or_revision_is_refused(dev_key: DevKey) -> None:
    image = _sign(dev_key)
    message = _refusal(fw.WrongModel, "MG859", image, dev_key, model="MG-2")
    assert message == "the image is built for model 'MG-1 (simulated)'; this gun is a 'MG-2'"
    message = _refusal(fw.WrongHardwareRevision, "MG860", image, dev_key, hardware_revision="SIM-B")
    assert "'SIM-A'" in message and "'SIM-B'" in message


def test_unsigned_wrong_key_truncated_and_oversize_images_are_refused(dev_key: DevKey, tmp_path: Path) -> None:
    image = _sign(dev_key)
    parsed = mcuboot.parse(image)
    hash_only = (
        image[: parsed.hashed_size] + b"\x07\x69\x28\x00" + image[parsed.hashed_size + 4 : parsed.hashed_size + 40]
    )
    assert "not signed" in _refusal(fw.ImageUnsigned, "MG856", hash_only, dev_key)
    other = generate_dev_key(tmp_path / "other.pem")
    assert "none of the 1 trusted key(s)" in _refusal(fw.UntrustedKey, "MG857", image, other)
    assert f"the image is {len(image) - 1} bytes" in _refusal(fw.ImageTruncated, "MG852", image[:-1], dev_key)
    message = _refusal(fw.ImageTooLarge, "MG854", image, dev_key, slot_size=4096)
    assert f"the image is {len(image)} bytes" in message and "the slot holds 4096 bytes" in message


def test_a_gun_version_that_is_no_version_is_a_parameter_error(dev_key: DevKey) -> None:
    with pytest.raises(ParameterError) as caught:
        _verify(_sign(dev_key), dev_key, current_version="banana")
    assert caught.value.field == "current_version" and "'banana'" in str(caught.value)


def test_signing_refuses_a_payload_too_large_for_the_slot_naming_both_sizes(dev_key: DevKey) -> None:
    with pytest.raises(fw.ImageTooLarge) as caught:
        _sign(dev_key, payload=simulated_payload("1.2.3", size=SLOT))
    assert caught.value.code == "MG854"
    assert f"the slot holds {SLOT} bytes" in str(caught.value) and "432-byte trailer" in str(caught.value)


def test_signing_refuses_a_bad_version_or_one_the_manifest_contradicts(dev_key: DevKey) -> None:
    with pytest.raises(ParameterError) as caught:
        _sign(dev_key, version="1.2", payload=b"binary")
    assert caught.value.field == "version" and "'1.2'" in str(caught.value)
    with pytest.raises(ParameterError) as caught:
        _sign(dev_key, version="1.2.4", payload=simulated_payload("1.2.3"))
    assert "'1.2.4' differs from the payload manifest's firmware_version '1.2.3'" in str(caught.value)
    with pytest.raises(ParameterError) as caught:
        _sign(dev_key, model="")
    assert caught.value.field == "model"


def test_signing_refuses_keys_it_cannot_sign_with(dev_key: DevKey, tmp_path: Path) -> None:
    with pytest.raises(FirmwareKeyError, match="cannot be read"):
        _sign(dev_key, key_path=tmp_path / "missing.pem")
    with pytest.raises(FirmwareKeyError, match="no private key") as caught:
        _sign(dev_key, key_path=dev_key.public_path)
    assert (caught.value.code, caught.value.field) == ("MG862", "key_path")


def test_dev_keys_are_written_private_and_paired(dev_key: DevKey) -> None:
    assert dev_key.private_path.stat().st_mode & 0o777 == 0o600
    assert dev_key.public_path.read_bytes() == dev_key.public_pem
    assert dev_key.key_sha256 == mcuboot.key_hash(dev_key.public_pem)


def test_trusted_keys_come_from_the_environment_or_explicit_paths(dev_key: DevKey, tmp_path: Path) -> None:
    other = generate_dev_key(tmp_path / "other.pem")
    env = {KEYS_ENV: os.pathsep.join([str(dev_key.public_path), str(other.public_path)])}
    assert load_trusted_keys(env=env) == (dev_key.public_pem, other.public_pem)
    assert load_trusted_keys([other.public_path], env=env) == (other.public_pem,)  # explicit paths replace the env
    with pytest.raises(FirmwareKeyError, match=f"set \\${KEYS_ENV}"):
        load_trusted_keys(env={})


def test_a_trusted_key_file_must_be_a_readable_ed25519_public_key(dev_key: DevKey, tmp_path: Path) -> None:
    with pytest.raises(FirmwareKeyError, match="is a private key; pin its public key") as caught:
        load_trusted_keys([dev_key.private_path])
    assert caught.value.value == str(dev_key.private_path)
    with pytest.raises(FirmwareKeyError, match="cannot be read"):
        load_trusted_keys([tmp_path / "nowhere.pem"])
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"hello")
    with pytest.raises(FirmwareKeyError, match="not an ed25519 public key"):
        load_trusted_keys([junk])


def test_the_codes_are_known_to_the_host_and_a_service_reply_maps_back() -> None:
    codes = [cls.code for cls in fw.FIRMWARE_ERRORS]
    assert len(set(codes)) == len(codes) and all(code.startswith("MG85") or code.startswith("MG86") for code in codes)
    assert all(issubclass(cls, MesogunError) and cls.exit_code == 2 for cls in fw.FIRMWARE_ERRORS)
    assert error_class_for_code("MG861") is fw.DowngradeRefused
    error = error_from_reply("MG859", "the image is built for model 'X'; this gun is a 'Y'", field="model", value="X")
    assert isinstance(error, fw.WrongModel) and error.field == "model" and error.exit_code == 2


def test_simulated_payload_refuses_what_it_cannot_build() -> None:
    with pytest.raises(ParameterError) as caught:
        simulated_payload("1.0.0", size=5)
    assert caught.value.field == "size" and caught.value.value == 5
    with pytest.raises(ParameterError) as caught:
        simulated_payload("1.0.0", self_test="unknown")
    assert caught.value.field == "self_test"
    with pytest.raises(ParameterError) as caught:
        simulated_payload("one")
    assert caught.value.field == "firmware_version"


def test_no_key_material_is_committed() -> None:
    """Development keys are made at test time: no key file, and no PEM key block, is in the repository."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pem_block = re.compile(rb"-----BEGIN [A-Z0-9 ]*(PRIVATE|PUBLIC) KEY-----")
    keyish = [p for p in tracked if p.endswith((".pem", ".key", ".der", ".pub"))]
    with_keys = [p for p in tracked if (ROOT / p).is_file() and pem_block.search((ROOT / p).read_bytes())]
    assert keyish == [] and with_keys == []


@pytest.mark.realio
def test_importing_the_firmware_package_does_not_load_imgtool() -> None:
    code = "import sys, mesogun.firmware; print('imgtool' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"
