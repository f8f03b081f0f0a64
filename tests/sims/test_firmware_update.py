"""The simulated gun's firmware update through its family messages (smp_request → smp_response): SMP's os_mgmt and
img_mgmt on the `smp` models, MCUboot's test / confirm / revert, the image's self-test, device-side verification
against the pinned key, and every bad input of issue 17 refused or recovered with the gun still booting a valid
image."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from smp import error as smperr
from smp import image_management as smpimg
from smp import os_management as smpos

from firmware_protocol import DeviceState, Flag, StreamDecoder, decode_message, make, to_wire
from firmware_protocol.catalog import SMP_FRAME_MAX
from sims.bootloader import verify_image
from sims.config import SIM_FIRMWARE_VERSION, DeviceConfig
from sims.device import SimulatedGun
from tests.conftest import Runner
from tests.sims.firmware_support import (
    SLOT_SIZE,
    DevKey,
    FamilyClient,
    config,
    image_hash,
    make_key,
    sign,
    slots,
)

E = smperr.MGMT_ERR
OLD = SIM_FIRMWARE_VERSION


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevKey, DevKey, Path]:
    folder = tmp_path_factory.mktemp("firmware")
    return make_key(folder, "dev"), make_key(folder, "other"), folder


@pytest.fixture(scope="module")
def images(keys: tuple[DevKey, DevKey, Path]) -> dict[str, bytes]:
    key, other, folder = keys
    return {
        "new": sign(key, "1.2.0", folder=folder),
        "newer": sign(key, "1.3.0", folder=folder, size=9_000),
        "failing": sign(key, "1.4.0", folder=folder, self_test="fail"),
        "other_key": sign(other, "1.2.0", folder=folder),
        "other_model": sign(key, "1.2.0", folder=folder, model="MG-2"),
        "big": sign(key, "2.0.0", folder=folder, size=SLOT_SIZE, slot_size=2 * SLOT_SIZE),
    }


async def _started(keys: tuple[DevKey, DevKey, Path] | None, **changes: object) -> tuple[SimulatedGun, FamilyClient]:
    cfg = config(keys[0] if keys else None, folder=keys[2] if keys else Path("."), **changes)
    gun = SimulatedGun(cfg)
    await gun.start()
    return gun, FamilyClient(gun)


async def _test_and_reset(client: FamilyClient, *, settle_s: float = 0.1) -> None:
    states = client.states()
    client.request(smpimg.ImageStatesWriteRequest(hash=image_hash(states, 1)), smpimg.ImageStatesWriteResponse)
    client.request(smpos.ResetWriteRequest(), smpos.ResetWriteResponse)
    await asyncio.sleep(settle_s)


def test_a_new_gun_runs_its_factory_image(virtual: Runner, keys: tuple[DevKey, DevKey, Path]) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        assert gun.identity["firmware_version"] == OLD
        assert list(slots(client.states())) == [(0, OLD, True, True, False)]
        params = client.request(smpos.MCUMgrParametersReadRequest(), smpos.MCUMgrParametersReadResponse)
        assert (params.buf_size, params.buf_count) == (SMP_FRAME_MAX, 4)
        echo = client.request(smpos.EchoWriteRequest(d="ping"), smpos.EchoWriteResponse)
        assert echo.r == "ping"
        await gun.close()

    virtual(main)


def test_an_update_is_tested_at_reset_and_confirms_itself_after_its_self_test(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        last = client.upload(images["new"])
        assert last.match is True and last.off == len(images["new"])
        assert [(s, v, p) for s, v, _, _, p in slots(client.states())] == [(0, OLD, False), (1, "1.2.0", False)]
        await _test_and_reset(client)
        assert gun.identity["firmware_version"] == "1.2.0"
        assert list(slots(client.states())) == [(0, "1.2.0", True, False, False), (1, OLD, False, True, False)]
        await asyncio.sleep(gun.config.self_test_ms / 1000)  # the self-test passes: the image confirms itself
        assert next(iter(slots(client.states()))) == (0, "1.2.0", True, True, False)
        gun.power_cycle()
        assert gun.identity["firmware_version"] == "1.2.0"
        await gun.close()

    virtual(main)


def test_an_unconfirmed_image_reverts_at_the_next_reset(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys, self_test_ms=60_000)
        client.upload(images["new"])
        await _test_and_reset(client)
        assert gun.identity["firmware_version"] == "1.2.0"
        client.request(smpos.ResetWriteRequest(), smpos.ResetWriteResponse)
        await asyncio.sleep(0.1)
        assert gun.identity["firmware_version"] == OLD
        assert next(iter(slots(client.states()))) == (0, OLD, True, True, False)
        assert gun.firmware.running.signed
        await gun.close()

    virtual(main)


def test_the_hosts_confirm_keeps_the_image_and_a_permanent_request_needs_no_confirm(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys, self_test_ms=60_000)
        client.upload(images["new"])
        await _test_and_reset(client)
        client.request(smpimg.ImageStatesWriteRequest(confirm=True), smpimg.ImageStatesWriteResponse)
        gun.power_cycle()
        assert gun.identity["firmware_version"] == "1.2.0"
        client.upload(images["newer"])
        new_hash = image_hash(client.states(), 1)
        states = client.request(
            smpimg.ImageStatesWriteRequest(hash=new_hash, confirm=True), smpimg.ImageStatesWriteResponse
        ).images
        assert [(s.slot, bool(s.pending), bool(s.permanent)) for s in states] == [(0, False, False), (1, True, True)]
        gun.power_cycle()
        gun.power_cycle()
        assert gun.identity["firmware_version"] == "1.3.0"
        assert next(iter(slots(client.states()))) == (0, "1.3.0", True, True, False)
        await gun.close()

    virtual(main)


def test_an_image_that_fails_its_self_test_reverts_by_itself_and_cannot_be_confirmed(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        client.upload(images["failing"])
        await _test_and_reset(client, settle_s=0.06)
        assert gun.identity["firmware_version"] == "1.4.0"
        rc, reason = client.error(smpimg.ImageStatesWriteRequest(confirm=True))
        assert rc == E.EACCESSDENIED and "failed its self-test" in reason
        await asyncio.sleep(gun.config.self_test_ms / 1000 + 0.1)  # it fails and resets itself
        assert gun.identity["firmware_version"] == OLD
        assert list(slots(client.states())) == [(0, OLD, True, True, False), (1, "1.4.0", False, False, False)]
        await gun.close()

    virtual(main)


def test_without_a_pinned_key_the_gun_runs_its_factory_image_and_refuses_updates(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(None)
        assert gun.identity["firmware_version"] == OLD
        rc, reason = client.error(
            smpimg.ImageUploadWriteRequest(off=0, data=images["new"][:512], len=len(images["new"]), image=0)
        )
        assert rc == E.EACCESSDENIED and "DeviceConfig.firmware_key" in reason
        await gun.close()

    virtual(main)


@pytest.mark.parametrize(
    ("name", "words"), [("other_key", "which is none of the 1 trusted key(s)"), ("other_model", "MG-2")]
)
def test_an_image_the_device_does_not_trust_is_refused_and_never_tested(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes], name: str, words: str
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        image = images[name]
        client.upload(image, until=len(image) - CHUNK_TAIL)
        rc, reason = client.error(smpimg.ImageUploadWriteRequest(off=len(image) - CHUNK_TAIL, data=image[-CHUNK_TAIL:]))
        assert rc == E.EACCESSDENIED and words in reason
        (listed,) = [s for s in client.states() if s.slot == 1]
        assert not listed.bootable
        rc, reason = client.error(smpimg.ImageStatesWriteRequest(hash=image_hash(client.states(), 1)))
        assert rc == E.EACCESSDENIED and words in reason
        gun.power_cycle()
        assert gun.identity["firmware_version"] == OLD
        await gun.close()

    virtual(main)


CHUNK_TAIL = 100
"""The last chunk of an upload, sent on its own to read its answer."""


def test_a_corrupted_chunk_is_caught_by_the_final_hash(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        good = images["new"]
        sha = hashlib.sha256(good).digest()
        bad = bytearray(good)
        bad[5000] ^= 0x40
        last = client.upload(bytes(bad), sha=sha)
        assert last.match is False
        assert [s.slot for s in client.states()] == [0]  # slot 1 holds no image: its hash does not match
        rc, _ = client.error(
            smpimg.ImageStatesWriteRequest(hash=verify_image(good, None, require_signature=False).sha256)
        )
        assert rc == E.ENOENT
        client.upload(good)  # the same image again, whole: accepted
        await _test_and_reset(client)
        assert gun.identity["firmware_version"] == "1.2.0"
        await gun.close()

    virtual(main)


def test_a_chunk_out_of_order_is_not_written_and_told_the_offset_expected(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        image = images["new"]
        assert client.upload(image, until=900).off == 900
        skipped = client.request(
            smpimg.ImageUploadWriteRequest(off=3000, data=image[3000:3900]), smpimg.ImageUploadWriteResponse
        )
        assert (skipped.rc, skipped.off) == (E.EINVAL, 900)
        assert client.upload(image, start=900).match is True
        await gun.close()

    virtual(main)


def test_an_interrupted_upload_resumes_from_the_offset_the_device_reached(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        image = images["new"]
        sha = hashlib.sha256(image).digest()
        client.upload(image, until=2700)
        again = client.request(
            smpimg.ImageUploadWriteRequest(off=0, data=image[:900], len=len(image), sha=sha, image=0),
            smpimg.ImageUploadWriteResponse,
        )
        assert again.off == 2700  # the host (after a crash) learns where to go on
        assert client.upload(image, start=2700).match is True
        await gun.close()

    virtual(main)


def test_a_second_upload_while_one_runs_is_busy_until_slot_1_is_erased(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        one, two = images["new"], images["newer"]
        client.request(
            smpimg.ImageUploadWriteRequest(
                off=0, data=one[:900], len=len(one), sha=hashlib.sha256(one).digest(), image=0
            ),
            smpimg.ImageUploadWriteResponse,
        )
        rc, reason = client.error(
            smpimg.ImageUploadWriteRequest(
                off=0, data=two[:900], len=len(two), sha=hashlib.sha256(two).digest(), image=0
            )
        )
        assert rc == E.EBUSY and "in progress at off 900" in reason
        client.request(smpimg.ImageEraseRequest(), smpimg.ImageEraseResponse)
        assert client.upload(two).match is True
        await gun.close()

    virtual(main)


def test_an_image_larger_than_the_slot_is_refused_before_a_byte_is_written(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        big = images["big"]
        writes = gun.firmware.flash.operations
        rc, reason = client.error(
            smpimg.ImageUploadWriteRequest(off=0, data=big[:900], len=len(big), sha=hashlib.sha256(big).digest())
        )
        assert rc == E.EINVAL and f"{len(big)} B is larger than slot 1" in reason
        assert gun.firmware.flash.operations == writes
        await gun.close()

    virtual(main)


def test_flash_operations_and_resets_are_busy_while_armed_or_firing(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        _core(gun, "hello", fingerprint=gun.config.fingerprint)
        _core(gun, "load_syringe", capacity_nl=2_000_000, fill_nl=2_000_000)
        _core(gun, "prime", volume_nl=50_000)
        await asyncio.sleep(1.5)
        _core(gun, "arm")
        assert gun.state is DeviceState.ARMED
        image = images["new"]
        for request in (
            smpimg.ImageUploadWriteRequest(off=0, data=image[:900], len=len(image), image=0),
            smpimg.ImageStatesWriteRequest(confirm=True),
            smpimg.ImageEraseRequest(),
            smpos.ResetWriteRequest(),
        ):
            rc, reason = client.error(request)
            assert rc == E.EBUSY and "the gun is armed" in reason
        assert client.states()  # reads are answered
        assert gun.state is DeviceState.ARMED
        await gun.close()

    virtual(main)


def test_a_device_reset_mid_upload_restarts_it_from_the_beginning(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes]
) -> None:
    async def main() -> None:
        gun, client = await _started(keys)
        image = images["new"]
        client.upload(image, until=1800)
        gun.power_cycle()
        lost = client.request(
            smpimg.ImageUploadWriteRequest(off=1800, data=image[1800:2700]), smpimg.ImageUploadWriteResponse
        )
        assert (lost.rc, lost.off) == (E.EINVAL, 0)
        assert client.upload(image).match is True
        await _test_and_reset(client)
        assert gun.identity["firmware_version"] == "1.2.0"
        await gun.close()

    virtual(main)


def test_an_update_survives_a_restart_of_the_simulator(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path], images: dict[str, bytes], tmp_path: Path
) -> None:
    cfg = config(keys[0], folder=keys[2])

    async def main() -> None:
        from sims.nvm import Nvm, NvmData

        nvm = tmp_path / "gun.json"
        gun = SimulatedGun(cfg, nvm=Nvm(nvm, NvmData.factory(cfg)))
        await gun.start()
        client = FamilyClient(gun)
        client.upload(images["new"])
        await _test_and_reset(client)
        await asyncio.sleep(cfg.self_test_ms / 1000)
        await gun.close()
        again = SimulatedGun(cfg, nvm=Nvm(nvm, NvmData.factory(cfg)))
        await again.start()
        assert again.identity["firmware_version"] == "1.2.0"
        await again.close()

    virtual(main)


def test_a_malformed_or_unknown_smp_request_is_answered_with_smps_error(
    virtual: Runner, keys: tuple[DevKey, DevKey, Path]
) -> None:
    async def main() -> None:
        gun, _ = await _started(keys)
        out: list[bytes] = []
        gun.attach(out.append)
        decoder = StreamDecoder()
        unknown = bytes([0x0A, 0, 0, 1, 0, 9, 7, 0]) + b"\xa0"  # shell group 9, command 0, an empty map
        for seq, frame in enumerate((b"\x00\x01", unknown, bytes([0x0A, 0, 0, 3, 0, 0, 1, 0]) + b"\xff\xff\xff"), 1):
            gun.receive(to_wire(make("smp_request", seq=seq, frame=frame)))
        replies = [decode_message(f) for f in decoder.feed(b"".join(out))]
        answers = [m for m in replies if m.flags & Flag.REPLY]
        assert [m.name for m in answers] == ["smp_response"] * 3
        codes = [_body(m["frame"])["rc"] for m in answers]
        assert codes == [E.EINVAL, E.ENOTSUP, E.EINVAL]
        await gun.close()

    virtual(main)


def _body(frame: bytes) -> dict[str, object]:
    from tests.sims.firmware_support import cbor_body

    return cbor_body(frame)


_SEQ = iter(range(1000, 2000))


def _core(gun: SimulatedGun, name: str, **fields: Any) -> None:
    """Send a core command to the gun (its reply goes to the attached client, unread)."""
    gun.receive(to_wire(make(name, seq=next(_SEQ), **fields)))


def test_sim_options_pin_a_key_and_a_factory_image_from_files(keys: tuple[DevKey, DevKey, Path]) -> None:
    from sims.errors import SimConfigError
    from sims.options import parse_query

    key, _, folder = keys
    public = folder / "dev.pub.pem"
    public.write_bytes(key.public_pem)
    factory = folder / "factory.bin"
    factory.write_bytes(sign(key, OLD, folder=folder))
    options = parse_query(f"firmware_key={public}&factory_image={factory}&self_test_ms=2000")
    assert options.device.firmware_key == key.public_pem
    assert options.device.factory_image == factory.read_bytes()
    assert options.device.self_test_ms == 2000
    with pytest.raises(SimConfigError, match="firmware_key"):
        parse_query(f"firmware_key={folder / 'missing.pem'}")


def test_the_slot_size_is_a_sim_option_in_whole_sectors() -> None:
    from sims.errors import SimConfigError
    from sims.options import parse_query

    assert parse_query("firmware_slot_kb=320").device.firmware_slot_size == 320 * 1024
    assert parse_query("").device.firmware_slot_size == DeviceConfig().firmware_slot_size
    with pytest.raises(SimConfigError, match="firmware_slot_kb=10 is no whole sector count: allowed a multiple of 4"):
        parse_query("firmware_slot_kb=10")
