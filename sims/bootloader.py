"""The simulated gun's bootloader: MCUboot's two slots, test / confirm / revert swaps that survive a power cut,
and device-side verification of every image against the device's pinned public key.

Flash layout (:class:`Layout`): slot 0 (primary: the image that runs), slot 1 (secondary: where an upload goes),
one scratch sector, one trailer sector per slot and one swap-status sector. A trailer holds MCUboot's flags, each
programmed once and cleared only by erasing the sector: ``magic`` (slot 1: a swap is requested; slot 0: the image
came by a swap), ``image_ok`` (confirmed; on slot 1 with magic: a permanent request) and ``copy_done``.

At every power-on (:meth:`Bootloader.boot`):

1. an interrupted swap (a start record in the status sector) is resumed from its last recorded step;
2. otherwise slot 1's magic asks for a swap (test, or permanent with image_ok), done only if slot 1 verifies; a
   swapped-in image that was never confirmed (slot 0: magic and copy_done without image_ok) is swapped back
   (revert) at the next power-on;
3. slot 0 is verified (hash, signature by the pinned key, this gun's model and hardware revision; the image the
   factory flashed is trusted as flashed) and booted.

A swap exchanges the slots sector by sector through the scratch sector (MCUboot's swap-scratch): three steps per
sector (slot 1 → scratch, slot 0 → slot 1, scratch → slot 0), each followed by a status record with a CRC. The
source of every step is intact until the next step's record is written, so a power cut at any operation is
resumed by redoing the first unrecorded step; a torn record fails its CRC and counts as not written.

Confirmation (the choice issue 17 asks to name): the running application confirms its image itself once its
self-test passes (``SimulatedGun`` runs it ``DeviceConfig.self_test_ms`` after boot), and a host may confirm it
earlier with SMP's image state write ``confirm``; an image whose payload says ``"self_test": "fail"`` never
confirms (a host's confirm is refused) and resets itself, so MCUboot reverts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from firmware_protocol import firmware_payload, mcuboot
from firmware_protocol.errors import ImageError
from sims.flash import Flash

# --------------------------------------------------------------------------------------------------- images

IMAGE_MAGIC = mcuboot.IMAGE_MAGIC
HEADER_SIZE = mcuboot.HEADER_SIZE
TRAILER_SIZE = mcuboot.TRAILER_SIZE
"""MCUboot's swap trailer as imgtool reserves it by default: an image must leave this much of its slot free."""
_T = mcuboot.TlvType


class ImageProblem(Exception):
    """Why an image is not bootable on this device (the message of the
    :class:`~firmware_protocol.errors.ImageError` of :mod:`firmware_protocol.mcuboot` that refused it)."""


@dataclass(frozen=True)
class ParsedImage:
    """A verified MCUboot image as the bootloader and the SMP server see it."""

    version: str
    """``major.minor.revision`` (``+build`` when the build is not 0)."""
    sha256: bytes
    """The image hash (the SHA256 TLV): what SMP's image state names the image by."""
    size: int
    """Header + payload + both TLV areas: the bytes the image occupies in its slot."""
    payload: bytes
    signed: bool
    """Whether an ED25519 signature by the pinned key verified (the built-in factory image is not signed)."""
    model: str | None
    hardware_revision: str | None


def verify_image(
    data: bytes,
    public_key_pem: bytes | None,
    *,
    model: str | None = None,
    hardware_revision: str | None = None,
    require_signature: bool = True,
) -> ParsedImage:
    """``data`` checked by :func:`firmware_protocol.mcuboot.verify` (layout, hash, a signature by
    ``public_key_pem``, model and hardware revision when given), the host's own verifier; without
    ``require_signature`` only the layout and the hash (the factory image, trusted as flashed). Raises
    :class:`ImageProblem` naming the first check that fails."""
    try:
        image = mcuboot.parse(data)
        if require_signature:
            keys = [public_key_pem] if public_key_pem is not None else []
            verified = mcuboot.verify(data, trusted_keys=keys, model=model, hardware_revision=hardware_revision)
            digest, signed = verified.sha256, True
        else:
            digest, signed = mcuboot.image_hash(data, image), False
            carried = image.unprotected(_T.SHA256)
            if not carried or any(value != digest for value in carried):
                raise ImageProblem(f"the image hash is {digest.hex()[:16]}…, not the one the image carries")
            if public_key_pem is not None:
                with contextlib.suppress(ImageError):
                    signed = bool(mcuboot.verify(data, trusted_keys=[public_key_pem]))
    except ImageError as error:
        raise ImageProblem(str(error)) from None
    texts = {t: v.decode("utf-8", "replace") for t in (_T.MODEL, _T.HARDWARE_REVISION) if (v := image.protected(t))}
    return ParsedImage(
        version=str(image.version),
        sha256=digest,
        size=image.end,
        payload=mcuboot.payload_of(data, image),
        signed=signed,
        model=texts.get(_T.MODEL),
        hardware_revision=texts.get(_T.HARDWARE_REVISION),
    )


