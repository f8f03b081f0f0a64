"""The host transfer against the simulated gun's own bootloader (``sim://`` pinning a development key made at test
time, images signed with :func:`mesogun.firmware.sign_image`): smpclient's upload over the firmware_update family
(GunSMPTransport), then test, reset into it, confirm, roll back; resumed after a lost link and after a host crash,
begun again after a device reset; refused while armed with the device's reason, and while another upload runs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from smp import header as smphdr

from firmware_protocol.catalog import SMP_FRAME_MAX
from mesogun.errors import ConnectionLost, ParameterError
from mesogun.firmware import FirmwareImageError
from mesogun.firmware.smp_errors import SMPRefused, UploadFailed, UploadRunning
from mesogun.firmware.smp_link import GunSMPTransport, SMPTarget, gun_target, open_smp_target
from mesogun.firmware.transfer import FirmwareUpdater, UploadPolicy, UploadProgress
from mesogun.session.gun import connect
from mesogun.testing import sim_gun
from mesogun.testing.usb_backend import usb_guns
from mesogun.transports import transport_for_url
from mesogun.transports.sim import SimTransport
from sims.inprocess import start_inprocess
from sims.smp_serial import serve_on_pty
from tests.mesogun.firmware.sim_images import FACTORY_VERSION, MODEL, REVISION, Signer, make_signer

Runner = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return make_signer(tmp_path_factory.mktemp("firmware"))


def steps(reports: list[UploadProgress]) -> list[int]:
    return [b.done - a.done for a, b in itertools.pairwise(reports)]


async def ready_to_fire(gun: Any) -> None:
    await gun.load_syringe(capacity_ml=5, fill_ml=5)
    await gun.prime(volume_ml=0.1)
    await gun.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=5, mode="burst")
    await gun.arm()


def test_upload_test_reset_into_the_new_version_and_confirm(virtual: Runner, signer: Signer) -> None:
    image = signer.image("1.1.0")
    reports: list[UploadProgress] = []

    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, sim), FirmwareUpdater(gun_target(gun)) as fw:
            before = await fw.info()
            assert before.running_version == FACTORY_VERSION and before.buf_size == SMP_FRAME_MAX
            result = await fw.upload(image, signer.policy, progress=reports.append)
            assert (result.image.version, result.previous_version, result.resumes) == ("1.1.0", FACTORY_VERSION, 0)
            tested = await fw.test()
            assert tested.slot(1).pending  # type: ignore[union-attr]
            after = await fw.reset()
            assert after.running_version == "1.1.0" and not after.running.confirmed  # type: ignore[union-attr]
            assert gun.info.firmware_version == "1.1.0"  # a new session after the reset: the identity says so
            assert sim.device.identity["firmware_version"] == "1.1.0"
            confirmed = await fw.confirm()
            assert confirmed.running.confirmed  # type: ignore[union-attr]
            await gun.reconnect(force=True)
            assert gun.info.firmware_version == "1.1.0"

    virtual(scenario)
    assert reports[-1].done == reports[-1].total == len(image)
    # chunks sized from the device's buffer (buf_size = one message's frame): each nearly fills a frame
    assert min(steps(reports)[:-1]) > 900 and max(steps(reports)) < SMP_FRAME_MAX


def test_rollback_of_a_confirmed_update_and_of_one_on_test(virtual: Runner, signer: Signer) -> None:
    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, _), FirmwareUpdater(gun_target(gun)) as fw:
            await fw.upload(signer.image("1.1.0"), signer.policy)
            await fw.test()
            await fw.reset()
            await fw.confirm()
            back = await fw.rollback()  # the previous image marked for test, then the reset swaps it in
            assert back.running_version == FACTORY_VERSION and gun.info.firmware_version == FACTORY_VERSION
            assert not back.running.confirmed  # type: ignore[union-attr]
            again = await fw.rollback()  # not confirmed: the reset reverts it
            assert again.running_version == "1.1.0" and again.running.confirmed  # type: ignore[union-attr]

    virtual(scenario)


def test_an_image_whose_self_test_fails_reverts_by_itself(virtual: Runner, signer: Signer) -> None:
    async def scenario() -> None:
        async with sim_gun(signer.query(self_test_ms=300)) as (gun, sim), FirmwareUpdater(gun_target(gun)) as fw:
            await fw.upload(signer.image("1.2.0", self_test="fail"), signer.policy)
            await fw.test()
            booted = await fw.reset()
            assert booted.running_version == "1.2.0"  # it boots, on test...
            await asyncio.sleep(1.0)  # ...its self-test fails and the gun resets: MCUboot reverts it
            assert sim.device.identity["firmware_version"] == FACTORY_VERSION
            await gun.reconnect(force=True)
            now = await fw.info()
            assert now.running_version == FACTORY_VERSION and now.running.confirmed  # type: ignore[union-attr]
            assert gun.info.firmware_version == FACTORY_VERSION

    virtual(scenario)


def test_a_lost_link_mid_upload_resumes_from_the_devices_offset(virtual: Runner, signer: Signer) -> None:
    image = signer.image("1.1.0", size=32_000)
    reports: list[UploadProgress] = []

    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, sim), FirmwareUpdater(gun_target(gun)) as fw:

            def pull_the_cable(progress: UploadProgress) -> None:
                reports.append(progress)
                if len(reports) == 10:
                    sim.unplug()

            result = await fw.upload(image, signer.policy, progress=pull_the_cable)
            assert result.resumes == 1 and result.resumed_from == reports[9].done
            assert (await fw.info()).slot(1).version == "1.1.0"  # type: ignore[union-attr]

    virtual(scenario)
    dones = [r.done for r in reports]
    assert dones == sorted(dones) and reports[-1].done == len(image)
    assert reports[10].resumed_from == reports[9].done  # no chunk sent again


def test_a_host_that_crashed_resumes_with_a_new_connection_and_updater(virtual: Runner, signer: Signer) -> None:
    image = signer.image("1.2.0", size=32_000)

    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, sim):
            crashed = FirmwareUpdater(gun_target(gun), resume_attempts=0)
            await crashed.open()
            reached: list[int] = []

            def crash(progress: UploadProgress) -> None:
                reached.append(progress.done)
                if len(reached) == 12:
                    sim.unplug()

            with pytest.raises(ConnectionLost):
                await crashed.upload(image, signer.policy, progress=crash)
            # another process: its own connection to the gun, its own updater
            async with connect(SimTransport.attach(sim)) as again, FirmwareUpdater(gun_target(again)) as fw:
                result = await fw.upload(image, signer.policy)
                assert result.resumed_from == reached[-1] and result.resumes == 0
                assert (await fw.info()).slot(1).version == "1.2.0"  # type: ignore[union-attr]

    virtual(scenario)


def test_a_device_that_resets_mid_upload_gets_the_upload_again_from_the_start(virtual: Runner, signer: Signer) -> None:
    image = signer.image("1.1.0", size=24_000)
    reports: list[UploadProgress] = []

    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, sim), FirmwareUpdater(gun_target(gun)) as fw:

            def reset(progress: UploadProgress) -> None:
                reports.append(progress)
                if len(reports) == 8:
                    sim.device.power_cycle()  # RAM lost: the device forgets the upload in progress

            result = await fw.upload(image, signer.policy, progress=reset)
            assert result.restarts == 1 and result.resumes == 0
            await fw.test()
            assert (await fw.reset()).running_version == "1.1.0"  # the whole image, its hash checked

    virtual(scenario)
    assert reports[8].done < reports[7].done  # begun again


def test_refused_while_armed_with_the_devices_reason(virtual: Runner, signer: Signer) -> None:
    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, _), FirmwareUpdater(gun_target(gun)) as fw:
            await ready_to_fire(gun)
            with pytest.raises(SMPRefused) as refused:
                await fw.upload(signer.image("1.1.0"), signer.policy)
            assert str(refused.value) == "device refused image upload (SMP EBUSY): the gun is armed; disarm it first"
            assert refused.value.rc == "EBUSY" and refused.value.detail == "the gun is armed; disarm it first"
            assert refused.value.exit_code == 3
            await gun.disarm()
            assert (await fw.info()).slot(1) is None

    virtual(scenario)


def test_a_second_upload_while_one_runs_is_refused_by_the_host_then_by_the_device(
    virtual: Runner, signer: Signer
) -> None:
    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, sim):
            async with FirmwareUpdater(gun_target(gun)) as first, FirmwareUpdater(gun_target(gun)) as second:
                started = asyncio.Event()
                image = signer.image("1.1.0", size=32_000)

                def under_way(progress: UploadProgress) -> None:
                    if progress.done > 5000:
                        started.set()

                running = asyncio.ensure_future(first.upload(image, signer.policy, progress=under_way))
                await started.wait()
                with pytest.raises(UploadRunning, match="already running from this host"):
                    await second.upload(signer.image("1.2.0"), signer.policy)
                sim.unplug()  # the first host goes away mid-upload; the device keeps what it received
                first._resume_attempts = 0
                with pytest.raises(ConnectionLost):
                    await running
            async with connect(SimTransport.attach(sim)) as other, FirmwareUpdater(gun_target(other)) as fw:
                with pytest.raises(SMPRefused, match=r"EBUSY\): an upload of image .* is in progress at off"):
                    await fw.upload(signer.image("1.2.0"), signer.policy)
                assert (await fw.upload(signer.image("1.1.0", size=32_000), signer.policy)).resumed_from > 0

    virtual(scenario)


class TappingTransport(GunSMPTransport):
    """The real transport, every request frame noted in ``sent``."""

    def __init__(self, gun: Any, sent: list[bytes]) -> None:
        super().__init__(gun)
        self.sent = sent

    async def send_and_receive(self, data: bytes) -> bytes:
        self.sent.append(data)
        return await super().send_and_receive(data)


def test_bad_images_are_refused_before_a_byte_is_sent(virtual: Runner, signer: Signer, tmp_path: Path) -> None:
    stranger = make_signer(tmp_path)
    sent: list[bytes] = []

    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, _):
            transport = TappingTransport(gun, sent)
            async with FirmwareUpdater(SMPTarget(transport, "", "gun")) as fw:
                bad = {
                    "another signer": stranger.image("1.1.0"),
                    "another model": signer.image("1.1.0", model="MG-2"),
                    "a downgrade": signer.image("0.0.9"),
                    "tampered": signer.image("1.1.0")[:100] + b"X" + signer.image("1.1.0")[101:],
                    "truncated": signer.image("1.1.0")[:5000],
                }
                for what, image in bad.items():
                    sent.clear()
                    with pytest.raises(FirmwareImageError):
                        await fw.upload(image, signer.policy)
                    assert [smphdr.Header.loads(f[:8]).command_id for f in sent] == [0], what  # a state read only
                with pytest.raises(ParameterError):
                    await fw.upload(b"", signer.policy)
                downgrade = UploadPolicy(signer.policy.trusted_keys, MODEL, REVISION, allow_downgrade=True)
                assert (await fw.upload(signer.image("0.0.9"), downgrade)).image.downgrade

    virtual(scenario)


def test_an_image_larger_than_the_slot_is_refused_by_the_device(virtual: Runner, signer: Signer) -> None:
    async def scenario() -> None:
        async with sim_gun(signer.query(firmware_slot_kb=16)) as (gun, _), FirmwareUpdater(gun_target(gun)) as fw:
            with pytest.raises(SMPRefused, match=r"EINVAL\): an image of \d+ B is larger than slot 1 holds"):
                await fw.upload(signer.image("1.1.0", size=20_000), signer.policy)
            assert (await fw.info()).slot(1) is None

    virtual(scenario)


class DamagingTransport(GunSMPTransport):
    """One upload chunk damaged past our link's CRC (a flash or RAM fault on the device's side of the link): the
    one stand-in here, since the simulated line's damage is caught by the frame CRC before SMP sees it."""

    def __init__(self, gun: Any, chunk: int) -> None:
        super().__init__(gun)
        self._chunk, self._uploads = chunk, 0

    async def send_and_receive(self, data: bytes) -> bytes:
        header = smphdr.Header.loads(data[:8])
        if (header.group_id, header.command_id) == (smphdr.GroupId.IMAGE_MANAGEMENT, 1):
            self._uploads += 1
            if self._uploads == self._chunk:
                middle = len(data) // 2  # inside the chunk's data
                data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        return await super().send_and_receive(data)


