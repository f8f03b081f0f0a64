"""The ``usb://`` transport (``mesogun.transports.usb``) over the simulated USB stack
(``mesogun.testing.usb_backend``): simulated guns seen by pyusb as CDC-ACM devices, opened by VID:PID and by
serial number, a Gun firing over USB with its record, an unplug and a replug, ``mesogun devices``, and the
zero-length packets at multiples of wMaxPacketSize."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mesogun
from firmware_protocol import StreamDecoder, decode_message, make, to_wire
from mesogun import HostState
from mesogun.cli import main
from mesogun.cli.devices import devices_command
from mesogun.errors import ConnectionLost, ParameterError, PortNotFound
from mesogun.record import TreatmentRecord
from mesogun.record.session_recorder import SessionRecorder
from mesogun.testing.usb_backend import SimUsbBackend, SimUsbDevice
from mesogun.testing.usb_backend import usb_guns as plugged_guns
from mesogun.transports import transport_for_url
from mesogun.transports.usb import UsbTransport, list_usb_guns, parse_usb_url, use_backend
from sims.inprocess import InProcessSim, start_inprocess

QUIET = "status_period_ms=0"
"""No periodic status: what a test reads is what it asked for."""


def usb_guns(*serials: str, query: str = QUIET, **plug: Any) -> Any:
    """Simulated guns on a simulated USB stack, quiet unless ``query`` says otherwise."""
    return plugged_guns(*serials, query=query, **plug)


def names(data: bytes) -> list[str]:
    return [decode_message(frame).name for frame in StreamDecoder().feed(data)]


async def read_frames(transport: UsbTransport, count: int) -> list[str]:
    data = b""
    while len(names(data)) < count:
        chunk = await asyncio.wait_for(transport.read(), timeout=2)
        assert chunk, "the stream ended"
        data += chunk
    return names(data)


def test_open_by_serial_claims_the_cdc_acm_function_and_gives_it_back_on_close(virtual: Any) -> None:
    """Of two guns the one named opens: kernel drivers detached, 115200 8N1, DTR up; a command and its reply
    cross the bulk endpoints; closing drops DTR and gives both interfaces back to the kernel's driver."""

    async def scenario() -> None:
        async with usb_guns("USB0001", "USB0002") as (backend, _):
            first, second = backend.devices
            transport = transport_for_url("usb://1209:6D67/USB0002")
            assert isinstance(transport, UsbTransport)
            await transport.open()
            assert second.kernel_driver == {0: False, 1: False} and first.kernel_driver == {0: True, 1: True}
            assert second.line_coding == (115200, 0, 0, 8) and second.dtr and second.rts
            await transport.write(to_wire(make("get_status", seq=1)))
            assert await read_frames(transport, 1) == ["status"]
            assert (first.connections, second.connections) == (0, 1)
            await transport.close()
            assert second.kernel_driver == {0: True, 1: True} and not second.dtr
            assert await transport.read() == b""

    virtual(scenario)


def test_vid_pid_alone_opens_the_only_gun_and_refuses_to_guess_between_two(virtual: Any) -> None:
    async def scenario() -> None:
        async with usb_guns("USB0001"):
            transport = UsbTransport("usb://1209:6D67")
            await transport.open()
            assert transport.serial_number == "USB0001"  # a reconnect looks for this one
            await transport.close()
        async with usb_guns("USB0001", "USB0002"):
            with pytest.raises(ParameterError, match=r"2 USB guns 1209:6D67 .*usb://1209:6D67/USB0001, usb://"):
                await UsbTransport("usb://1209:6D67").open()

    virtual(scenario)


def test_a_wrong_serial_or_vid_pid_is_port_not_found_naming_what_is_plugged_in(virtual: Any) -> None:
    async def scenario() -> None:
        async with usb_guns("USB0001", "USB0002"):
            with pytest.raises(PortNotFound, match=r"with serial number 'NOPE' \(found: usb://1209:6D67/USB0001, "):
                await UsbTransport("usb://1209:6D67/NOPE").open()
            with pytest.raises(PortNotFound, match=r"no USB gun 1209:0001 \(found: none"):
                await UsbTransport("usb://1209:0001").open()

    virtual(scenario)


def test_a_gun_another_program_holds_is_busy(virtual: Any) -> None:
    async def scenario() -> None:
        async with usb_guns("USB0001"):
            holder = UsbTransport("usb://1209:6D67/USB0001")
            await holder.open()
            with pytest.raises(PortNotFound, match="busy: another program has the gun open"):
                await UsbTransport("usb://1209:6D67/USB0001").open()
            await holder.close()

    virtual(scenario)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("usb://12096D67", "is no VID:PID"),
        ("usb://1209:10000", "0000..FFFF"),
        ("usb://1209:6D67/A/B", "one serial number"),
        ("usb://1209:6D67?speed=9", "unknown option 'speed'"),
        ("usb://1209:6D67?backend=winusb", "backend='winusb' is none of libusb0, libusb1, openusb"),
    ],
)
def test_a_malformed_url_is_a_parameter_error_before_anything_opens(url: str, said: str) -> None:
    with pytest.raises(ParameterError, match=said):
        transport_for_url(url)