def image_extent(data: bytes) -> int | None:
    """How many bytes the MCUboot image at the start of ``data`` occupies (``None``: no image there)."""
    try:
        return mcuboot.parse(data).end
    except ImageError:
        return None


def read_manifest(payload: bytes) -> dict[str, str]:
    """The simulated firmware's manifest (``firmware_version``, ``self_test``); an image whose payload is no
    manifest (a real binary) passes its self-test."""
    manifest = firmware_payload.read_manifest(payload)
    if manifest is None:
        return {"self_test": "pass"}
    return {"firmware_version": manifest.firmware_version, "self_test": manifest.self_test}


def build_factory_image(version: str, *, model: str, hardware_revision: str, slot_size: int) -> bytes:
    """The image a simulated gun leaves the factory with when none is configured: the manifest of ``version``
    (self-test passing), hashed but not signed (the simulator generates no key; it is trusted as flashed)."""
    parsed = mcuboot.ImageVersion.parse(version)
    payload = firmware_payload.build_payload(version)
    protected_tlvs = b"".join(
        struct.pack("<HH", kind, len(text.encode())) + text.encode()
        for kind, text in ((_T.MODEL, model), (_T.HARDWARE_REVISION, hardware_revision))
    )
    protected = struct.pack("<HH", mcuboot.TLV_PROT_INFO_MAGIC, 4 + len(protected_tlvs)) + protected_tlvs
    header: bytes = mcuboot.IMAGE_HEADER.build(
        {
            "magic": IMAGE_MAGIC,
            "load_addr": 0,
            "hdr_size": HEADER_SIZE,
            "protect_tlv_size": len(protected),
            "img_size": len(payload),
            "flags": 0,
            "version": {
                "major": parsed.major,
                "minor": parsed.minor,
                "revision": parsed.revision,
                "build": parsed.build,
            },
            "pad1": 0,
        }
    )
    hashed = header + payload + protected
    tlvs = struct.pack("<HH", _T.SHA256, 32) + hashlib.sha256(hashed).digest()
    image = hashed + struct.pack("<HH", mcuboot.TLV_INFO_MAGIC, 4 + len(tlvs)) + tlvs
    if len(image) + TRAILER_SIZE > slot_size:
        raise ValueError(f"the factory image ({len(image)} B) does not fit a {slot_size}-byte slot")
    return image


# --------------------------------------------------------------------------------------------------- flash layout


@dataclass(frozen=True)
class Layout:
    """Where each area lives in the flash (offsets in bytes)."""

    sector_size: int
    slot_sectors: int

    @property
    def slot_size(self) -> int:
        """Bytes of one slot."""
        return self.sector_size * self.slot_sectors

    @property
    def max_image_size(self) -> int:
        """The largest image a slot takes (MCUboot's trailer's room left free, as imgtool reserves it)."""
        return self.slot_size - TRAILER_SIZE

    def slot(self, number: int) -> int:
        """Offset of slot 0 or 1."""
        return number * self.slot_size

    @property
    def scratch(self) -> int:
        """Offset of the scratch sector."""
        return 2 * self.slot_size

    def trailer(self, number: int) -> int:
        """Offset of slot 0's or 1's trailer sector."""
        return 2 * self.slot_size + (1 + number) * self.sector_size

    @property
    def status(self) -> int:
        """Offset of the swap-status sector."""
        return 2 * self.slot_size + 3 * self.sector_size

    @property
    def flash_size(self) -> int:
        """Bytes of flash the layout needs."""
        return 2 * self.slot_size + 4 * self.sector_size


_MAGIC = bytes.fromhex("77c295f360d2ef7f3552506e7a736d4d")  # MCUboot's BOOT_MAGIC (v1), 16 bytes
_IMAGE_OK, _COPY_DONE = 16, 24
"""Offsets of the one-byte flags in a trailer sector (programmed to 0x01)."""
_FLAG = b"\x01"


