"""Firmware images for the simulated gun, as a technician makes them: a development key generated at test time,
the simulated firmware's payload (:func:`mesogun.firmware.simulated_payload`) signed into an MCUboot image
(:func:`mesogun.firmware.sign_image`), and the ``sim://`` options of a gun that pins the key."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mesogun.firmware import DevKey, generate_dev_key, sign_image, simulated_payload
from mesogun.firmware.transfer import UploadPolicy
from sims.config import SIM_FIRMWARE_VERSION, DeviceConfig

MODEL = DeviceConfig().model
REVISION = DeviceConfig().hardware_revision
FACTORY_VERSION = SIM_FIRMWARE_VERSION
"""What a new simulated gun runs (its factory image)."""
SLOT_SIZE = DeviceConfig().firmware_slot_size
SIZE = 16_000
"""Tests' images are small: a 16 kB payload is 18 upload chunks."""


@dataclass(frozen=True)
class Signer:
    """A development key pair in ``folder``, and the images it signs (each signed once, then remembered)."""

    key: DevKey
    folder: Path
    _images: dict[tuple[Any, ...], bytes] = field(default_factory=dict, compare=False, repr=False)

    def image(
        self,
        version: str,
        *,
        size: int = SIZE,
        self_test: str = "pass",
        model: str = MODEL,
        revision: str = REVISION,
        slot_size: int = SLOT_SIZE,
    ) -> bytes:
        """The simulated firmware ``version`` (``self_test`` ``"fail"``: it never confirms itself), signed."""
        key = (version, size, self_test, model, revision, slot_size)
        if key not in self._images:
            self._images[key] = sign_image(
                simulated_payload(version, self_test, size),
                key_path=self.key.private_path,
                version=version,
                model=model,
                hardware_revision=revision,
                slot_size=slot_size,
            )
        return self._images[key]

    def file(self, version: str, **options: Any) -> Path:
        """:meth:`image` written to a file of its own (what the CLI is given)."""
        path = self.folder / f"app-{version}-{abs(hash(tuple(sorted(options.items()))))}.bin"
        path.write_bytes(self.image(version, **options))
        return path

    def query(self, **options: object) -> str:
        """A ``sim://`` query of a quiet gun that pins this key and left the factory with an image of
        :data:`FACTORY_VERSION` signed by it (so a rollback to it boots), and ``options``."""
        factory = self.folder / "factory.bin"
        if not factory.exists():
            factory.write_bytes(self.image(FACTORY_VERSION))
        fields = {"firmware_key": str(self.key.public_path), "factory_image": str(factory), "status_period_ms": 0}
        return urlencode({**fields, **options})

    @property
    def policy(self) -> UploadPolicy:
        """What the host checks an image for the simulated gun against: this key, its model and revision."""
        return UploadPolicy(trusted_keys=(self.key.public_pem,), model=MODEL, hardware_revision=REVISION)


@functools.cache
def _signer(folder: Path) -> Signer:
    return Signer(generate_dev_key(folder / "dev.pem"), folder)


def make_signer(folder: Path) -> Signer:
    """A signer with a fresh development key in ``folder`` (one per folder)."""
    return _signer(folder)