def test_a_url_names_vid_pid_serial_and_backend() -> None:
    target = parse_usb_url("usb://1209:6d67/GUN%2F7?backend=libusb0")
    assert (target.vid_pid, target.serial_number, target.backend) == ("1209:6D67", "GUN/7", "libusb0")
    assert parse_usb_url("usb://").vid_pid == "1209:6D67"
    with pytest.raises(ParameterError, match="not a serial line"):
        transport_for_url("usb://1209:6D67", baudrate=9600)


async def ready_to_fire(gun: mesogun.Gun) -> None:
    await gun.load_syringe(capacity_ml=5, fill_ml=5)
    await gun.prime(volume_ml=0.1)
    await gun.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=5, mode="burst")
    await gun.arm()


def test_a_gun_over_usb_fires_with_its_record_as_over_sim(virtual: Any, tmp_path: Path) -> None:
    """Every shot the Gun reports is the device's and the record's: the same flow and checks as sim://."""
    db = tmp_path / "record.sqlite"

    async def scenario() -> tuple[list[int], Any]:
        async with usb_guns("USB0042", query="") as (_, (sim,)):
            async with mesogun.connect("usb://1209:6D67/USB0042", recorder=SessionRecorder(db)) as gun:
                assert gun.info.serial_number == "USB0042"
                await ready_to_fire(gun)
                shots = await gun.fire(count=4)
                assert all(s.depth_mm == 1.5 and s.dose_ml == 0.02 for s in shots)
                await gun.disarm()
                assert gun.state is HostState.READY
            return [s.index for s in shots], sim.device.snapshot()

    indexes, snapshot = virtual(scenario)
    assert indexes == [1, 2, 3, 4]
    assert snapshot.shots_session == 4 and snapshot.shots_lifetime == 4
    assert snapshot.executed["fire"] == 1 and snapshot.executed["arm"] == 1
    with TreatmentRecord(db, create=False) as record:
        rows = [row for summary in record.sessions() for row in record.shots(summary.session)]
    assert [(r.shot_index, r.received, r.depth_um, r.dose_nl) for r in rows] == [
        (i, True, 1500, 20000) for i in indexes
    ]


def test_unplug_is_connection_lost_and_a_replug_is_found_again_by_serial_number(virtual: Any) -> None:
    """Fault: the USB cable pulled while armed. Commands raise ConnectionLost at once; the device's watchdog
    stops it; plugged in again (a new USB device, another address) the Gun finds it by serial number."""

    async def scenario() -> None:
        async with (
            usb_guns("USB0777", query="") as (backend, (sim,)),
            mesogun.connect("usb://1209:6D67/USB0777") as gun,
        ):
            await ready_to_fire(gun)
            backend.unplug("USB0777")
            with pytest.raises(ConnectionLost):
                await gun.fire(count=2)
            assert gun.state is HostState.DISCONNECTED
            with pytest.raises(PortNotFound, match="did not come back"):
                await gun.reconnect(attempts=2, interval=0.1)  # still unplugged
            await asyncio.sleep(2.0)
            assert sim.device.snapshot().last_watchdog_trip is not None  # the device stopped itself
            replugged = backend.plug(sim)
            await gun.reconnect(attempts=3, interval=0.1)
            assert gun.info.serial_number == "USB0777" and replugged.connections == 1
            await gun.clear_alarm()
            await gun.arm()
            assert [s.index for s in await gun.fire(count=2)] == [1, 2]

    virtual(scenario)


def test_mesogun_devices_lists_the_usb_guns(virtual: Any) -> None:
    async def scenario() -> tuple[Any, Any, Any]:
        async with usb_guns("USB0001", "USB0002"):
            runner = CliRunner()
            return (
                runner.invoke(devices_command, ["--json"]),
                runner.invoke(devices_command, []),
                runner.invoke(devices_command, ["--vid-pid", "1209:0001"]),
            )

    as_json, as_text, other_id = virtual(scenario)
    assert as_json.exit_code == 0, as_json.output
    rows = [row for row in json.loads(as_json.output) if row["device"].startswith("usb://")]
    assert rows == [
        {
            "device": f"usb://1209:6D67/{serial}",
            "vid_pid": "1209:6D67",
            "serial_number": serial,
            "description": "MesoGun MG-1 (simulated)",
        }
        for serial in ("USB0001", "USB0002")
    ]
    assert "usb://1209:6D67/USB0002" in as_text.output and "MesoGun MG-1 (simulated)" in as_text.output
    assert "usb://" not in other_id.output


def test_listing_reads_strings_without_taking_the_gun_from_its_host(virtual: Any) -> None:
    async def scenario() -> None:
        async with usb_guns("USB0001") as (backend, _):
            holder = UsbTransport("usb://1209:6D67/USB0001")
            await holder.open()
            assert [gun.serial_number for gun in list_usb_guns()] == ["USB0001"]
            await holder.write(to_wire(make("get_status", seq=1)))
            assert await read_frames(holder, 1) == ["status"]
            assert backend.devices[0].connections == 1
            await holder.close()

    virtual(scenario)


