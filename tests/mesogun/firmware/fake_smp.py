"""A stand-in SMP server for the host transfer's tests, written with the ``smp`` models' header and CBOR: os_mgmt
echo, reset, MCUmgr params; img_mgmt state read/write, upload (resume by SHA-256, out-of-order refused, EBUSY
while "armed" or for another image while one runs), as Zephyr's img_mgmt answers. :class:`FakeGun` carries it
over a fake firmware_update family channel (the ``family_command`` a :class:`~mesogun.session.gun.Gun` offers),
with connection loss and device resets injected; :class:`PtyEndpoint` serves it as a standard SMP serial (console)
endpoint on a pty for smpclient's ``SMPSerialTransport``.

Images here are the stand-in format of :func:`fake_image` (a JSON line, then padding) checked by :func:`fake_check`
until the images helper's MCUboot images and ``verify_image`` are on main.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import cbor2
from smp import header as smphdr
from smp import packet as smppacket
from smp.error import MGMT_ERR

from firmware_protocol import mcuboot
from mesogun.errors import ConnectionLost, ParameterError

OS = smphdr.GroupId.OS_MANAGEMENT
IMG = smphdr.GroupId.IMAGE_MANAGEMENT


def fake_image(version: str, *, model: str = "MG-1", size: int = 4000, signed: bool = True) -> bytes:
    """A stand-in image: ``{"version", "model", "signed"}`` as a JSON line, padded to ``size`` bytes."""
    head = json.dumps({"version": version, "model": model, "signed": signed}).encode() + b"\n"
    body = bytes((i * 7 + len(version)) % 251 for i in range(max(0, size - len(head))))
    return head + body


def _manifest(image: bytes) -> dict[str, Any]:
    return dict(json.loads(image.split(b"\n", 1)[0]))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class FakeImageInfo:
    version: str
    sha256: str
    size: int
    model: str


class FakeImageError(ParameterError):
    code = "MG850"


def fake_check(
    data: bytes,
    *,
    trusted_keys: Any,
    model: str,
    hardware_revision: str,
    current_version: str | None,
    allow_downgrade: bool = False,
    slot_size: int | None = None,
) -> FakeImageInfo:
    """The stand-in of ``verify_image``: unsigned, wrong model, downgrade and too large refused."""
    manifest = _manifest(data)
    if not manifest.get("signed"):
        raise FakeImageError("the image is unsigned", field="image")
    if manifest["model"] != model:
        raise FakeImageError(f"the image is for model {manifest['model']}, not {model}", field="model")
    version = str(manifest["version"])
    if current_version and not allow_downgrade and _version_key(version) < _version_key(current_version):
        raise FakeImageError(f"downgrade {current_version} → {version} needs --allow-downgrade", field="version")
    if slot_size is not None and len(data) > slot_size:
        raise FakeImageError(f"{len(data)} bytes exceed the slot's {slot_size}", field="size")
    return FakeImageInfo(version, hashlib.sha256(data).hexdigest(), len(data), str(manifest["model"]))


@dataclass
class Slot:
    image: bytes
    confirmed: bool = True
    pending: bool = False

    @property
    def version(self) -> str:
        if self.image.startswith(b"{"):  # the stand-in format
            return str(_manifest(self.image)["version"])
        return str(mcuboot.parse(self.image).version)

    @property
    def hash(self) -> bytes:
        """The image's hash as SMP's state lists it (an MCUboot image's SHA256 TLV)."""
        if self.image.startswith(b"{"):
            return hashlib.sha256(self.image).digest()
        return mcuboot.image_hash(self.image, mcuboot.parse(self.image))


@dataclass
class Upload:
    sha: bytes
    size: int
    data: bytearray = field(default_factory=bytearray)


@dataclass
class FakeSMPServer:
    """The device side: two slots, an upload in progress, and the state that refuses an upload."""

    buf_size: int = 1022
    buf_count: int = 4
    slot_size: int = 64 * 1024
    busy_reason: str | None = None
    """Set: an upload is refused with EBUSY and this reason (the gun armed or firing)."""
    slots: dict[int, Slot] = field(default_factory=lambda: {0: Slot(fake_image("1.0.0"))})
    upload: Upload | None = None
    corrupt_at: int | None = None
    """A chunk at this offset arrives damaged (one byte flipped)."""
    requests: list[tuple[int, int]] = field(default_factory=list)
    """(group, command) of every request, in order."""
    upload_offsets: list[int] = field(default_factory=list)
    """The ``off`` of every upload request."""
    resets: int = 0

    # -------------------------------------------------------------------------------------------- framing

    def process(self, frame: bytes) -> bytes:
        header = smphdr.Header.loads(frame[: smphdr.Header.SIZE])
        body = cbor2.loads(frame[smphdr.Header.SIZE :]) if len(frame) > smphdr.Header.SIZE else {}
        self.requests.append((int(header.group_id), int(header.command_id)))
        handlers: dict[tuple[int, int], Any] = {
            (OS, 0): self._echo,
            (OS, 5): self._reset,
            (OS, 6): self._params,
            (IMG, 0): self._state,
            (IMG, 1): self._upload,
        }
        handler = handlers.get((int(header.group_id), int(header.command_id)))
        reply = {"rc": int(MGMT_ERR.ENOTSUP)} if handler is None else handler(header, body)
        return self._answer(header, reply)

    @staticmethod
    def _answer(request: smphdr.Header, body: dict[str, Any]) -> bytes:
        data = cbor2.dumps(body, canonical=True)
        op = smphdr.OP.READ_RSP if request.op is smphdr.OP.READ else smphdr.OP.WRITE_RSP
        header = smphdr.Header(
            op=op,
            version=request.version,
            flags=request.flags,
            length=len(data),
            group_id=request.group_id,
            sequence=request.sequence,
            command_id=request.command_id,
        )
        return bytes(header) + data

    # -------------------------------------------------------------------------------------------- os

    def _echo(self, header: smphdr.Header, body: dict[str, Any]) -> dict[str, Any]:
        return {"r": body.get("d", "")}

    def _params(self, header: smphdr.Header, body: dict[str, Any]) -> dict[str, Any]:
        return {"buf_size": self.buf_size, "buf_count": self.buf_count}

    def _reset(self, header: smphdr.Header, body: dict[str, Any]) -> dict[str, Any]:
        self.boot()
        return {}

    def boot(self) -> None:
        """A reset: MCUboot swaps a pending secondary in; an unconfirmed primary reverts."""
        self.resets += 1
        primary, secondary = self.slots[0], self.slots.get(1)
        if secondary is not None and secondary.pending:  # test swap
            self.slots[0], self.slots[1] = Slot(secondary.image, confirmed=False), Slot(primary.image)
        elif not primary.confirmed and secondary is not None:  # revert
            self.slots[0], self.slots[1] = Slot(secondary.image), Slot(primary.image, confirmed=False)

    # -------------------------------------------------------------------------------------------- img

    def _state(self, header: smphdr.Header, body: dict[str, Any]) -> dict[str, Any]:
        if header.op is smphdr.OP.WRITE:
            if body.get("confirm"):
                self.slots[0].confirmed = True
            else:
                wanted = body.get("hash")
                secondary = self.slots.get(1)
                if secondary is None or secondary.hash != wanted:
                    return {"rc": int(MGMT_ERR.EINVAL), "rsn": "no such image"}
                secondary.pending = True
        images = []
        for number, slot in sorted(self.slots.items()):
            images.append(
                {
                    "slot": number,
                    "version": slot.version,
                    "hash": slot.hash,
                    "bootable": True,
                    "pending": slot.pending,
                    "confirmed": slot.confirmed,
                    "active": number == 0,
                    "permanent": False,
                }
            )
        return {"images": images}

    def _upload(self, header: smphdr.Header, body: dict[str, Any]) -> dict[str, Any]:
        off, data = int(body["off"]), bytes(body["data"])
        self.upload_offsets.append(off)
        if off == 0:
            if self.busy_reason is not None:
                return {"rc": int(MGMT_ERR.EBUSY), "rsn": self.busy_reason}
            sha, size = bytes(body.get("sha") or b""), int(body["len"])
            if size > self.slot_size:
                return {"rc": int(MGMT_ERR.EINVAL), "rsn": f"image of {size} bytes exceeds the slot's {self.slot_size}"}
            if self.upload is not None and self.upload.sha == sha and self.upload.size == size:
                return {"off": len(self.upload.data)}  # resume: the offset reached
            if self.upload is not None and len(self.upload.data) < self.upload.size:
                return {"rc": int(MGMT_ERR.EBUSY), "rsn": "another image's upload is in progress"}
            self.upload = Upload(sha, size)
            self.slots.pop(1, None)
        upload = self.upload
        if upload is None:
            return {"rc": int(MGMT_ERR.EINVAL), "rsn": "no upload in progress: start at offset 0"}
        if off != len(upload.data):
            return {"rc": int(MGMT_ERR.EINVAL), "rsn": f"expected offset {len(upload.data)}", "off": len(upload.data)}
        if self.corrupt_at is not None and off == self.corrupt_at and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        upload.data += data
        reply: dict[str, Any] = {"off": len(upload.data)}
        if len(upload.data) >= upload.size:
            match = hashlib.sha256(upload.data).digest() == upload.sha
            reply["match"] = match
            if match:
                self.slots[1] = Slot(bytes(upload.data), confirmed=False)
            self.upload = None
        return reply


class FakeGun:
    """The part of a connected Gun the transport uses, over :class:`FakeSMPServer`: ``family_command`` (one SMP
    frame out, one back), ``reconnect`` and ``info.serial_number``; connection loss injected by ``drop_after``
    (after that many more requests the link is lost until :meth:`reconnect`), device resets by ``reset_after``."""

    def __init__(self, server: FakeSMPServer | None = None, serial: str = "FAKE0001") -> None:
        self.server = server or FakeSMPServer()
        self.info = SimpleNamespace(serial_number=serial, model="MG-1", hardware_revision="B")
        self.connected = True
        self.drop_after: int | None = None
        self.reset_after: int | None = None
        self.forget_upload_on_reset = False
        self.reconnects = 0
        self.sent = 0
        self.line_s = 0.001

    async def family_command(self, family: str, name: str, **fields: Any) -> dict[str, Any]:
        assert (family, name) == ("firmware_update", "smp_request"), (family, name)
        if not self.connected:
            raise ConnectionLost("the link to the fake gun is down")
        await asyncio.sleep(self.line_s)  # the line's time (virtual in tests)
        self.sent += 1
        for attr in ("drop_after", "reset_after"):
            left = getattr(self, attr)
            if left is not None:
                if left <= 0:
                    setattr(self, attr, None)
                    self.connected = False
                    if attr == "reset_after":
                        self.server.boot()
                        if self.forget_upload_on_reset:
                            self.server.upload = None
                    raise ConnectionLost("the fake gun went away mid-request")
                setattr(self, attr, left - 1)
        reply = self.server.process(bytes(fields["frame"]))
        if self.server.requests[-1] == (OS, 5):
            self.connected = False  # the reply went out; then the device rebooted
        return {"frame": reply}

    async def reconnect(self) -> None:
        self.reconnects += 1
        self.connected = True


class PtyEndpoint:
    """:class:`FakeSMPServer` as a standard SMP serial endpoint (console framing: base64 lines of ``smp.packet``)
    on a pty, served by a thread: ``path`` is the device path for ``smp-serial://``."""

    def __init__(self, server: FakeSMPServer | None = None) -> None:
        self.server = server or FakeSMPServer()
        self._master, slave = os.openpty()
        import tty

        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buffer = b""
        decoder = smppacket.decode()
        next(decoder)
        while not self._stop.is_set():
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    decoder.send(line + b"\n")
                except StopIteration as done:
                    reply = self.server.process(done.value)
                    for packet in smppacket.encode(reply, line_length=128):
                        os.write(self._master, packet)
                    decoder = smppacket.decode()
                    next(decoder)

    def close(self) -> None:
        self._stop.set()
        os.close(self._slave)
        os.close(self._master)
