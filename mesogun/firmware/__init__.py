"""Firmware update on the host (docs/firmware.md): MCUboot images signed and verified before a byte is sent.

Importing this package does not load imgtool (only :func:`sign_image` does).
"""

from mesogun.firmware.errors import FirmwareImageError, FirmwareKeyError
from mesogun.firmware.image import ImageInfo, sign_image, simulated_payload, verify_image
from mesogun.firmware.keys import DevKey, generate_dev_key, load_trusted_keys

__all__ = [
    "DevKey",
    "FirmwareImageError",
    "FirmwareKeyError",
    "ImageInfo",
    "generate_dev_key",
    "load_trusted_keys",
    "sign_image",
    "simulated_payload",
    "verify_image",
]
