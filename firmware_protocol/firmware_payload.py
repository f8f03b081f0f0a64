"""The simulated firmware's payload: a JSON manifest, padded to any size, that the simulated gun "runs".

Form (compact JSON, UTF-8)::

    {"firmware_version":"1.2.3","self_test":"pass","padding":"3f1a…"}

``self_test`` is ``"pass"`` or ``"fail"``: a payload whose self-test fails boots but never confirms itself, so
MCUboot reverts it at the next reset. The padding is hex digits of a SHA-256 chain (no two chunks alike, so a
chunk sent twice or out of order changes the image hash). Pure: the host builds payloads, the simulator reads them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

SELF_TEST_RESULTS = ("pass", "fail")


@dataclass(frozen=True)
class PayloadManifest:
    """What a simulated firmware payload says about itself."""

    firmware_version: str
    self_test: str
    """``"pass"`` or ``"fail"``."""


def _padding(length: int) -> str:
    blocks = []
    count = 0
    while count * 64 < length:
        blocks.append(hashlib.sha256(count.to_bytes(4, "little")).hexdigest())
        count += 1
    return "".join(blocks)[:length]


def _encode(firmware_version: str, self_test: str, padding: str) -> bytes:
    body = {"firmware_version": firmware_version, "self_test": self_test, "padding": padding}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def build_payload(firmware_version: str, self_test: str = "pass", size: int | None = None) -> bytes:
    """The manifest as bytes, exactly ``size`` long (``None``: as short as it can be).

    :class:`ValueError` naming the value for a ``self_test`` other than pass/fail, or a ``size`` too small for
    the manifest itself.
    """
    if self_test not in SELF_TEST_RESULTS:
        raise ValueError(f"self_test={self_test!r} must be 'pass' or 'fail'")
    shortest = len(_encode(firmware_version, self_test, ""))
    if size is None:
        size = shortest
    if size < shortest:
        raise ValueError(f"size={size} bytes is too small: the manifest alone is {shortest} bytes")
    return _encode(firmware_version, self_test, _padding(size - shortest))


def read_manifest(payload: bytes) -> PayloadManifest | None:
    """The manifest a payload carries, ``None`` if it is no simulated-firmware manifest (a real binary)."""
    if not payload.startswith(b"{"):
        return None
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    version, self_test = body.get("firmware_version"), body.get("self_test")
    if not isinstance(version, str) or self_test not in SELF_TEST_RESULTS:
        return None
    return PayloadManifest(version, self_test)