@dataclass(frozen=True)
class Trailer:
    """A slot's trailer flags."""

    magic: bool
    image_ok: bool
    copy_done: bool


class SwapType(IntEnum):
    """What a swap does: the value kept in its start record."""

    TEST = 1
    """Slot 1's image runs once; unconfirmed, it is swapped back at the next power-on."""
    PERMANENT = 2
    """Slot 1's image runs and is confirmed already."""
    REVERT = 3
    """An unconfirmed image is swapped back out; the previous one is confirmed again."""


_RECORD = struct.Struct("<IBBHI")  # tag, kind (0 start, 1 step), a (swap type / step), b (sectors / sector), crc
_RECORD_TAG = 0x50415753  # "SWAP"
_START, _STEP = 0, 1


# --------------------------------------------------------------------------------------------------- the bootloader


class NoBootableImage(Exception):
    """Neither slot holds an image this device would boot: the gun is bricked (tests assert it never happens)."""


@dataclass(frozen=True)
class SlotState:
    """One slot as SMP's image state reports it."""

    slot: int
    image: ParsedImage
    pending: bool
    confirmed: bool
    active: bool
    permanent: bool
    bootable: bool = True
    """Whether it verifies (an image uploaded with another key, or for another model, is listed but not)."""


class Bootloader:
    """MCUboot over a :class:`~sims.flash.Flash`: boot (resuming or starting a swap), and the application's side
    (what is in each slot, mark slot 1 for test or permanently, confirm the running image).

    ``public_key``: the pinned public key (PEM, DER or raw 32 bytes; ``None``: no key pinned, so no update can be
    accepted); ``factory_image``: what slot 0 holds when the flash is blank (trusted as flashed).
    """

    def __init__(
        self,
        flash: Flash,
        layout: Layout,
        *,
        public_key: bytes | None,
        factory_image: bytes,
        model: str | None = None,
        hardware_revision: str | None = None,
    ) -> None:
        if flash.size < layout.flash_size:
            raise ValueError(f"the flash ({flash.size} B) is smaller than the layout needs ({layout.flash_size} B)")
        self.flash = flash
        self.layout = layout
        self.public_key = public_key
        self.model = model
        self.hardware_revision = hardware_revision
        self._factory_sha = hashlib.sha256(factory_image).digest()
        self._factory_size = len(factory_image)
        self.running: ParsedImage | None = None
        """The image booted last (``None`` before the first boot)."""
        if flash.fresh and flash.is_erased(layout.slot(0), HEADER_SIZE):
            self._manufacture(factory_image)

    # ------------------------------------------------------------------ verification

    def verify(self, data: bytes) -> ParsedImage:
        """``data`` verified against the pinned key and this gun's model and revision (:class:`ImageProblem`)."""
        if self.public_key is None:
            raise ImageProblem("no firmware key is pinned on this device (DeviceConfig.firmware_key): no update")
        return verify_image(data, self.public_key, model=self.model, hardware_revision=self.hardware_revision)

    def slot_image(self, number: int, *, trusted: bool = True) -> ParsedImage | None:
        """The image in a slot if it is bootable here (``trusted``: the factory image counts), else ``None``."""
        raw = self.flash.read(self.layout.slot(number), self.layout.slot_size)
        factory = raw[: self._factory_size]
        if trusted and len(factory) == self._factory_size and hashlib.sha256(factory).digest() == self._factory_sha:
            try:
                return verify_image(factory, self.public_key, require_signature=False)
            except ImageProblem:
                return None
        try:
            return self.verify(raw)
        except ImageProblem:
            return None

    def slot_hash(self, number: int) -> bytes | None:
        """The SHA256 TLV of whatever image a slot holds, verified or not (``None``: no image there)."""
        raw = self.flash.read(self.layout.slot(number), self.layout.slot_size)
        try:
            return verify_image(raw, None, require_signature=False).sha256
        except ImageProblem:
            return None

    # ------------------------------------------------------------------ trailers

    def trailer(self, number: int) -> Trailer:
        """A slot's trailer flags as the flash holds them."""
        at = self.layout.trailer(number)
        read = self.flash.read
        return Trailer(
            magic=read(at, len(_MAGIC)) == _MAGIC,
            image_ok=read(at + _IMAGE_OK, 1) == _FLAG,
            copy_done=read(at + _COPY_DONE, 1) == _FLAG,
        )

    def _set_flag(self, number: int, offset: int) -> None:
        at = self.layout.trailer(number) + offset
        if self.flash.is_erased(at, 1):
            self.flash.write(at, _FLAG)

    def _set_magic(self, number: int) -> None:
        at = self.layout.trailer(number)
        if self.flash.read(at, len(_MAGIC)) == _MAGIC:
            return
        if self.flash.is_erased(at, len(_MAGIC)):
            self.flash.write(at, _MAGIC)
            return
        t = self.trailer(number)  # a magic torn by a power cut: the sector is rewritten with it
        self._write_trailer(number, Trailer(magic=True, image_ok=t.image_ok, copy_done=t.copy_done))

    def _write_trailer(self, number: int, trailer: Trailer) -> None:
        self.flash.erase(self.layout.trailer(number))
        if trailer.magic:
            self._set_magic(number)
        if trailer.image_ok:
            self._set_flag(number, _IMAGE_OK)
        if trailer.copy_done:
            self._set_flag(number, _COPY_DONE)

    # ------------------------------------------------------------------ the application's side

    @property
    def revert_pending(self) -> bool:
        """Whether the running image came by a test swap and is not confirmed (it is swapped back at the next
        power-on)."""
        t = self.trailer(0)
        return t.magic and t.copy_done and not t.image_ok

    def confirm_running(self) -> None:
        """Confirm the running image (MCUboot's boot_write_img_confirmed): it stays at the next power-on."""
        self.flash.phase("confirm")
        self._set_flag(0, _IMAGE_OK)

    def request_swap(self, *, permanent: bool) -> None:
        """Mark slot 1's image for the next power-on (the caller verified it): a test swap, or a permanent one."""
        t = self.trailer(1)
        if t.magic and t.image_ok and not permanent:  # a flag cannot be unprogrammed: the sector is rewritten
            self._write_trailer(1, Trailer(magic=True, image_ok=False, copy_done=False))
            return
        self._set_magic(1)
        if permanent:
            self._set_flag(1, _IMAGE_OK)

    def cancel_swap(self) -> None:
        """Forget a swap requested for slot 1 (its trailer erased)."""
        self.flash.erase(self.layout.trailer(1))

    def states(self) -> list[SlotState]:
        """Each slot holding an image, as SMP's image state read reports it."""
        states: list[SlotState] = []
        running = self.running
        if running is not None:
            states.append(
                SlotState(0, running, pending=False, confirmed=not self.revert_pending, active=True, permanent=False)
            )
        other = self.slot_image(1, trusted=True)
        bootable = other is not None
        if other is None:
            raw = self.flash.read(self.layout.slot(1), self.layout.slot_size)
            try:
                other = verify_image(raw, None, require_signature=False)
            except ImageProblem:
                other = None
        if other is not None:
            t1 = self.trailer(1)
            states.append(
                SlotState(
                    1,
                    other,
                    pending=t1.magic,
                    confirmed=self.revert_pending,  # the image a revert brings back was the confirmed one
                    active=False,
                    permanent=t1.magic and t1.image_ok,
                    bootable=bootable,
                )
            )
        return states

    # ------------------------------------------------------------------ boot

    def boot(self) -> ParsedImage:
        """Power-on: finish or start a swap if one is due, then verify and boot slot 0.

        :class:`~sims.flash.PowerCut` if a planned power cut strikes meanwhile (call again: the swap resumes);
        :class:`NoBootableImage` if slot 0 cannot be booted.
        """
        self.running = None
        self.flash.phase("boot")
        started = self._read_status()
        if started is not None:
            swap_type, sectors, done = started
            self._swap(swap_type, sectors, done)
        else:
            self._start_swap_if_due()
        image = self.slot_image(0)
        if image is None:
            raise NoBootableImage("slot 0 holds no image this device can boot (hash, signature, model or revision)")
        self.flash.phase("boot.app")
        self.running = image
        return image

    def _start_swap_if_due(self) -> None:
        t0, t1 = self.trailer(0), self.trailer(1)
        if t1.magic:
            if self.slot_image(1, trusted=False) is None:  # a request for an image that does not verify: dropped
                self.flash.phase("swap.refused")
                self.cancel_swap()
                return
            self._begin(SwapType.PERMANENT if t1.image_ok else SwapType.TEST)
        elif t0.magic and t0.copy_done and not t0.image_ok:
            if self.slot_image(1) is None:  # nothing to go back to: keep the running image
                self._set_flag(0, _IMAGE_OK)
                return
            self._begin(SwapType.REVERT)

    def _sectors_to_swap(self) -> int:
        size = 0
        for number in (0, 1):
            extent = image_extent(self.flash.read(self.layout.slot(number), self.layout.slot_size))
            size = max(size, extent if extent is not None else 0)
        sector = self.layout.sector_size
        return max(1, min(self.layout.slot_sectors, -(-size // sector)))

    def _begin(self, swap_type: SwapType) -> None:
        sectors = self._sectors_to_swap()
        self.flash.phase("swap.start")
        self._append_record(_START, int(swap_type), sectors)
        self._swap(swap_type, sectors, (-1, 3))

    def _swap(self, swap_type: SwapType, sectors: int, done: tuple[int, int]) -> None:
        """Swap ``sectors`` sectors, skipping the steps up to ``done`` (sector, step), then finish."""
        lay, flash = self.layout, self.flash
        size = lay.sector_size
        for sector in range(sectors):
            slot0, slot1 = lay.slot(0) + sector * size, lay.slot(1) + sector * size
            for step in (1, 2, 3):
                if (sector, step) <= done:
                    continue
                flash.phase("swap.sector")
                source, target = {1: (slot1, lay.scratch), 2: (slot0, slot1), 3: (lay.scratch, slot0)}[step]
                data = flash.read(source, size)
                flash.erase(target)
                if data.count(0xFF) != len(data):
                    flash.write(target, data)
                self._append_record(_STEP, step, sector)
        flash.phase("swap.finish")
        confirmed = swap_type is not SwapType.TEST
        self._write_trailer(0, Trailer(magic=True, image_ok=confirmed, copy_done=True))
        flash.erase(lay.trailer(1))
        flash.erase(lay.status)
        flash.phase("swap.done")

    # ------------------------------------------------------------------ the status sector

    def _records(self) -> list[tuple[int, int, int]]:
        raw = self.flash.read(self.layout.status, self.layout.sector_size)
        records: list[tuple[int, int, int]] = []
        for at in range(0, len(raw) - _RECORD.size + 1, _RECORD.size):
            chunk = raw[at : at + _RECORD.size]
            if chunk.count(0xFF) == len(chunk):
                break
            tag, kind, a, b, crc = _RECORD.unpack(chunk)
            if tag == _RECORD_TAG and crc == zlib.crc32(chunk[:-4]):
                records.append((kind, a, b))  # a torn record fails its CRC: as if never written
        return records

    def _append_record(self, kind: int, a: int, b: int) -> None:
        raw = self.flash.read(self.layout.status, self.layout.sector_size)
        for at in range(0, len(raw) - _RECORD.size + 1, _RECORD.size):
            if raw[at : at + _RECORD.size].count(0xFF) == _RECORD.size:
                head = struct.pack("<IBBH", _RECORD_TAG, kind, a, b)
                self.flash.write(self.layout.status + at, head + struct.pack("<I", zlib.crc32(head)))
                return
        raise RuntimeError("the swap-status sector is full")  # the layout keeps sectors × 3 + 1 records in one sector

    def _read_status(self) -> tuple[SwapType, int, tuple[int, int]] | None:
        """The swap in progress (type, sectors, last step recorded), or ``None``."""
        records = self._records()
        start = next(((a, b) for kind, a, b in records if kind == _START), None)
        if start is None:
            if records or not self.flash.is_erased(self.layout.status, self.layout.sector_size):
                self.flash.erase(self.layout.status)  # a torn start record: no swap had begun
            return None
        steps = [(sector, step) for kind, step, sector in records if kind == _STEP]
        return SwapType(start[0]), start[1], max(steps, default=(-1, 3))

    # ------------------------------------------------------------------ the factory

    def _manufacture(self, image: bytes) -> None:
        """Program the factory image into slot 0, confirmed (a blank flash: a new board)."""
        lay, flash = self.layout, self.flash
        for sector in range(-(-len(image) // lay.sector_size)):
            flash.erase(lay.slot(0) + sector * lay.sector_size)
        flash.write(lay.slot(0), image)
        self._write_trailer(0, Trailer(magic=False, image_ok=True, copy_done=False))
