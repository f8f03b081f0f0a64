"""Firmware update on the service (issue 17): a gun's image slots read; an image handed over (``POST
/firmware/images``, the raw bytes), then uploaded to a gun, tested, confirmed, rolled back, the gun reset.

Who: reading a technician; everything that changes the device a technician who re-authenticated within the last
minutes (``POST /auth/reauth``). The image is checked against the **service's** pinned keys
(``$MESOGUN_FIRMWARE_KEYS`` of the service process: a client cannot bring its own), the gun's model and hardware
revision and its running version, before a byte goes to the gun. Every attempt and its result is an entry of the
record's audit log (``firmware.upload`` …, :func:`mesogun.record.firmware.audit_firmware`: a downgrade with who
allowed it and why), and, like every POST, of the service's audit trail. One upload per gun at a time (409).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from mesogun.errors import MesogunError, ParameterError
from mesogun.firmware.keys import load_trusted_keys
from mesogun.firmware.smp_errors import UploadRunning
from mesogun.firmware.smp_link import GunSMPTransport, SMPTarget
from mesogun.firmware.transfer import (
    FirmwareInfo,
    FirmwareUpdater,
    UploadPolicy,
    UploadProgress,
    info_fields,
    result_fields,
)
from mesogun.record import TreatmentRecord
from mesogun.record.firmware import audit_firmware
from mesogun_service.api.bodies import Body
from mesogun_service.api.deps import Hosted, Record, actor_of, fresh_technician, technician
from mesogun_service.hosted import HostedGun

router = APIRouter(tags=["firmware"])

IMAGES_PATH = "/firmware/images"
MAX_IMAGE_BYTES = 8 * 1024 * 1024
"""The largest image the service takes (its body limit on :data:`IMAGES_PATH`)."""
MAX_HELD_IMAGES = 8
"""Images the service holds for upload at once (the oldest is dropped first)."""
RECONNECT_WAIT_S = 30.0
"""How long an upload waits for the service to reconnect a gun that went away (a reset mid-upload) to resume."""


class UploadBody(Body):
    image: str = Field(min_length=64, max_length=64, description="The image's SHA-256 (hex) from POST /firmware/images")
    allow_downgrade: bool = Field(default=False, description="Let an image older than the running one through")
    reason: str = Field(default="", max_length=1000, description="Why (in the audit log; say why for a downgrade)")


class TestBody(Body):
    image_hash: str | None = Field(default=None, max_length=64, description="Default: the secondary slot's image")
    reset: bool = Field(default=False, description="Reset the gun afterwards (the swap happens at the reset)")
    reason: str = Field(default="", max_length=1000)


class ReasonBody(Body):
    reason: str = Field(default="", max_length=1000)


@dataclass
class _GunFirmware:
    """One gun's firmware work on the service: its updater, whether an upload runs, its latest progress."""

    updater: FirmwareUpdater
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    progress: UploadProgress | None = None


@dataclass
class _State:
    images: dict[str, bytes] = field(default_factory=dict)
    guns: dict[str, _GunFirmware] = field(default_factory=dict)


class _HostedChannel:
    """The hosted gun's family channel, taken afresh at each request (the service reconnects the gun)."""

    def __init__(self, hosted: HostedGun) -> None:
        self._hosted = hosted

    async def family_command(self, family: str, name: str, **fields: Any) -> Any:
        return await self._hosted.gun.family_command(family, name, **fields)


def _state(request: Request) -> _State:
    state: _State | None = getattr(request.app.state, "firmware", None)
    if state is None:
        state = request.app.state.firmware = _State()
    return state


async def _firmware(request: Request, hosted: HostedGun) -> _GunFirmware:
    """The gun's updater, opened on first use (it reads the device's MCUmgr parameters)."""
    guns = _state(request).guns
    found = guns.get(hosted.url)
    if found is None:

        async def back() -> None:
            await asyncio.wait_for(hosted.connected.wait(), RECONNECT_WAIT_S)

        async def rejoin() -> None:  # after a reset: a new session, so the service holds the new identity
            await hosted.gun.reconnect(force=True)

        channel = GunSMPTransport(_HostedChannel(hosted))
        target = SMPTarget(channel, "", f"gun {hosted.serial}", reconnect=back, rejoin=rejoin)
        updater = FirmwareUpdater(target)
        await updater.open()
        found = guns[hosted.url] = _GunFirmware(updater)
    return found


def progress_fields(progress: UploadProgress | None) -> dict[str, Any]:
    """An upload's progress (``{}``: none running)."""
    return {} if progress is None else asdict(progress)


def _trusted_keys() -> tuple[bytes, ...]:
    """The service's pinned keys (``$MESOGUN_FIRMWARE_KEYS`` of the service process)."""
    return load_trusted_keys()


async def _audit(
    record: Record, hosted: HostedGun, operation: str, actor: str, new: dict[str, Any], reason: str = ""
) -> None:
    serial = hosted.serial or hosted.url

    def write(r: TreatmentRecord) -> None:
        audit_firmware(r, serial, operation, actor=actor, new=new, reason=reason)

    await record.call(write)


def _failure(error: MesogunError) -> dict[str, Any]:
    return {"outcome": "refused" if error.exit_code in (2, 3) else "failed", "error": error.code, "message": str(error)}


# -------------------------------------------------------------------------------------------------- routes


