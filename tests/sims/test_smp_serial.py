"""The simulated gun's standard SMP serial endpoint: the field's client, `smpclient` (SMPClient over its own
SMPSerialTransport on a real pty), uploads a signed image and reads back the image state (issue 17, item 4); the
same SMP server as the family messages behind it; console framing details (lines, CRC, garbage) in process."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from smp import image_management as smpimg
from smp import os_management as smpos
from smp import packet as smppacket
from smpclient import SMPClient
from smpclient.generics import success
from smpclient.requests.image_management import ImageStatesRead, ImageStatesWrite
from smpclient.requests.os_management import EchoWrite, ResetWrite
from smpclient.transport.serial import SMPSerialTransport

from sims.config import SIM_FIRMWARE_VERSION
from sims.device import SimulatedGun
from sims.smp_serial import DEFAULT_BUF_SIZE, SmpSerialEndpoint, encode, serve_on_pty
from tests.conftest import Runner
from tests.sims.firmware_support import DevKey, FamilyClient, config, make_key, sign


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevKey, Path, bytes]:
    folder = tmp_path_factory.mktemp("serial")
    key = make_key(folder)
    return key, folder, sign(key, "1.5.0", folder=folder, size=16_000)


def test_smpclient_uploads_over_a_pty_and_reads_back_the_image_state(
    real: Runner, setup: tuple[DevKey, Path, bytes]
) -> None:
    key, folder, image = setup

    async def main() -> None:
        gun = SimulatedGun(config(key, folder=folder, status_period_ms=0))
        await gun.start()
        served = serve_on_pty(gun)
        try:
            client = SMPClient(SMPSerialTransport(), served.path, timeout_s=5.0)
            await client.connect()
            assert client._transport.max_unencoded_size == DEFAULT_BUF_SIZE - 4  # read from MCUmgr params
            echo = await client.request(EchoWrite(d="hello"))
            assert success(echo) and echo.r == "hello"
            offsets = [off async for off in client.upload(image)]
            assert offsets[-1] == len(image)
            states = await client.request(ImageStatesRead())
            assert success(states)
            assert [(s.slot, s.version, bool(s.active)) for s in states.images] == [
                (0, SIM_FIRMWARE_VERSION, True),
                (1, "1.5.0", False),
            ]
            new_hash = states.images[1].hash
            assert new_hash is not None
            tested = await client.request(ImageStatesWrite(hash=bytes(new_hash)))
            assert success(tested) and tested.images[1].pending
            assert success(await client.request(ResetWrite()))
            await asyncio.sleep(0.2)
            assert gun.identity["firmware_version"] == "1.5.0"
            states = await client.request(ImageStatesRead())
            assert success(states) and states.images[0].version == "1.5.0" and states.images[0].active
            await client.disconnect()
        finally:
            served.close()
            await gun.close()

    real(main)


def test_the_endpoint_shares_the_guns_smp_server_with_the_family_messages(
    virtual: Runner, setup: tuple[DevKey, Path, bytes]
) -> None:
    key, folder, image = setup

    async def main() -> None:
        gun = SimulatedGun(config(key, folder=folder))
        await gun.start()
        family = FamilyClient(gun)
        family.upload(image, until=1800)  # begun over the family messages
        endpoint = SmpSerialEndpoint(gun)
        out: list[bytes] = []
        endpoint.attach(out.append)
        state = smpimg.ImageUploadWriteRequest(off=0, data=image[:64], len=len(image), sha=b"\x00" * 32, image=0)
        for line in smppacket.encode(state.BYTES):
            endpoint.receive(b"console text " + line[:5])  # console noise before, a line split anywhere
            endpoint.receive(line[5:])
        body = _decode(out)
        assert body["rc"] == 10 and "in progress at off 1800" in str(body["rsn"])  # EBUSY: one upload per gun
        await gun.close()

    virtual(main)


def test_a_line_with_a_bad_crc_is_dropped_and_the_next_request_answered(virtual: Runner) -> None:
    async def main() -> None:
        gun = SimulatedGun()
        await gun.start()
        endpoint = SmpSerialEndpoint(gun)
        out: list[bytes] = []
        endpoint.attach(out.append)
        good = list(encode(smpos.EchoWriteRequest(d="again").BYTES))
        bad = bytearray(good[0])
        bad[4] = ord("A") if bad[4] != ord("A") else ord("B")
        endpoint.receive(bytes(bad))
        assert out == [] and endpoint.dropped == 1
        for line in good:
            endpoint.receive(line)
        assert _decode(out)["r"] == "again"
        await gun.close()

    virtual(main)


def _decode(lines: list[bytes]) -> dict[str, object]:
    import cbor2

    decoder = smppacket.decode()
    next(decoder)
    for line in lines:
        try:
            decoder.send(line)
        except StopIteration as done:
            frame: bytes = done.value
            body = cbor2.loads(frame[8:])
            assert isinstance(body, dict)
            return body
    raise AssertionError(f"no whole response in {lines!r}")


def test_the_pty_endpoint_paces_bytes_at_the_lines_baud_rate(virtual: Runner) -> None:
    """On a 9600-baud line an echo's request and answer take 10/9600 s a byte each way (virtual time)."""
    import os

    from sims.impairments import Impairments

    async def main() -> None:
        gun = SimulatedGun()
        await gun.start()
        served = serve_on_pty(gun, impairments=Impairments(baud=9600))
        client = os.open(served.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            request = b"".join(encode(smpos.EchoWriteRequest(d="paced" * 10).BYTES))
            os.write(client, request)
            loop = asyncio.get_running_loop()
            sent, line_s = loop.time(), len(request) * 10 / 9600
            await asyncio.sleep(line_s * 0.9)
            with pytest.raises(BlockingIOError):
                os.read(client, 4096)  # still on the line to the gun
            answer = b""
            while b"\n" not in answer:
                assert loop.time() - sent < 10, "no answer"
                await asyncio.sleep(0.01)
                with contextlib.suppress(BlockingIOError):
                    answer += os.read(client, 4096)
            assert loop.time() - sent >= line_s + len(answer) * 10 / 9600
            assert _decode([answer])["r"] == "paced" * 10
        finally:
            os.close(client)
            served.close()
            await gun.close()

    virtual(main)
