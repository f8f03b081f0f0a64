"""The host transfer: smpclient's upload over the firmware_update family (GunSMPTransport) and over a standard SMP
serial endpoint, verified first, resumed from the device's offset, refused while the device says so."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from mesogun.errors import ConnectionLost, ParameterError
from mesogun.firmware import FirmwareImageError, generate_dev_key, sign_image, simulated_payload
from mesogun.firmware.smp_errors import SMPRefused, UploadFailed, UploadRunning
from mesogun.firmware.smp_link import SMP_FRAME_MAX, GunSMPTransport, gun_target, open_smp_target
from mesogun.firmware.transfer import FirmwareUpdater, UploadPolicy, UploadProgress
from tests.mesogun.firmware.fake_smp import FakeGun, FakeImageError, FakeSMPServer, PtyEndpoint, fake_check, fake_image

Runner = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]

POLICY = UploadPolicy(trusted_keys=(b"k" * 32,), model="MG-1", hardware_revision="B")


def updater(gun: FakeGun) -> FirmwareUpdater:
    return FirmwareUpdater(gun_target(gun), check=fake_check)


def test_upload_test_reset_confirm_over_the_family(virtual: Runner) -> None:
    gun = FakeGun()
    image = fake_image("1.1.0", size=20_000)
    reports: list[UploadProgress] = []

    async def scenario() -> None:
        async with updater(gun) as fw:
            before = await fw.info()
            assert before.running_version == "1.0.0" and before.buf_size == 1022
            result = await fw.upload(image, POLICY, progress=reports.append)
            assert result.image.version == "1.1.0" and result.previous_version == "1.0.0" and result.resumes == 0
            tested = await fw.test()
            assert tested.slot(1) is not None and tested.slot(1).pending  # type: ignore[union-attr]
            after = await fw.reset()
            assert after.running_version == "1.1.0" and not after.running.confirmed  # type: ignore[union-attr]
            confirmed = await fw.confirm()
            assert confirmed.running.confirmed  # type: ignore[union-attr]

    virtual(scenario)
    assert gun.server.slots[0].image == image
    assert reports[-1].done == reports[-1].total == len(image)
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    # chunk size from the device's buffer: every request frame fits it, and they are nearly full
    offsets = gun.server.upload_offsets
    steps = [b - a for a, b in itertools.pairwise(offsets)]
    assert min(steps[:-1]) > 900 and max(steps) < gun.server.buf_size


def test_chunks_follow_a_smaller_device_buffer(virtual: Runner) -> None:
    gun = FakeGun(FakeSMPServer(buf_size=256))

    async def scenario() -> None:
        async with updater(gun) as fw:
            await fw.upload(fake_image("1.1.0", size=3000), POLICY)

    virtual(scenario)
    offsets = gun.server.upload_offsets
    assert max(b - a for a, b in itertools.pairwise(offsets)) < 256


def test_transport_caps_frames_at_one_message_whatever_the_buffer_says() -> None:
    transport = GunSMPTransport(FakeGun())
    transport.initialize(8192)
    assert transport.max_unencoded_size == SMP_FRAME_MAX
    transport.initialize(512)
    assert transport.max_unencoded_size == 512


@pytest.mark.parametrize("forget", [False, True], ids=["device-keeps-offset", "device-restarts"])
def test_device_reset_mid_upload_resumes_from_the_device_offset(virtual: Runner, forget: bool) -> None:
    gun = FakeGun()
    image = fake_image("1.1.0", size=30_000)
    reports: list[UploadProgress] = []

    async def scenario() -> None:
        async with updater(gun) as fw:
            gun.reset_after = 12  # the device resets on the 13th request from now (mid-upload)
            gun.forget_upload_on_reset = forget
            result = await fw.upload(image, POLICY, progress=reports.append)
            assert result.resumes == 1
            assert (result.resumed_from > 0) is not forget

    virtual(scenario)
    assert gun.reconnects == 1 and gun.server.slots[1].image == image
    offsets = gun.server.upload_offsets
    restart = offsets.index(0, 1)  # the second run starts at 0 with the same sha...
    if not forget:  # ...and goes on from where the device was
        assert offsets[restart + 1] > 0
        assert sum(1 for o in offsets if o == offsets[restart + 1]) == 1  # no chunk sent twice past the resume


def test_a_host_that_crashed_resumes_with_a_new_updater(virtual: Runner) -> None:
    server = FakeSMPServer()
    image = fake_image("1.2.0", size=25_000)

    async def crashed() -> None:
        gun = FakeGun(server)
        gun.drop_after = 10
        fw = FirmwareUpdater(gun_target(gun), check=fake_check, resume_attempts=0)
        await fw.open()
        with pytest.raises(ConnectionLost):
            await fw.upload(image, POLICY)

    async def again() -> int:
        async with updater(FakeGun(server)) as fw:
            return (await fw.upload(image, POLICY)).resumed_from

    virtual(crashed)
    reached = len(server.upload.data) if server.upload else 0
    assert reached > 0
    assert virtual(again) == reached
    assert server.slots[1].image == image


def test_refused_while_armed_with_the_devices_reason(virtual: Runner) -> None:
    gun = FakeGun(FakeSMPServer(busy_reason="the gun is armed"))

    async def scenario() -> None:
        async with updater(gun) as fw:
            with pytest.raises(SMPRefused) as refused:
                await fw.upload(fake_image("1.1.0"), POLICY)
            assert "EBUSY" in str(refused.value) and "the gun is armed" in str(refused.value)
            assert refused.value.exit_code == 3

    virtual(scenario)
    assert gun.server.upload_offsets == [0] and 1 not in gun.server.slots


def test_a_second_upload_while_one_runs_is_refused(virtual: Runner) -> None:
    gun = FakeGun()

    async def scenario() -> None:
        async with updater(gun) as first, updater(gun) as second:
            running = asyncio.ensure_future(first.upload(fake_image("1.1.0", size=40_000), POLICY))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            with pytest.raises(UploadRunning):
                await second.upload(fake_image("1.2.0"), POLICY)
            await running

    virtual(scenario)
    assert gun.server.slots[1].version == "1.1.0"


def test_another_image_while_the_device_holds_an_upload_in_progress_is_refused(virtual: Runner) -> None:
    server = FakeSMPServer()

    async def interrupted() -> None:
        gun = FakeGun(server)
        gun.drop_after = 5
        fw = FirmwareUpdater(gun_target(gun), check=fake_check, resume_attempts=0)
        await fw.open()
        with pytest.raises(ConnectionLost):
            await fw.upload(fake_image("1.1.0", size=20_000), POLICY)

    async def other() -> None:
        async with updater(FakeGun(server, serial="OTHERHOST")) as fw:
            with pytest.raises(SMPRefused, match="another image"):
                await fw.upload(fake_image("1.3.0"), POLICY)

    virtual(interrupted)
    virtual(other)


def test_bad_images_are_refused_before_a_byte_is_sent(virtual: Runner) -> None:
    gun = FakeGun()

    async def scenario() -> None:
        async with updater(gun) as fw:
            for image in (fake_image("1.1.0", signed=False), fake_image("1.1.0", model="OTHER"), fake_image("0.9.0")):
                with pytest.raises(FakeImageError):
                    await fw.upload(image, POLICY)
            with pytest.raises(ParameterError):
                await fw.upload(b"", POLICY)
            downgrade = UploadPolicy(POLICY.trusted_keys, "MG-1", "B", allow_downgrade=True)
            await fw.upload(fake_image("0.9.0"), downgrade)

    virtual(scenario)
    assert gun.server.upload_offsets[0] == 0 and gun.server.slots[1].version == "0.9.0"
    assert len([o for o in gun.server.upload_offsets if o == 0]) == 1  # only the allowed downgrade went out


def test_image_larger_than_the_slot_is_refused_by_the_device(virtual: Runner) -> None:
    gun = FakeGun(FakeSMPServer(slot_size=2000))

    async def scenario() -> None:
        async with updater(gun) as fw:
            with pytest.raises(SMPRefused, match="exceeds the slot"):
                await fw.upload(fake_image("1.1.0", size=5000), POLICY)

    virtual(scenario)
    assert 1 not in gun.server.slots


def test_corrupted_chunk_is_caught_by_the_final_hash(virtual: Runner) -> None:
    gun = FakeGun(FakeSMPServer(corrupt_at=0))

    async def scenario() -> None:
        async with updater(gun) as fw:
            with pytest.raises(UploadFailed, match="hash"):
                await fw.upload(fake_image("1.1.0", size=5000), POLICY)
            assert (await fw.info()).slot(1) is None  # nothing to test
            with pytest.raises(Exception, match="no image"):
                await fw.test()

    virtual(scenario)


def test_rollback_of_a_confirmed_update_swaps_the_previous_image_back(virtual: Runner) -> None:
    gun = FakeGun()

    async def scenario() -> None:
        async with updater(gun) as fw:
            await fw.upload(fake_image("1.1.0"), POLICY)
            await fw.test()
            await fw.reset()
            await fw.confirm()
            back = await fw.rollback()
            assert back.running_version == "1.0.0"
            assert (await fw.rollback()).running_version == "1.1.0"  # not confirmed: a reset reverts it

    virtual(scenario)


def test_smpclient_over_the_standard_serial_endpoint() -> None:
    endpoint = PtyEndpoint(FakeSMPServer(buf_size=2048))
    image = fake_image("1.1.0", size=6000)
    try:

        async def scenario() -> None:
            target = open_smp_target(f"smp-serial://{endpoint.path}?baud=921600")
            async with FirmwareUpdater(target, check=fake_check) as fw:
                assert fw.params == (2048, 4)
                result = await fw.upload(image, POLICY)
                assert result.size == len(image)
                assert (await fw.info()).slot(1).hash == hashlib.sha256(image).hexdigest()  # type: ignore[union-attr]

        asyncio.run(scenario())
    finally:
        endpoint.close()


@pytest.mark.parametrize("url", ["smp-serial://", "serial:///dev/x", "smp-serial:///dev/x?baud=fast", "sim://"])
def test_a_bad_endpoint_url_is_refused(url: str) -> None:
    with pytest.raises(ParameterError):
        open_smp_target(url)


def test_a_signed_mcuboot_image_goes_through_the_real_verify(virtual: Runner, tmp_path: Path) -> None:
    key = generate_dev_key(tmp_path / "dev.pem")
    trusted = UploadPolicy(trusted_keys=(key.public_pem,), model="MG-1", hardware_revision="B")
    payload = simulated_payload("1.1.0", size=6000)
    signed = sign_image(
        payload, key_path=key.private_path, version="1.1.0", model="MG-1", hardware_revision="B", slot_size=64 * 1024
    )
    other = generate_dev_key(tmp_path / "other.pem")
    stranger = sign_image(
        payload, key_path=other.private_path, version="1.1.0", model="MG-1", hardware_revision="B", slot_size=65536
    )
    gun = FakeGun()

    async def scenario() -> None:
        async with FirmwareUpdater(gun_target(gun)) as fw:
            with pytest.raises(FirmwareImageError):
                await fw.upload(stranger, trusted)  # another signer: refused before a byte is sent
            assert gun.server.upload_offsets == []
            result = await fw.upload(signed, trusted)
            assert result.image.version == "1.1.0"
            tested = await fw.test()
            assert tested.slot(1).hash == result.image.sha256.hex()  # type: ignore[union-attr]

    virtual(scenario)