def test_a_damaged_chunk_is_caught_by_the_final_hash(virtual: Runner, signer: Signer) -> None:
    async def scenario() -> None:
        async with sim_gun(signer.query()) as (gun, _):
            target = SMPTarget(DamagingTransport(gun, chunk=3), "", "gun")
            async with FirmwareUpdater(target) as fw:
                with pytest.raises(UploadFailed, match="hash"):
                    await fw.upload(signer.image("1.1.0"), signer.policy)
                with pytest.raises(Exception, match="no image"):
                    await fw.test()

    virtual(scenario)


def test_the_transport_caps_frames_at_one_message_whatever_the_buffer_says() -> None:
    transport = GunSMPTransport(None)  # type: ignore[arg-type]
    transport.initialize(8192)
    assert transport.max_unencoded_size == SMP_FRAME_MAX
    transport.initialize(512)
    assert transport.max_unencoded_size == 512


def test_our_host_updates_a_gun_offering_only_the_standard_serial_endpoint(real: Runner, signer: Signer) -> None:
    """smpclient's SMPSerialTransport on a real pty (``smp-serial://``): the console line's framing, the device's
    MCUmgr buffer for the chunk size; upload, test, reset into it, confirm."""
    image = signer.image("1.3.0")

    async def scenario() -> None:
        sim = await start_inprocess(signer.query(self_test_ms=100_000))
        served = serve_on_pty(sim.device)
        try:
            async with FirmwareUpdater(open_smp_target(f"smp-serial://{served.path}?baud=921600")) as fw:
                assert fw.params == (1024, 4)
                result = await fw.upload(image, signer.policy)
                assert result.size == len(image)
                assert (await fw.info()).slot(1).hash == result.image.sha256.hex()  # type: ignore[union-attr]
                await fw.test()
                after = await fw.reset()
                assert after.running_version == "1.3.0" and not after.running.confirmed  # type: ignore[union-attr]
                assert (await fw.confirm()).running.confirmed  # type: ignore[union-attr]
        finally:
            served.close()
            await sim.close()

    real(scenario)


@pytest.mark.parametrize("url", ["smp-serial://", "serial:///dev/x", "smp-serial:///dev/x?baud=fast", "sim://"])
def test_a_bad_endpoint_url_is_refused(url: str) -> None:
    with pytest.raises(ParameterError):
        open_smp_target(url)


def test_an_update_over_usb(virtual: Runner, signer: Signer) -> None:
    """The same family messages over ``usb://`` (CDC-ACM bulk endpoints through the simulated USB stack)."""

    async def scenario() -> None:
        async with (
            usb_guns("USB0017", query=signer.query()),
            connect(transport_for_url("usb://1209:6D67/USB0017")) as gun,
            FirmwareUpdater(gun_target(gun)) as fw,
        ):
            result = await fw.upload(signer.image("1.5.0"), signer.policy)
            assert result.size == len(signer.image("1.5.0"))
            await fw.test()
            assert (await fw.reset()).running_version == "1.5.0"
            assert gun.info.firmware_version == "1.5.0"

    virtual(scenario)
