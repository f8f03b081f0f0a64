"""Firmware update over SMP: what the device holds, an image uploaded (verified first, resumed after a lost
connection), then tested, confirmed, rolled back, the device reset.

:class:`FirmwareUpdater` drives **smpclient's** ``SMPClient`` over an :class:`~mesogun.firmware.smp_link.SMPTarget`
(a connected gun's firmware_update family, or a standard SMP serial endpoint). An upload:

1. reads the device's image states and checks the image against the pinned keys, this model and hardware revision
   and the running version (:func:`mesogun.firmware.image.verify_image`): a bad image is refused before a byte is
   sent;
2. lets smpclient send it in chunks as large as the device's MCUmgr ``buf_size`` allows (and one of our messages
   carries), reporting :class:`UploadProgress` (bytes done and total, rate, ETA) after each;
3. after a lost connection (a cable, a host that crashed and runs again) reconnects and starts again at offset 0
   with the same image: the device, which keeps the upload in progress by its SHA-256, answers with the offset it
   reached, and smpclient goes on from there. A device that reset mid-upload lost it (it answers the next chunk
   with offset 0): the upload begins again with a first chunk carrying the SHA-256, so its final hash is checked.

The device refuses what its state forbids (an upload while armed or firing, a second upload of another image while
one runs: SMP ``EBUSY`` with its reason), raised as :class:`~mesogun.firmware.smp_errors.SMPRefused`; this host
refuses a second upload to a device it is already uploading to (:class:`~mesogun.firmware.smp_errors.UploadRunning`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Protocol, Self, cast

from smpclient import SMPClient
from smpclient.exceptions import SMPClientException, SMPUploadError
from smpclient.generics import error, success
from smpclient.requests.image_management import ImageStatesRead, ImageStatesWrite, ImageUploadWrite
from smpclient.requests.os_management import EchoWrite, MCUMgrParametersRead, ResetWrite
from smpclient.transport import SMPTransportDisconnected

from mesogun.errors import LinkError, ParameterError, StateError
from mesogun.firmware import image
from mesogun.firmware.smp_errors import SMPRefused, UploadFailed, UploadRunning, refusal
from mesogun.firmware.smp_link import SMPTarget

__all__ = [
    "FirmwareInfo",
    "FirmwareUpdater",
    "ImageCheck",
    "SlotState",
    "UploadPolicy",
    "UploadProgress",
    "UploadResult",
    "image_fields",
    "info_fields",
    "result_fields",
]

REQUEST_TIMEOUT_S = 2.5
"""smpclient's default wait for one SMP reply."""
FIRST_CHUNK_TIMEOUT_S = 40.0
"""The first upload chunk's: a device may erase the slot before it answers."""
RESUME_ATTEMPTS = 5
"""Reconnections an upload tries after lost connections before it gives up."""
RESET_ATTEMPTS = 20
"""How often :meth:`FirmwareUpdater.reset` asks for an echo while the device reboots."""
RESET_SETTLE_S = 0.2
"""How long after a reset's reply before asking the device again."""

_LOST = (LinkError, SMPTransportDisconnected, TimeoutError, OSError)
"""What a lost connection looks like through smpclient: our link's errors, its transports', a request's timeout."""

_RUNNING: set[str] = set()
"""Targets (their ``describe``) this process uploads to now."""


@dataclass(frozen=True)
class SlotState:
    """One image slot as the device reports it (MCUboot's flags)."""

    slot: int
    version: str
    hash: str
    """The image's SHA-256 (its TLV), hex."""
    bootable: bool
    pending: bool
    """Marked for test: swapped in at the next reset."""
    confirmed: bool
    active: bool
    """The running image."""
    permanent: bool


@dataclass(frozen=True)
class FirmwareInfo:
    """What a device holds: its slots, and the MCUmgr buffer it reported (``None``: it does not say)."""

    target: str
    slots: tuple[SlotState, ...]
    buf_size: int | None
    buf_count: int | None

    @property
    def running(self) -> SlotState | None:
        """The active slot (the running image), if the device says."""
        return next((s for s in self.slots if s.active), None)

    @property
    def running_version(self) -> str | None:
        running = self.running
        return running.version if running is not None else None

    def slot(self, number: int) -> SlotState | None:
        return next((s for s in self.slots if s.slot == number), None)