@router.post(IMAGES_PATH, dependencies=[Depends(fresh_technician)])
async def hand_over(request: Request) -> dict[str, Any]:
    """Hand an image over (the raw bytes as the body, up to 8 MiB): the service holds it for ``upload`` by its
    SHA-256 (checked when uploaded, against the gun it goes to)."""
    data = await request.body()
    if not data:
        raise ParameterError("the body holds no image", field="image", value=0)
    images = _state(request).images
    digest = hashlib.sha256(data).hexdigest()
    images.pop(digest, None)
    images[digest] = data
    while len(images) > MAX_HELD_IMAGES:
        images.pop(next(iter(images)))
    return {"image": digest, "size": len(data)}


@router.get("/guns/{serial}/firmware", dependencies=[Depends(technician)])
async def read_slots(request: Request, hosted: Hosted) -> dict[str, Any]:
    """The gun's image slots (version, hash, flags: active, confirmed, pending) and its MCUmgr buffer."""
    return info_fields(await (await _firmware(request, hosted)).updater.info())


@router.get("/guns/{serial}/firmware/progress", dependencies=[Depends(technician)])
async def upload_progress(request: Request, hosted: Hosted) -> dict[str, Any]:
    """The running upload's progress (bytes done and total, rate, ETA); ``{}`` when none runs."""
    found = _state(request).guns.get(hosted.url)
    return progress_fields(found.progress if found is not None and found.lock.locked() else None)


@router.post("/guns/{serial}/firmware/upload", dependencies=[Depends(fresh_technician)])
async def upload(request: Request, hosted: Hosted, record: Record, body: UploadBody) -> dict[str, Any]:
    """Upload a handed-over image to the gun's secondary slot: verified first (422 naming what is wrong, nothing
    sent), refused by the gun while armed or firing (409 with its reason), resumed from the gun's offset if the
    connection goes; returns once the gun holds it. A second upload to the gun while one runs: 409."""
    data = _state(request).images.get(body.image.lower())
    if data is None:
        raise ParameterError(
            f"image={body.image}: the service holds no such image (POST {IMAGES_PATH} first)", field="image"
        )
    actor = actor_of(request).name
    gun = await _firmware(request, hosted)
    info = hosted.gun.info
    attempt = {
        "outcome": "started",
        "file_sha256": body.image,
        "size": len(data),
        "allow_downgrade": body.allow_downgrade,
    }
    await _audit(record, hosted, "upload", actor, attempt, body.reason)
    try:
        if gun.lock.locked():
            raise UploadRunning(f"an upload to gun {hosted.serial} is already running", command="image upload")
        async with gun.lock:
            policy = UploadPolicy(_trusted_keys(), info.model, info.hardware_revision, body.allow_downgrade)

            def report(progress: UploadProgress) -> None:
                gun.progress = progress

            result = await gun.updater.upload(data, policy, progress=report)
    except MesogunError as error:
        await _audit(record, hosted, "upload", actor, _failure(error), body.reason)
        raise
    fields = result_fields(result)
    await _audit(record, hosted, "upload", actor, {"outcome": "done", **fields}, body.reason)
    return fields


async def _operation(
    request: Request, hosted: HostedGun, record: Record, operation: str, reason: str, work: Any
) -> dict[str, Any]:
    actor = actor_of(request).name
    gun = await _firmware(request, hosted)
    await _audit(record, hosted, operation, actor, {"outcome": "started"}, reason)
    try:
        info: FirmwareInfo = await work(gun.updater)
    except MesogunError as error:
        await _audit(record, hosted, operation, actor, _failure(error), reason)
        raise
    fields = info_fields(info)
    await _audit(record, hosted, operation, actor, {"outcome": "done", "running_version": info.running_version}, reason)
    return fields


@router.post("/guns/{serial}/firmware/test", dependencies=[Depends(fresh_technician)])
async def test_image(request: Request, hosted: Hosted, record: Record, body: TestBody) -> dict[str, Any]:
    """Mark an image for test (default: the secondary slot's); ``reset``: reset the gun to swap it in."""

    async def work(updater: FirmwareUpdater) -> FirmwareInfo:
        info = await updater.test(body.image_hash)
        return await updater.reset() if body.reset else info

    return await _operation(request, hosted, record, "test", body.reason, work)


@router.post("/guns/{serial}/firmware/confirm", dependencies=[Depends(fresh_technician)])
async def confirm_image(request: Request, hosted: Hosted, record: Record, body: ReasonBody) -> dict[str, Any]:
    """Confirm the running image (MCUboot keeps it)."""
    return await _operation(request, hosted, record, "confirm", body.reason, lambda u: u.confirm())


@router.post("/guns/{serial}/firmware/rollback", dependencies=[Depends(fresh_technician)])
async def rollback_image(request: Request, hosted: Hosted, record: Record, body: ReasonBody) -> dict[str, Any]:
    """Go back to the previous image (a reset; a confirmed image's predecessor marked for test first)."""
    return await _operation(request, hosted, record, "rollback", body.reason, lambda u: u.rollback())


@router.post("/guns/{serial}/firmware/reset", dependencies=[Depends(fresh_technician)])
async def reset_gun(request: Request, hosted: Hosted, record: Record, body: ReasonBody) -> dict[str, Any]:
    """Reset the gun (MCUboot swaps a tested image in, or reverts an unconfirmed one)."""
    return await _operation(request, hosted, record, "reset", body.reason, lambda u: u.reset())
