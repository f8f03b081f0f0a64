"""Power cuts at every flash operation of an update (during the upload, during the test swap, before the image
confirmed itself, during the revert) and at every named phase: the simulated gun always boots a valid image signed
by its pinned key, and the version it boots is the one MCUboot's rules say."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from smp import image_management as smpimg
from smp import os_management as smpos

from sims.config import SIM_FIRMWARE_VERSION
from sims.device import SimulatedGun
from tests.conftest import Runner
from tests.sims.firmware_support import DevKey, FamilyClient, config, image_hash, make_key, sign

OLD, NEW = SIM_FIRMWARE_VERSION, "1.2.0"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevKey, Path, bytes]:
    folder = tmp_path_factory.mktemp("power")
    key = make_key(folder)
    return key, folder, sign(key, NEW, folder=folder, size=10_000)


def _valid(gun: SimulatedGun) -> str:
    """The version the gun runs, after checking it boots a signed image that verifies against its key."""
    running = gun.firmware.running
    assert running.signed, "the gun runs an image its pinned key did not sign"
    assert gun.firmware.bootloader.slot_image(0) is not None
    assert gun.identity["firmware_version"] == running.version
    return running.version


async def _gun(setup: tuple[DevKey, Path, bytes], **changes: object) -> tuple[SimulatedGun, FamilyClient]:
    key, folder, _ = setup
    gun = SimulatedGun(config(key, folder=folder, **changes))
    await gun.start()
    return gun, FamilyClient(gun)


async def _update(client: FamilyClient, image: bytes) -> None:
    """Upload, test, reset: the whole update a host drives (it stops at the first unanswered request)."""
    client.upload(image)
    client.request(smpimg.ImageStatesWriteRequest(hash=image_hash(client.states(), 1)), smpimg.ImageStatesWriteResponse)
    client.request(smpos.ResetWriteRequest(), smpos.ResetWriteResponse)
    await asyncio.sleep(0.1)


def test_a_power_cut_at_any_flash_operation_of_the_upload_leaves_the_old_image(
    virtual: Runner, setup: tuple[DevKey, Path, bytes]
) -> None:
    image = setup[2]

    async def main() -> None:
        gun, client = await _gun(setup)
        before = gun.firmware.flash.operations
        client.upload(image)
        operations = gun.firmware.flash.operations - before
        await gun.close()
        assert operations > 10
        for cut in range(1, operations + 1):
            gun, client = await _gun(setup)
            gun.plan_power_cut(at_operation=cut)
            with contextlib.suppress(AssertionError):  # the request the cut struck is never answered
                client.upload(image)
            assert gun.firmware.power_cuts == 1, f"cut {cut} did not strike"
            assert _valid(gun) == OLD
            await _update(client, image)  # the host starts again: the update goes through
            assert _valid(gun) == NEW, f"after a cut at upload operation {cut}"
            await gun.close()

    virtual(main)


def test_a_power_cut_at_any_flash_operation_of_the_swap_resumes_it(
    virtual: Runner, setup: tuple[DevKey, Path, bytes]
) -> None:
    image = setup[2]

    async def main() -> None:
        gun, client = await _gun(setup)
        client.upload(image)
        client.request(
            smpimg.ImageStatesWriteRequest(hash=image_hash(client.states(), 1)), smpimg.ImageStatesWriteResponse
        )
        before = gun.firmware.flash.operations
        gun.power_cycle()
        operations = gun.firmware.flash.operations - before
        await gun.close()
        assert operations > 20
        versions = []
        for cut in range(1, operations + 1):
            for second in (None, 3):  # cut once, and cut again three operations into the resumed swap
                gun, client = await _gun(setup)
                client.upload(image)
                client.request(
                    smpimg.ImageStatesWriteRequest(hash=image_hash(client.states(), 1)),
                    smpimg.ImageStatesWriteResponse,
                )
                gun.plan_power_cut(at_operation=cut)
                if second is not None:
                    gun.plan_power_cut(at_operation=second)
                gun.power_cycle()
                struck = gun.firmware.power_cuts
                assert struck == 2 if second is not None and cut + second <= operations else struck >= 1
                versions.append(_valid(gun))
                await gun.close()
        # A cut while the status sector is being erased, after the swap finished, reverts the unconfirmed image
        # (MCUboot's rule for a reset before confirmation); every other cut resumes the swap to the new image.
        assert set(versions) <= {OLD, NEW}
        assert versions.count(NEW) >= len(versions) - 4

    virtual(main)


def test_a_power_cut_before_the_image_confirmed_itself_reverts_it_and_the_revert_survives_cuts(
    virtual: Runner, setup: tuple[DevKey, Path, bytes]
) -> None:
    image = setup[2]

    async def main() -> None:
        gun, client = await _gun(setup)
        await _update(client, image)
        assert _valid(gun) == NEW and gun.firmware.bootloader.revert_pending
        before = gun.firmware.flash.operations
        gun.power_cycle()  # before the self-test confirmed it: the revert
        operations = gun.firmware.flash.operations - before
        assert _valid(gun) == OLD
        await gun.close()
        for cut in range(1, operations + 1):
            gun, client = await _gun(setup)
            await _update(client, image)
            gun.plan_power_cut(at_operation=cut)
            gun.power_cycle()
            assert _valid(gun) == OLD, f"after a cut at revert operation {cut}"
            assert not gun.firmware.bootloader.revert_pending
            await gun.close()
        gun, client = await _gun(setup)  # the confirmation itself cut: not confirmed, so reverted
        await _update(client, image)
        gun.plan_power_cut(at_phase="confirm")
        await asyncio.sleep(gun.config.self_test_ms / 1000 + 0.1)
        assert gun.firmware.power_cuts == 1
        assert _valid(gun) == OLD
        await gun.close()

    virtual(main)


def test_a_power_cut_at_every_phase_of_an_update_leaves_a_bootable_gun(
    virtual: Runner, setup: tuple[DevKey, Path, bytes]
) -> None:
    image = setup[2]

    async def main() -> None:
        gun, client = await _gun(setup)
        gun.firmware.flash.phases.clear()
        await _update(client, image)
        await asyncio.sleep(gun.config.self_test_ms / 1000)
        phases = list(dict.fromkeys(gun.firmware.flash.phases))
        await gun.close()
        assert {"upload.chunk", "upload.complete", "swap.start", "swap.sector", "swap.finish", "confirm"} <= set(phases)
        for phase in phases:
            gun, client = await _gun(setup)
            gun.plan_power_cut(at_phase=phase)
            with contextlib.suppress(AssertionError):  # the cut request is never answered
                await _update(client, image)
            await asyncio.sleep(gun.config.self_test_ms / 1000 + 0.1)
            assert _valid(gun) in {OLD, NEW}, f"after a cut at phase {phase}"
            await gun.close()

    virtual(main)
