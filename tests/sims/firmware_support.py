"""Test support for the simulated bootloader: development keys made at test time, images signed as the host signs
them (mesogun.firmware: imgtool's Python API), a simulated gun that pins the key, and an SMP client over its family
messages (``smp_request`` → ``smp_response``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import cbor2
from smp import image_management as smpimg
from smp import message as smpmsg

from firmware_protocol import Flag, StreamDecoder, decode_message, make, to_wire
from mesogun.firmware.image import sign_image, simulated_payload
from mesogun.firmware.keys import DevKey as DevKey  # the tests name it from here
from mesogun.firmware.keys import generate_dev_key
from sims.config import SIM_FIRMWARE_VERSION, DeviceConfig
from sims.device import SimulatedGun

MODEL = DeviceConfig().model
REVISION = DeviceConfig().hardware_revision
SLOT_SIZE = 32 * 1024
"""Small slots (8 sectors of 4 kB) keep swaps short."""
CHUNK = 900
"""Upload data per request (fits a 1022-byte SMP frame with its CBOR keys)."""

R = TypeVar("R", bound=smpmsg.Response)


def make_key(folder: Path, name: str = "dev") -> DevKey:
    """A fresh ed25519 key pair made at test time (the private key as a PEM file), never shipped as trusted."""
    return generate_dev_key(folder / f"{name}.pem")


def sign(
    key: DevKey,
    version: str,
    *,
    folder: Path,
    self_test: str = "pass",
    size: int = 12_000,
    model: str = MODEL,
    revision: str = REVISION,
    slot_size: int = SLOT_SIZE,
) -> bytes:
    """An MCUboot image of the simulated firmware, ``size`` bytes of payload, signed with ``key`` as the host's
    ``mesogun firmware sign`` signs it (imgtool's API: ed25519, key hash, model and hardware revision as protected
    custom TLVs 0xA0/0xA1)."""
    return sign_image(
        simulated_payload(version, self_test, size),
        key_path=key.private_path,
        version=version,
        model=model,
        hardware_revision=revision,
        slot_size=slot_size,
    )


def config(key: DevKey | None, *, folder: Path, **changes: Any) -> DeviceConfig:
    """A gun that pins ``key`` and left the factory with an image of the current version signed by it."""
    if key is None:
        return DeviceConfig(firmware_slot_size=SLOT_SIZE, **changes)
    factory = sign(key, SIM_FIRMWARE_VERSION, folder=folder)
    return DeviceConfig(firmware_key=key.public_pem, factory_image=factory, firmware_slot_size=SLOT_SIZE, **changes)


class FamilyClient:
    """An SMP client over a started simulated gun's family messages, in raw frames (one request, one reply)."""

    def __init__(self, gun: SimulatedGun) -> None:
        self.gun = gun
        self._out: list[bytes] = []
        gun.attach(self._out.append)
        self._decoder = StreamDecoder()
        self._seq = 0

    def frame(self, request: smpmsg.Request) -> bytes | None:
        """The response frame to ``request`` (``None``: no answer, e.g. a power cut struck)."""
        self._seq += 1
        self._out.clear()
        self.gun.receive(to_wire(make("smp_request", seq=self._seq, frame=request.BYTES)))
        replies = [decode_message(f) for f in self._decoder.feed(b"".join(self._out))]
        answers = [m for m in replies if m.flags & Flag.REPLY and m.seq == self._seq]
        if not answers:
            return None
        assert answers[0].name == "smp_response", answers[0]
        frame = answers[0]["frame"]
        assert isinstance(frame, bytes)
        return frame

    def request(self, request: smpmsg.Request, response: type[R]) -> R:
        """``request``'s successful response (an error response fails the test, with its reason)."""
        frame = self.frame(request)
        assert frame is not None, "no answer"
        body = _cbor(frame)
        assert "rsn" not in body, f"SMP error answer to {type(request).__name__}: {body}"
        return response.loads(frame)

    def error(self, request: smpmsg.Request) -> tuple[int, str]:
        """``request``'s error answer: (rc, rsn)."""
        frame = self.frame(request)
        assert frame is not None, "no answer"
        body = _cbor(frame)
        assert "rc" in body and "rsn" in body, f"not an error answer: {body}"
        return int(body["rc"]), str(body["rsn"])

    def states(self) -> list[smpimg.ImageState]:
        """The image states the device reports."""
        return self.request(smpimg.ImageStatesReadRequest(), smpimg.ImageStatesReadResponse).images

    def upload(
        self, image: bytes, *, chunk: int = CHUNK, start: int = 0, until: int | None = None, sha: bytes | None = None
    ) -> smpimg.ImageUploadWriteResponse:
        """Upload ``image`` from ``start`` (a first chunk at off 0 carries len and sha), following the device's
        offsets, up to its end (or to ``until``); the last response."""
        end = len(image) if until is None else until
        sha = sha or hashlib.sha256(image).digest()
        off = start
        while True:
            first = off == 0
            request = smpimg.ImageUploadWriteRequest(
                off=off,
                data=image[off : min(off + chunk, end)],
                len=len(image) if first else None,
                sha=sha if first else None,
                image=0 if first else None,
            )
            response = self.request(request, smpimg.ImageUploadWriteResponse)
            assert response.rc in (None, 0), f"upload answered rc {response.rc} at off {off}"
            assert response.off is not None
            off = response.off
            if off >= end:
                return response


def _cbor(frame: bytes) -> dict[str, Any]:
    body = cbor2.loads(frame[8:])
    assert isinstance(body, dict)
    return body


def cbor_body(frame: bytes) -> dict[str, Any]:
    """The CBOR map of an SMP frame."""
    return _cbor(frame)


def image_hash(states: list[smpimg.ImageState], slot: int) -> bytes:
    """The hash SMP's image state gives the image in ``slot``."""
    (state,) = [s for s in states if s.slot == slot]
    assert state.hash is not None
    return bytes(state.hash)


def slots(states: list[smpimg.ImageState]) -> Iterator[tuple[int, str, bool, bool, bool]]:
    """(slot, version, active, confirmed, pending) per image state."""
    for s in states:
        yield s.slot, s.version, bool(s.active), bool(s.confirmed), bool(s.pending)