@dataclass(frozen=True)
class UploadProgress:
    """How an upload goes: bytes the device holds of ``total``, the rate of this run (bytes/s), the time left."""

    done: int
    total: int
    rate_bps: float
    eta_s: float | None
    resumed_from: int
    """The offset the device reported at the start of this run (0: from the start)."""


@dataclass(frozen=True)
class UploadPolicy:
    """What an image must be for this device: signed by one of ``trusted_keys`` (public keys, PEM or raw 32-byte
    ed25519), for ``model`` and ``hardware_revision``, not older than what runs unless ``allow_downgrade``, and no
    larger than ``slot_size`` bytes (``None``: the device checks)."""

    trusted_keys: tuple[bytes, ...]
    model: str
    hardware_revision: str
    allow_downgrade: bool = False
    slot_size: int | None = None


@dataclass(frozen=True)
class UploadResult:
    """An upload that ended with the device holding the whole image (hash matched)."""

    image: Any
    """The verified image (:class:`mesogun.firmware.image.ImageInfo`)."""
    size: int
    resumed_from: int
    """The offset of the last run's start (0: one run from the start)."""
    resumes: int
    """Reconnections it took."""
    seconds: float
    previous_version: str | None
    restarts: int = 0
    """Times the device lost the upload (it reset mid-upload) and it began again at offset 0."""


class ImageCheck(Protocol):
    """:func:`mesogun.firmware.image.verify_image`'s signature: raises its ``FirmwareImageError`` for a bad image."""

    def __call__(
        self,
        data: bytes,
        *,
        trusted_keys: Sequence[bytes],
        model: str,
        hardware_revision: str,
        current_version: str | None,
        allow_downgrade: bool = False,
        slot_size: int | None = None,
    ) -> Any: ...


def verify_image(
    data: bytes,
    *,
    trusted_keys: Sequence[bytes],
    model: str,
    hardware_revision: str,
    current_version: str | None,
    allow_downgrade: bool = False,
    slot_size: int | None = None,
) -> Any:
    """The host's image check (:func:`mesogun.firmware.image.verify_image`)."""
    return image.verify_image(
        data,
        trusted_keys=trusted_keys,
        model=model,
        hardware_revision=hardware_revision,
        current_version=current_version,
        allow_downgrade=allow_downgrade,
        slot_size=slot_size,
    )


def _hex(value: object) -> str:
    return value.hex() if isinstance(value, bytes | bytearray) else str(value or "")


