"""The simulated gun's SMP (mcumgr) server, over the `smp` package's message models.

One :class:`SmpServer` per gun answers one SMP request frame (8-byte header + CBOR body) with one response frame,
whichever way it came: inside the firmware update family's ``smp_request`` (:mod:`sims.firmware`) or on the
standard SMP serial endpoint (:mod:`sims.smp_serial`); both share its upload in progress.

- os_mgmt: echo, reset (answered, then the gun resets), MCUmgr parameters (``buf_size``: the largest request
  frame the endpoint takes; ``buf_count``).
- img_mgmt: state read; state write (``hash`` + ``confirm`` false: test slot 1's image at the next reset;
  ``confirm`` true without a hash or with the running image's: confirm it; with slot 1's hash: a permanent swap);
  upload; erase (slot 1).

Upload as Zephyr's img_mgmt does it: the first chunk (``off`` 0) carries ``len`` and ``sha`` (SHA-256 of the
whole image, naming the upload); each answer's ``off`` is where the next chunk goes; a first chunk with the
same ``sha`` as the upload in progress is answered with the offset reached (resume); the last answer carries
``match`` (the bytes in flash against ``sha``), and the image is then verified against the pinned key. Refusals
are SMP errors (``rc`` and a reason ``rsn``), never a protocol nak: busy while the gun is armed, firing or priming
(``EBUSY``), a second upload with another ``sha`` while one runs (``EBUSY``), an image larger than the slot
(``EINVAL``), no pinned key (``EACCESSDENIED``), a chunk at another offset than expected (an upload response
with ``rc`` EINVAL and ``off`` the offset expected, so a client resumes there; nothing written). The upload in
progress is RAM: a reset forgets it, and the next upload starts again at 0.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2
from pydantic import ValidationError
from smp import error as smperr
from smp import header as smphdr
from smp import image_management as smpimg
from smp import message as smpmsg
from smp import os_management as smpos

from sims.bootloader import HEADER_SIZE, IMAGE_MAGIC, Bootloader, ImageProblem, SlotState, Trailer

_E = smperr.MGMT_ERR
_OS = smphdr.GroupId.OS_MANAGEMENT
_IMG = smphdr.GroupId.IMAGE_MANAGEMENT
_OSC = smphdr.CommandId.OSManagement
_IMGC = smphdr.CommandId.ImageManagement

DEFAULT_BUF_COUNT = 4
"""Request buffers the server reports (Zephyr's CONFIG_MCUMGR_TRANSPORT_NETBUF_COUNT default)."""


class SmpRefused(Exception):
    """A request the server refuses: SMP's ``rc`` and the reason (``rsn``)."""

    def __init__(self, rc: smperr.MGMT_ERR, reason: str) -> None:
        super().__init__(reason)
        self.rc = rc
        self.reason = reason


@dataclass
class Upload:
    """The upload in progress (RAM only)."""

    sha: bytes | None
    size: int
    offset: int = 0
    erased_sectors: int = 0
    """Sectors of slot 1 erased for it so far (each is erased just before the first write into it)."""


class SmpServer:
    """Answers SMP request frames for one gun.

    ``busy``: why the gun cannot take a flash write or a reset now (``None``: it can); ``request_reset``: reset the
    gun once the answer is out; ``self_test_failed``: whether the running image failed its self-test (it cannot
    be confirmed).
    """

    def __init__(
        self,
        bootloader: Bootloader,
        *,
        busy: Callable[[], str | None],
        request_reset: Callable[[], None],
        self_test_failed: Callable[[], bool],
        buf_count: int = DEFAULT_BUF_COUNT,
    ) -> None:
        self._boot = bootloader
        self._busy = busy
        self._request_reset = request_reset
        self._self_test_failed = self_test_failed
        self._buf_count = buf_count
        self.upload: Upload | None = None
        """The upload in progress (``None``: none)."""

    def power_on(self) -> None:
        """A reset or power cut: the upload in progress is forgotten (it lived in RAM)."""
        self.upload = None

    # ------------------------------------------------------------------ frames

    def handle(self, frame: bytes, *, buf_size: int) -> bytes:
        """The response frame to one request frame (``buf_size``: what this endpoint's MCUmgr parameters say)."""
        if len(frame) < smphdr.Header.SIZE:
            return _error_frame((smphdr.Version.V2 << 3) | 3, _OS, 0, 0, _E.EINVAL, f"an SMP frame of {len(frame)} B")
        raw_op, _flags, length, group, sequence, command = struct.unpack("!BBHHBB", frame[:8])
        reply_op = (raw_op & 0b1_1000) | ((raw_op & 0b111) | 1)  # the request's version, its op's response op
        try:
            header = smphdr.Header.loads(frame[:8])
        except ValueError:
            return _error_frame(reply_op, group, sequence, command, _E.ENOTSUP, f"command {command} of group {group}")
        if length != len(frame) - 8:
            return _error_frame(
                reply_op, group, sequence, command, _E.EINVAL, f"header length {length}, body {len(frame) - 8} bytes"
            )
        try:
            body = cbor2.loads(frame[8:]) if len(frame) > 8 else {}
        except (cbor2.CBORDecodeError, ValueError) as exc:
            return _error_frame(reply_op, group, sequence, command, _E.EINVAL, f"the CBOR body: {exc}"[:120])
        if not isinstance(body, dict):
            return _error_frame(reply_op, group, sequence, command, _E.EINVAL, "the CBOR body is not a map")
        try:
            reply = self._dispatch(header, body, buf_size)
        except SmpRefused as refused:
            return _error_frame(reply_op, group, sequence, command, refused.rc, refused.reason)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem.get("loc", ())) or "body"
            return _error_frame(reply_op, group, sequence, command, _E.EINVAL, f"{where}: {problem.get('msg')}")
        return reply.BYTES

    def _dispatch(self, header: smphdr.Header, body: dict[str, Any], buf_size: int) -> smpmsg.Response:
        key = (int(header.group_id), int(header.command_id), header.op)
        reply_to: dict[str, Any] = {"sequence": header.sequence, "version": header.version}
        op = smphdr.OP
        if key == (_OS, _OSC.ECHO, op.WRITE):
            echo = smpos.EchoWriteRequest.load(header, body)
            return smpos.EchoWriteResponse(r=echo.d, **reply_to)
        if key == (_OS, _OSC.MCUMGR_PARAMETERS, op.READ):
            return smpos.MCUMgrParametersReadResponse(buf_size=buf_size, buf_count=self._buf_count, **reply_to)
        if key == (_OS, _OSC.RESET, op.WRITE):
            smpos.ResetWriteRequest.load(header, body)
            self._refuse_if_busy("reset")
            self._request_reset()
            return smpos.ResetWriteResponse(**reply_to)
        if key == (_IMG, _IMGC.STATE, op.READ):
            smpimg.ImageStatesReadRequest.load(header, body)
            return smpimg.ImageStatesReadResponse(images=self._states(), **reply_to)
        if key == (_IMG, _IMGC.STATE, op.WRITE):
            self._state_write(smpimg.ImageStatesWriteRequest.load(header, body))
            return smpimg.ImageStatesWriteResponse(images=self._states(), **reply_to)
        if key == (_IMG, _IMGC.UPLOAD, op.WRITE):
            off, rc, match = self._upload(smpimg.ImageUploadWriteRequest.load(header, body))
            fields: dict[str, Any] = {"off": off}
            if rc is not None:
                fields["rc"] = int(rc)
            if match is not None:
                fields["match"] = match
            return smpimg.ImageUploadWriteResponse(**fields, **reply_to)
        if key == (_IMG, _IMGC.ERASE, op.WRITE):
            self._erase(smpimg.ImageEraseRequest.load(header, body))
            return smpimg.ImageEraseResponse(**reply_to)
        raise SmpRefused(_E.ENOTSUP, f"group {int(header.group_id)} command {int(header.command_id)} op {header.op}")

    def _refuse_if_busy(self, what: str) -> None:
        reason = self._busy()
        if reason is not None:
            raise SmpRefused(_E.EBUSY, f"{what} refused: {reason}")

    # ------------------------------------------------------------------ image state

    def _states(self) -> list[smpimg.ImageState]:
        return [_image_state(state) for state in self._boot.states()]

    def _state_write(self, request: smpimg.ImageStatesWriteRequest) -> None:
        self._refuse_if_busy("image state write")
        boot = self._boot
        running = boot.running
        if request.confirm and (request.hash is None or (running is not None and request.hash == running.sha256)):
            if self._self_test_failed():
                version = running.version if running else "?"
                raise SmpRefused(
                    _E.EACCESSDENIED,
                    f"the running image {version} failed its self-test: it cannot be confirmed (it reverts at reset)",
                )
            boot.confirm_running()
            return
        if request.hash is None:
            raise SmpRefused(_E.EINVAL, "hash is required to test an image (the SHA256 of slot 1's image)")
        if running is not None and request.hash == running.sha256:
            raise SmpRefused(_E.EINVAL, f"hash {request.hash.hex()[:16]}… is the running image: nothing to test")
        if boot.slot_hash(1) != request.hash:
            raise SmpRefused(_E.ENOENT, f"no image with hash {request.hash.hex()[:16]}… in slot 1")
        if boot.revert_pending:
            raise SmpRefused(
                _E.EBADSTATE, "the running image is on test and not confirmed: confirm it, or reset to revert, first"
            )
        if self.upload is not None:
            raise SmpRefused(_E.EBUSY, "an upload to slot 1 is in progress")
        raw = boot.flash.read(boot.layout.slot(1), boot.layout.slot_size)
        try:
            boot.verify(raw)
        except ImageProblem as problem:
            raise SmpRefused(_E.EACCESSDENIED, f"slot 1's image is refused: {problem}") from None
        boot.request_swap(permanent=request.confirm)

    # ------------------------------------------------------------------ upload

    def _upload(self, request: smpimg.ImageUploadWriteRequest) -> tuple[int, smperr.MGMT_ERR | None, bool | None]:
        """(offset reached, rc of an out-of-order chunk or None, match on the last chunk or None)."""
        self._refuse_if_busy("image upload")
        if request.image not in (None, 0):
            raise SmpRefused(_E.EINVAL, f"image={request.image}: this device has one image (0)")
        if request.off == 0:
            resumed = self._start_upload(request)
            if resumed is not None:
                return resumed, None, None
        upload = self.upload
        if upload is None or request.off != upload.offset:
            return (upload.offset if upload is not None else 0), _E.EINVAL, None
        if upload.offset + len(request.data) > upload.size:
            raise SmpRefused(
                _E.EINVAL,
                f"a chunk of {len(request.data)} B at off {request.off} runs past the image's len {upload.size}",
            )
        self._write_chunk(upload, request.data)
        if upload.offset < upload.size:
            return upload.offset, None, None
        return upload.offset, None, self._finish_upload(upload)

    def _start_upload(self, request: smpimg.ImageUploadWriteRequest) -> int | None:
        """Begin an upload at ``off`` 0 (``None``), or the offset an upload of the same sha reached (resume)."""
        current = self.upload
        if current is not None:
            if request.sha is not None and request.sha == current.sha and request.len == current.size:
                return current.offset
            named = current.sha.hex()[:16] + "…" if current.sha else "(no sha)"
            raise SmpRefused(
                _E.EBUSY,
                f"an upload of image {named} ({current.size} B) is in progress at off {current.offset}: resume it "
                "with the same sha, or erase slot 1 first",
            )
        boot = self._boot
        if request.len is None:
            raise SmpRefused(_E.EINVAL, "len is required in the first chunk (off 0)")
        if request.len > boot.layout.max_image_size:
            raise SmpRefused(
                _E.EINVAL,
                f"an image of {request.len} B is larger than slot 1 holds ({boot.layout.max_image_size} B for an "
                f"image in a {boot.layout.slot_size}-byte slot)",
            )
        if request.len < HEADER_SIZE:
            raise SmpRefused(_E.EINVAL, f"an image of {request.len} B is shorter than the {HEADER_SIZE}-byte header")
        if len(request.data) >= 4 and struct.unpack_from("<I", request.data)[0] != IMAGE_MAGIC:
            raise SmpRefused(_E.EINVAL, f"not an MCUboot image: it does not start with magic 0x{IMAGE_MAGIC:08x}")
        if boot.public_key is None:
            raise SmpRefused(
                _E.EACCESSDENIED, "no firmware key is pinned on this device (DeviceConfig.firmware_key): no update"
            )
        if boot.revert_pending:
            raise SmpRefused(
                _E.EBADSTATE,
                "the running image is on test and not confirmed (slot 1 holds the image a revert brings back): "
                "confirm it, or reset to revert, before uploading",
            )
        if request.upgrade and len(request.data) >= HEADER_SIZE and boot.running is not None:
            major, minor, revision = struct.unpack_from("<BBH", request.data, 20)
            if (major, minor, revision) <= _release(boot.running.version):
                raise SmpRefused(
                    _E.EINVAL,
                    f"upgrade only: image {major}.{minor}.{revision} is not newer than {boot.running.version}",
                )
        if boot.trailer(1) != Trailer(magic=False, image_ok=False, copy_done=False):
            boot.cancel_swap()  # a new upload replaces whatever slot 1 was asked to do
        boot.flash.phase("upload.start")
        self.upload = Upload(request.sha, request.len)
        return None

    def _write_chunk(self, upload: Upload, data: bytes) -> None:
        boot = self._boot
        lay, flash = boot.layout, boot.flash
        if not data:
            return
        flash.phase("upload.chunk")
        last_sector = (upload.offset + len(data) - 1) // lay.sector_size
        while upload.erased_sectors <= last_sector:
            flash.erase(lay.slot(1) + upload.erased_sectors * lay.sector_size)
            upload.erased_sectors += 1
        flash.write(lay.slot(1) + upload.offset, data)
        upload.offset += len(data)

    def _finish_upload(self, upload: Upload) -> bool | None:
        boot = self._boot
        self.upload = None
        boot.flash.phase("upload.complete")
        data = boot.flash.read(boot.layout.slot(1), upload.size)
        match = hashlib.sha256(data).digest() == upload.sha if upload.sha is not None else None
        if match is False:
            return False
        try:
            boot.verify(data)
        except ImageProblem as problem:
            raise SmpRefused(_E.EACCESSDENIED, f"the image uploaded is refused: {problem}") from None
        return match

    # ------------------------------------------------------------------ erase

    def _erase(self, request: smpimg.ImageEraseRequest) -> None:
        self._refuse_if_busy("image erase")
        slot = 1 if request.slot is None else request.slot
        if slot != 1:
            raise SmpRefused(_E.EINVAL, f"slot={slot}: only slot 1 can be erased (slot 0 runs)")
        boot = self._boot
        if boot.revert_pending:
            raise SmpRefused(_E.EBADSTATE, "slot 1 holds the image a revert brings back: confirm the running one first")
        lay, flash = boot.layout, boot.flash
        self.upload = None
        for sector in range(lay.slot_sectors):
            at = lay.slot(1) + sector * lay.sector_size
            if not flash.is_erased(at, lay.sector_size):
                flash.erase(at)
        if not flash.is_erased(lay.trailer(1), lay.sector_size):
            flash.erase(lay.trailer(1))


def _release(version: str) -> tuple[int, int, int]:
    major, minor, revision = (int(p) for p in version.split("+", 1)[0].split("."))
    return major, minor, revision


def _image_state(state: SlotState) -> smpimg.ImageState:
    flags = {
        name: True
        for name, value in (
            ("pending", state.pending),
            ("confirmed", state.confirmed),
            ("active", state.active),
            ("permanent", state.permanent),
        )
        if value
    }
    return smpimg.ImageState(
        slot=state.slot,
        version=state.image.version,
        image=0,
        hash=state.image.sha256,
        bootable=state.bootable or None,
        **flags,
    )


def _error_frame(op_byte: int, group: int, sequence: int, command: int, rc: smperr.MGMT_ERR, reason: str) -> bytes:
    """An SMP error response (``rc`` and ``rsn``: SMP's version 1 error map, which carries a reason); ``op_byte``
    is the header's first byte (version and response op)."""
    body = cbor2.dumps({"rc": int(rc), "rsn": reason}, canonical=True)
    return struct.pack("!BBHHBB", op_byte, 0, len(body), group, sequence & 0xFF, command) + body