# ---------------------------------------------------------------------------------------------- zero-length packets


def status_padded_to(size: int) -> bytes:
    """A get_status frame padded with frame delimiters to exactly ``size`` bytes (the decoder skips empty runs)."""
    frame = to_wire(make("get_status", seq=1))
    return frame + b"\x00" * (size - len(frame))


def test_a_write_of_a_whole_packet_ends_with_a_zlp_so_the_device_takes_it(virtual: Any) -> None:
    """The simulated device takes the host's bytes when a transfer ends (a short packet or a ZLP): 64 bytes
    without a ZLP would wait there; the transport sends one, and the device answers."""

    async def scenario() -> tuple[list[int], list[str]]:
        async with usb_guns("USB0001") as (backend, _):
            device = backend.devices[0]
            transport = UsbTransport("usb://1209:6D67/USB0001")
            await transport.open()
            device.out_packets.clear()
            await transport.write(status_padded_to(128))
            got = await read_frames(transport, 1)
            await transport.write(status_padded_to(70))
            got += await read_frames(transport, 1)
            await transport.close()
            return list(device.out_packets), got

    packets, got = virtual(scenario)
    assert packets == [64, 64, 0, 64, 6]  # a ZLP after 128 bytes, none after 70
    assert got == ["status", "status"]


@pytest.mark.parametrize("sends_zlp", [True, False], ids=["device-sends-zlp", "device-without-zlp"])
def test_device_bytes_ending_on_a_packet_boundary_arrive_at_once_and_a_zlp_is_not_the_end(
    virtual: Any, sends_zlp: bool
) -> None:
    """The gun's line carries exactly 64 bytes, then a frame, in the same turn. With its ZLP between them, the
    empty read is skipped, neither the end of the stream nor of the reading; without one, reading one packet at
    a time does not hold the 64 bytes back."""

    async def scenario() -> tuple[bytes, list[bytes | ConnectionLost]]:
        async with usb_guns("USB0001", sends_zlp=sends_zlp) as (backend, _):
            device: SimUsbDevice = backend.devices[0]
            transport = UsbTransport("usb://1209:6D67/USB0001")
            await transport.open()
            chunks: list[bytes | ConnectionLost] = []
            transport.set_receiver(chunks.append)
            assert device.connection is not None
            sent = bytes(range(1, 65)) + to_wire(make("heartbeat", seq=9))  # 64 bytes of a frame still to come
            device.connection.to_host.send(sent[:64])
            device.connection.to_host.send(sent[64:])
            await asyncio.sleep(0.01)
            await transport.close()
            return sent, chunks

    sent, chunks = virtual(scenario)
    assert all(isinstance(chunk, bytes) and chunk for chunk in chunks), chunks  # no end, no loss
    assert b"".join(c for c in chunks if isinstance(c, bytes)) == sent


# ---------------------------------------------------------------------------------------------- the thread path


def test_with_a_blocking_backend_a_reader_thread_moves_the_bytes_and_reports_the_unplug(real: Any) -> None:
    """As with libusb: reads block (up to their timeout) on the transport's own thread, never on the loop."""

    async def scenario() -> None:
        sim: InProcessSim = await start_inprocess(f"serial=USBT001&{QUIET}")
        backend = SimUsbBackend(blocking=True)
        backend.plug(sim)
        transport = UsbTransport("usb://1209:6D67/USBT001", backend=backend)
        try:
            await transport.open()
            await transport.write(to_wire(make("get_status", seq=1)))
            assert await read_frames(transport, 1) == ["status"]
            backend.unplug("USBT001")
            with pytest.raises(ConnectionLost, match="unplugged or reset"):
                while True:
                    assert await asyncio.wait_for(transport.read(), timeout=2)
            with pytest.raises(ConnectionLost):
                await transport.write(b"\x00")
        finally:
            await transport.close()
            await sim.close()

    real(scenario)


def test_mesogun_devices_probe_says_hello_to_a_usb_gun_and_ignores_baud_for_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The probe runs on its own event loop and the simulator on another thread's (as a real gun is elsewhere):
    through the blocking backend, the USB gun answers hello; --baud, for the serial ports, does not refuse it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[InProcessSim, SimUsbBackend]:
        sim = await start_inprocess(f"serial=USBP001&{QUIET}")
        backend = SimUsbBackend(blocking=True)
        backend.plug(sim)
        return sim, backend

    sim, backend = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    try:
        with use_backend(backend):
            code = main(["devices", "--probe", "--json", "--baud", "9600"])
    finally:
        asyncio.run_coroutine_threadsafe(sim.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    out, err = capsys.readouterr()
    assert code == 0, err
    (row,) = [row for row in json.loads(out) if row["device"].startswith("usb://")]
    assert row["probe"]["gun"] is True and row["probe"]["serial_number"] == "USBP001"
