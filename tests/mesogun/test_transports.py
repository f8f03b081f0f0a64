"""Transports by URL, over real ptys and sockets; discovery by VID:PID and serial number."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace
from typing import Any

import pytest

from mesogun.errors import ConnectionLost, ParameterError, PortNotFound
from mesogun.transports import transport_for_url
from mesogun.transports.discovery import PortInfo, find_by_serial, list_guns
from mesogun.transports.serial import SerialTransport
from mesogun.transports.sim import SimTransport


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sim://", SimTransport),
        ("sim://?serial=SIM0002&drop=0.01", SimTransport),
        ("/dev/ttyACM0", SerialTransport),
        ("COM3", SerialTransport),
        ("socket://127.0.0.1:5000", SerialTransport),
        ("rfc2217://host:2217", SerialTransport),
        ("loop://", SerialTransport),
    ],
)
def test_url_scheme_picks_the_transport(url: str, kind: type) -> None:
    transport = transport_for_url(url)
    assert isinstance(transport, kind)
    assert transport.url == url


@pytest.mark.parametrize("url", ["", "   "])
def test_empty_url_is_a_parameter_error(url: str) -> None:
    with pytest.raises(ParameterError, match="must be a device path or a URL"):
        transport_for_url(url)


def test_missing_port_is_port_not_found(real: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(PortNotFound, match="cannot open /dev/mesogun-no-such-port"):
            await SerialTransport("/dev/mesogun-no-such-port").open()

    real(scenario)


async def read_until(transport: SerialTransport, wanted: bytes) -> bytes:
    data = b""
    while len(data) < len(wanted):
        chunk = await asyncio.wait_for(transport.read(), timeout=5)
        assert chunk
        data += chunk
    return data


@pytest.mark.realio
def test_pty_path_moves_bytes_both_ways_and_a_vanished_peer_is_a_disconnect(real: Any) -> None:
    """Fault: the far end of the pty closes (a USB gun unplugged). read() raises ConnectionLost, no crash."""

    async def scenario() -> None:
        master, slave = os.openpty()
        path = os.ttyname(slave)
        transport = SerialTransport(path)
        await transport.open()
        os.close(slave)
        try:
            os.write(master, b"\x00hello\x00")
            assert await read_until(transport, b"\x00hello\x00") == b"\x00hello\x00"
            await transport.write(b"abc")
            loop = asyncio.get_running_loop()
            assert await asyncio.wait_for(loop.run_in_executor(None, os.read, master, 3), 5) == b"abc"
        finally:
            os.close(master)
        with pytest.raises(ConnectionLost, match="port closed or unplugged"):
            while True:
                assert await asyncio.wait_for(transport.read(), timeout=5)
        await transport.close()
        assert await transport.read() == b""

    real(scenario)


@pytest.mark.realio
def test_socket_url_moves_bytes_both_ways_and_a_closed_peer_is_a_disconnect(real: Any) -> None:
    """Fault: the TCP peer closes. read() raises ConnectionLost naming the URL."""

    async def scenario() -> None:
        accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result((reader, writer))

        server = await asyncio.start_server(on_client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        url = f"socket://127.0.0.1:{port}"
        transport = transport_for_url(url)
        assert isinstance(transport, SerialTransport)
        await transport.open()
        reader, writer = await asyncio.wait_for(accepted, 5)
        writer.write(b"ping")
        await writer.drain()
        assert await read_until(transport, b"ping") == b"ping"
        await transport.write(b"pong")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"pong"
        writer.close()
        await writer.wait_closed()
        with pytest.raises(ConnectionLost, match=url):
            while True:
                assert await asyncio.wait_for(transport.read(), timeout=5)
        await transport.close()
        server.close()
        await server.wait_closed()

    real(scenario)


@pytest.mark.realio
def test_loop_url_without_a_file_descriptor_is_polled(real: Any) -> None:
    async def scenario() -> None:
        transport = SerialTransport("loop://")
        await transport.open()
        await transport.write(b"echo")
        assert await read_until(transport, b"echo") == b"echo"
        await transport.close()

    real(scenario)


def fake_ports() -> list[Any]:
    return [
        SimpleNamespace(device="/dev/ttyACM1", vid=0x1209, pid=0x0001, serial_number="GUN002", description="MG-1"),
        SimpleNamespace(device="/dev/ttyACM0", vid=0x1209, pid=0x0001, serial_number="GUN001", description="MG-1"),
        SimpleNamespace(device="/dev/ttyUSB0", vid=0x0403, pid=0x6001, serial_number="FT1", description="FTDI"),
        SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None, serial_number=None, description="n/a"),
    ]


def test_list_guns_reports_ports_and_filters_by_vid_pid(mocker: Any) -> None:
    mocker.patch("mesogun.transports.discovery.list_ports.comports", return_value=fake_ports())
    assert [p.device for p in list_guns()] == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyS0", "/dev/ttyUSB0"]
    guns = list_guns("1209:0001")
    assert guns == [
        PortInfo("/dev/ttyACM0", "1209:0001", "GUN001", "MG-1"),
        PortInfo("/dev/ttyACM1", "1209:0001", "GUN002", "MG-1"),
    ]
    assert list_guns("0403:6001")[0].vid_pid == "0403:6001"
    assert list_guns("dead:beef") == []


@pytest.mark.parametrize("bad", ["1209", "12:34:56", "xyz:0001", "10000:0001"])
def test_list_guns_rejects_a_malformed_vid_pid(bad: str) -> None:
    with pytest.raises(ParameterError, match=r"vid_pid="):
        list_guns(bad)


def test_find_by_serial_finds_a_replugged_gun_under_its_new_path(mocker: Any) -> None:
    mocker.patch("mesogun.transports.discovery.list_ports.comports", return_value=fake_ports())
    port = find_by_serial("GUN002")
    assert port is not None and port.device == "/dev/ttyACM1"
    assert find_by_serial("NOPE") is None


def test_serial_reopen_looks_the_gun_up_by_serial_number_when_its_path_vanished(real: Any, mocker: Any) -> None:
    """A USB gun unplugged and replugged comes back as another device path: reopen() finds it by serial."""

    async def scenario() -> None:
        master, slave = os.openpty()
        new_path = os.ttyname(slave)
        mocker.patch(
            "mesogun.transports.discovery.list_ports.comports",
            return_value=[SimpleNamespace(device=new_path, vid=1, pid=2, serial_number="GUN9", description="")],
        )
        transport = SerialTransport("/dev/ttyACM-gone")
        try:
            await transport.reopen("GUN9")
            assert transport.url == new_path
            with pytest.raises(PortNotFound, match="no serial port with serial number 'OTHER'"):
                transport.url = "/dev/ttyACM-gone"
                await transport.reopen("OTHER")
        finally:
            await transport.close()
            os.close(master)
            os.close(slave)

    real(scenario)
