"""A device's SMP error replies as the host's errors: a refusal names the operation, SMP's ``rc`` and the device's
reason (``rsn``), e.g. "device refused image upload (SMP EBUSY): the gun is armed"."""

from __future__ import annotations

from typing import Any

from smp.error import MGMT_ERR
from smp.image_management import IMG_MGMT_ERR

from firmware_protocol import NakCode
from mesogun.errors import DeviceRefused, MesogunError, StateError

__all__ = ["SMP_ERRORS", "SMPRefused", "UploadFailed", "UploadRunning", "refusal"]

_NAK_OF_RC = {
    MGMT_ERR.EBUSY: NakCode.BUSY,
    MGMT_ERR.EBADSTATE: NakCode.WRONG_STATE,
    MGMT_ERR.EINVAL: NakCode.OUT_OF_RANGE,
    MGMT_ERR.ENOTSUP: NakCode.UNKNOWN_TYPE,
}


class SMPRefused(DeviceRefused):
    """The device's SMP server refused an operation: ``rc`` (SMP's ``MGMT_ERR`` or image group error name) and
    the device's ``reason``; nothing of that operation was carried out."""

    code = "MG310"

    def __init__(self, operation: str, rc: str, reason: str = "", *, nak_code: NakCode = NakCode.WRONG_STATE) -> None:
        reason = reason.removeprefix(f"{operation} refused: ")  # the device's reason may name the operation again
        MesogunError.__init__(self, f"device refused {operation} (SMP {rc})" + (f": {reason}" if reason else ""))
        self.command = operation
        self.nak_code = nak_code
        self.detail = reason
        self.rc = rc


class UploadFailed(DeviceRefused):
    """An upload the device took to its end but did not accept: its hash of what it received differs from the
    image's (a chunk corrupted on the way), so the image is not marked for test."""

    code = "MG311"

    def __init__(self, message: str) -> None:
        MesogunError.__init__(self, message)
        self.command = "image upload"
        self.nak_code = NakCode.BAD_PAYLOAD
        self.detail = message


class UploadRunning(StateError):
    """This host already uploads to that device: a second upload waits for the first to end."""

    code = "MG220"


SMP_ERRORS: tuple[type[MesogunError], ...] = (SMPRefused, UploadFailed, UploadRunning)
"""The transfer's errors, for :func:`mesogun.errors.error_class_for_code` (a service reply's code → its class)."""


def refusal(operation: str, response: Any) -> SMPRefused:
    """An :class:`SMPRefused` from an SMP error response (``ErrorV1``: ``rc`` and ``rsn``; ``ErrorV2``: the group's
    ``err``; a success response carrying a non-zero ``rc``, as an image upload may)."""
    err = getattr(response, "err", None)
    if err is not None:  # ErrorV2: a group's own rc (no reason string in SMP v2)
        rc = err.rc
        name = rc.name if isinstance(rc, IMG_MGMT_ERR | MGMT_ERR) else str(rc)
        return SMPRefused(operation, name, "", nak_code=NakCode.WRONG_STATE)
    rc = getattr(response, "rc", None)
    reason = str(getattr(response, "rsn", None) or "")
    try:
        code = MGMT_ERR(int(rc)) if rc is not None else MGMT_ERR.EUNKNOWN
    except ValueError:
        return SMPRefused(operation, f"rc {rc}", reason)
    return SMPRefused(operation, code.name, reason, nak_code=_NAK_OF_RC.get(code, NakCode.WRONG_STATE))
