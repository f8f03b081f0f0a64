"""Firmware signing keys: the pinned public keys a host trusts, and development keys for tests.

Trusted keys are ed25519 public keys (PEM or 32 raw bytes) in files named by ``$MESOGUN_FIRMWARE_KEYS`` (paths
separated by ``os.pathsep``) or given explicitly (the CLI's repeatable ``--trusted-key PATH``, which replaces
the environment's). No key ships with mesogun: development keys are generated at test time
(:func:`generate_dev_key`) and never trusted in shipping (docs/firmware.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_protocol import mcuboot
from firmware_protocol.errors import InvalidKey
from mesogun.firmware.errors import FirmwareKeyError

KEYS_ENV = "MESOGUN_FIRMWARE_KEYS"


@dataclass(frozen=True)
class DevKey:
    """A development key pair written by :func:`generate_dev_key`."""

    private_path: Path
    """PKCS#8 PEM, unencrypted, mode 0600: what ``sign_image(key_path=...)`` and ``imgtool sign -k`` take."""
    public_path: Path
    """SubjectPublicKeyInfo PEM: what a host pins (``--trusted-key``) and ``imgtool verify -k`` takes."""
    public_pem: bytes
    key_sha256: bytes
    """SHA-256 of the public key (DER): the KEYHASH TLV of the images it signs."""


def generate_dev_key(path: str | os.PathLike[str]) -> DevKey:
    """Write a new ed25519 private key to ``path`` (0600) and its public key beside it (``<path>.pub.pem``).

    For tests and development only: such a key is made at test time, never committed, never trusted in shipping.
    """
    private_path = Path(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = private_path.with_name(private_path.name + ".pub.pem")
    public_path.write_bytes(public_pem)
    return DevKey(private_path, public_path, public_pem, mcuboot.key_hash(public_pem))


def read_public_key(path: str | os.PathLike[str]) -> bytes:
    """A trusted key file's bytes, checked to be an ed25519 *public* key; :class:`FirmwareKeyError` naming the path
    otherwise (a private key is refused: a host pins public keys only)."""
    where = Path(path)
    try:
        data = where.read_bytes()
    except OSError as error:
        raise FirmwareKeyError(
            f"trusted key {where} cannot be read: {error.strerror or error}", field="trusted_key", value=str(where)
        ) from None
    if b"PRIVATE KEY" in data:
        raise FirmwareKeyError(
            f"trusted key {where} is a private key; pin its public key instead (a host never holds signing keys)",
            field="trusted_key",
            value=str(where),
        )
    try:
        mcuboot.public_key(data)
    except InvalidKey as error:
        raise FirmwareKeyError(f"trusted key {where}: {error}", field="trusted_key", value=str(where)) from None
    return data


def trusted_key_paths(paths: Sequence[str | os.PathLike[str]] = (), env: Mapping[str, str] | None = None) -> list[Path]:
    """The trusted key files: ``paths`` if any are given, else those of ``$MESOGUN_FIRMWARE_KEYS``."""
    if paths:
        return [Path(p) for p in paths]
    value = (os.environ if env is None else env).get(KEYS_ENV, "")
    return [Path(part) for part in value.split(os.pathsep) if part.strip()]


def load_trusted_keys(
    paths: Sequence[str | os.PathLike[str]] = (), env: Mapping[str, str] | None = None
) -> tuple[bytes, ...]:
    """The pinned public keys (PEM bytes, for ``verify_image(trusted_keys=...)``) from ``paths`` or
    ``$MESOGUN_FIRMWARE_KEYS``; :class:`FirmwareKeyError` if none is configured or one cannot be used."""
    files = trusted_key_paths(paths, env)
    if not files:
        raise FirmwareKeyError(
            f"no trusted firmware keys: set ${KEYS_ENV} (key files separated by {os.pathsep!r}) "
            "or pass --trusted-key PATH",
            field="trusted_keys",
        )
    return tuple(read_public_key(path) for path in files)