class FirmwareUpdater:
    """SMP image management on one target; ``async with FirmwareUpdater(target) as updater: ...`` (or
    :meth:`open` and :meth:`close`)."""

    def __init__(
        self,
        target: SMPTarget,
        *,
        timeout_s: float = REQUEST_TIMEOUT_S,
        resume_attempts: int = RESUME_ATTEMPTS,
        check: ImageCheck | None = None,
    ) -> None:
        self.target = target
        self._client = SMPClient(target.transport, target.address, timeout_s=timeout_s)
        self._timeout_s = timeout_s
        self._resume_attempts = resume_attempts
        self._check = check if check is not None else verify_image
        self._open = False
        self.params: tuple[int, int] | None = None
        """The device's MCUmgr (``buf_size``, ``buf_count``), read at :meth:`open` (``None``: not reported)."""

    async def open(self) -> None:
        """Connect smpclient to the target (and read the device's MCUmgr parameters)."""
        await self._client.connect()
        self._open = True
        self.params = await self._params()

    async def close(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(*_LOST, SMPClientException):
                await self._client.disconnect()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------------------ reading

    async def _params(self) -> tuple[int, int] | None:
        response = await self._client.request(MCUMgrParametersRead())
        if success(response):
            return response.buf_size, response.buf_count
        return None

    async def info(self) -> FirmwareInfo:
        """The device's image slots (versions, hashes, flags) and its MCUmgr buffer."""
        response = await self._client.request(ImageStatesRead())
        if not success(response):
            raise refusal("image state read", response)
        slots = tuple(
            SlotState(
                slot=s.slot,
                version=s.version,
                hash=_hex(s.hash),
                bootable=bool(s.bootable),
                pending=bool(s.pending),
                confirmed=bool(s.confirmed),
                active=bool(s.active),
                permanent=bool(s.permanent),
            )
            for s in response.images
        )
        size, count = self.params if self.params is not None else (None, None)
        return FirmwareInfo(self.target.describe, slots, size, count)

    def verify(self, image: bytes, policy: UploadPolicy, current_version: str | None) -> Any:
        """``image`` checked against ``policy`` and the running version (nothing sent); its ``ImageInfo``."""
        if not isinstance(image, bytes | bytearray) or not image:
            raise ParameterError("the image is empty: nothing to upload", field="image", value=len(image or b""))
        return self._check(
            bytes(image),
            trusted_keys=policy.trusted_keys,
            model=policy.model,
            hardware_revision=policy.hardware_revision,
            current_version=current_version,
            allow_downgrade=policy.allow_downgrade,
            slot_size=policy.slot_size,
        )

    # ------------------------------------------------------------------------------------------------ upload

    async def upload(
        self, image: bytes, policy: UploadPolicy, *, progress: Callable[[UploadProgress], None] | None = None
    ) -> UploadResult:
        """Verify ``image`` (refused before a byte is sent), upload it to the secondary slot, resuming from the
        device's offset after a lost connection; returns once the device holds it and its hash matched. It is not
        marked for test: :meth:`test`, then :meth:`reset`."""
        key = self.target.describe
        if key in _RUNNING:
            raise UploadRunning(
                f"an upload to {key} is already running from this host: wait for it to end",
                command="image upload",
                reason="an upload is running",
            )
        _RUNNING.add(key)
        try:
            return await self._upload(bytes(image), policy, progress)
        finally:
            _RUNNING.discard(key)

    async def _upload(
        self, image: bytes, policy: UploadPolicy, progress: Callable[[UploadProgress], None] | None
    ) -> UploadResult:
        before = await self.info()
        verified = self.verify(image, policy, before.running_version)
        loop = asyncio.get_running_loop()
        started = loop.time()
        total = len(image)
        fresh = self._first_chunk(image)
        resumes = restarts = 0
        while True:
            run_start: float | None = None
            first: int | None = None
            reached = 0
            restarted = False
            try:
                chunks = cast(
                    AsyncGenerator[int, None],
                    self._client.upload(
                        image, first_timeout_s=FIRST_CHUNK_TIMEOUT_S, subsequent_timeout_s=self._timeout_s
                    ),
                )
                async for offset in chunks:
                    if offset < reached:  # the device lost the upload (it reset): begin again, with the sha
                        restarted = True
                        break
                    reached = offset
                    now = loop.time()
                    if first is None:
                        first, run_start = offset, now
                    if progress is not None:
                        elapsed = now - (run_start or now)
                        rate = (offset - first) / elapsed if elapsed > 0 else 0.0
                        eta = (total - offset) / rate if rate > 0 else None
                        progress(UploadProgress(offset, total, rate, eta, 0 if first == fresh else first))
                await chunks.aclose()
            except SMPUploadError as failed:
                raise self._upload_error(failed) from None
            except _LOST as lost:
                resumes += 1
                if resumes > self._resume_attempts:
                    raise lost
                await self._recover()
                continue
            if not restarted:
                break
            restarts += 1
            if restarts > self._resume_attempts:
                raise UploadFailed(
                    f"the device lost the upload {restarts} times (it reset mid-upload): the image is not usable; "
                    "upload it again"
                )
        resumed_from = 0 if first in (None, fresh) else int(first or 0)
        return UploadResult(
            verified, total, resumed_from, resumes, loop.time() - started, before.running_version, restarts
        )

    def _first_chunk(self, image: bytes) -> int:
        """The offset a fresh start answers (the first chunk's length): any other first answer is a resume."""
        first = ImageUploadWrite(
            off=0, data=b"", image=0, len=len(image), sha=hashlib.sha256(image).digest(), upgrade=False
        )
        return min(self._client.get_max_cbor_and_data_size(first)[1], len(image))

    @staticmethod
    def _upload_error(failed: SMPUploadError) -> Exception:
        response = failed.args[0] if failed.args else None
        if isinstance(response, str):
            if "SHA256" in response:
                return UploadFailed(
                    "the device's hash of the uploaded image differs from the image's (a chunk was damaged on the "
                    "way): the image is not usable; upload it again"
                )
            return SMPRefused("image upload", "EUNKNOWN", response)
        return refusal("image upload", response)

    async def _recover(self) -> None:
        """Get the device back after a lost connection: the gun reconnected, or smpclient's transport reopened."""
        if self.target.reconnect is not None:
            await self.target.reconnect()
            return
        with contextlib.suppress(*_LOST):
            await self._client.disconnect()
        await self._client.connect()

    # ------------------------------------------------------------------------------------------------ states

    async def _write_state(self, operation: str, request: ImageStatesWrite) -> FirmwareInfo:
        response = await self._client.request(request)
        if error(response):
            raise refusal(operation, response)
        return await self.info()

    async def test(self, image_hash: str | None = None) -> FirmwareInfo:
        """Mark an image for test (default: the secondary slot's): MCUboot swaps it in at the next reset, and
        reverts at the reset after unless it is confirmed."""
        if image_hash is None:
            secondary = (await self.info()).slot(1)
            if secondary is None or not secondary.hash:
                raise StateError(
                    f"{self.target.describe} holds no image in its secondary slot: upload one first",
                    command="image test",
                    reason="no image to test",
                )
            image_hash = secondary.hash
        try:
            digest = bytes.fromhex(image_hash)
        except ValueError:
            raise ParameterError(
                f"image_hash={image_hash!r} is not a hex SHA-256", field="image_hash", value=image_hash
            ) from None
        return await self._write_state("image test", ImageStatesWrite(hash=digest, confirm=False))

    async def confirm(self) -> FirmwareInfo:
        """Confirm the running image: MCUboot keeps it at the next reset."""
        return await self._write_state("image confirm", ImageStatesWrite(confirm=True))

    async def rollback(self) -> FirmwareInfo:
        """Go back to the other image: a running image not yet confirmed is reverted by a reset; a confirmed one
        has the secondary slot's (the previous) image marked for test, then the reset swaps it in."""
        now = await self.info()
        running = now.running
        if running is not None and not running.confirmed:
            return await self.reset()
        previous = now.slot(1)
        if previous is None or not previous.hash or not previous.bootable:
            raise StateError(
                f"{self.target.describe} holds no previous image to roll back to",
                command="image rollback",
                reason="no previous image",
            )
        await self.test(previous.hash)
        return await self.reset()

    async def reset(self) -> FirmwareInfo:
        """Reset the device (MCUboot swaps or reverts), wait until it answers again, and return its slots."""
        response = await self._client.request(ResetWrite())
        if error(response):
            raise refusal("reset", response)
        await asyncio.sleep(RESET_SETTLE_S)
        if self.target.rejoin is not None:  # a new session: the host reads the rebooted device's identity
            with contextlib.suppress(*_LOST):
                await self.target.rejoin()
        for _ in range(RESET_ATTEMPTS):
            try:
                echo = await self._client.request(EchoWrite(d="mesogun"))
                if success(echo):
                    self.params = await self._params()
                    return await self.info()
            except _LOST:
                with contextlib.suppress(*_LOST):
                    await self._recover()
            await asyncio.sleep(RESET_SETTLE_S)
        raise StateError(
            f"{self.target.describe} did not answer within {RESET_ATTEMPTS} tries after its reset",
            command="reset",
            reason="no answer after reset",
        )


# ------------------------------------------------------------------------------------------------ JSON forms


def info_fields(info: FirmwareInfo) -> dict[str, Any]:
    """A device's slots as ``firmware info --json`` prints them and the service sends them."""
    return {
        "target": info.target,
        "running_version": info.running_version,
        "buf_size": info.buf_size,
        "buf_count": info.buf_count,
        "slots": [asdict(slot) for slot in info.slots],
    }


def image_fields(image: Any) -> dict[str, Any]:
    """A verified image's identity (:class:`mesogun.firmware.image.ImageInfo`), as the audit log holds it."""
    return {
        "version": image.version,
        "sha256": _hex(getattr(image, "sha256", "")),
        "file_sha256": _hex(getattr(image, "file_sha256", "")),
        "size": image.size,
        "model": image.model,
        "hardware_revision": getattr(image, "hardware_revision", ""),
        "downgrade": bool(getattr(image, "downgrade", False)),
    }


def result_fields(result: UploadResult) -> dict[str, Any]:
    """An upload's result, as the CLI prints it, the service sends it and the audit log holds it."""
    return {
        "image": image_fields(result.image),
        "size": result.size,
        "resumed_from": result.resumed_from,
        "resumes": result.resumes,
        "restarts": result.restarts,
        "seconds": round(result.seconds, 3),
        "previous_version": result.previous_version,
    }
