"""Firmware updates in the record's audit log: every attempt and its result (``firmware.upload``, ``firmware.test``,
``firmware.confirm``, ``firmware.rollback``, ``firmware.reset``), keyed by the device's serial number; the image
(version, hashes, size), a downgrade and who allowed it, the outcome or the error. The firmware lives on the device,
so these entries are the record's only trace of it (no table of its own; the cross-check does not read them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesogun.errors import ParameterError
from mesogun.record.audit import append_audit
from mesogun.record.store import TreatmentRecord

__all__ = ["FIRMWARE_ACTIONS", "audit_firmware"]

FIRMWARE_ACTIONS = frozenset({"upload", "test", "confirm", "rollback", "reset"})


def audit_firmware(
    record: TreatmentRecord,
    device_serial: str,
    operation: str,
    *,
    actor: str,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Enter one firmware operation on ``device_serial`` (an attempt: ``new["outcome"]`` ``started``; a result:
    ``done``, ``refused`` or ``failed`` with its ``error``) in the audit log, in a transaction of its own."""
    if operation not in FIRMWARE_ACTIONS:
        raise ParameterError(
            f"operation={operation!r} is not a firmware operation ({', '.join(sorted(FIRMWARE_ACTIONS))})",
            field="operation",
            value=operation,
        )
    with record.transaction() as db:
        append_audit(
            db,
            actor=actor[:128],
            action=f"firmware.{operation}",
            entity="device_firmware",
            entity_id=device_serial[:128],
            reason=reason,
            old=old,
            new=new,
        )
