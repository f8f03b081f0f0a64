"""The serial transport (``mesogun.transports.serial``): real ptys, sockets and loop://, reopen by serial number."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace
from typing import Any

import pytest

from mesogun.errors import ConnectionLost, PortNotFound
from mesogun.transports import transport_for_url
from mesogun.transports.serial import SerialTransport


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


@pytest.mark.realio
def test_closing_a_socket_port_leaves_the_event_loop_free_for_other_guns(real: Any) -> None:
    """pyserial's socket:// close sleeps 0.3 s: in a service that must not freeze the other guns' links, so a
    task of another gun (here a short sleep) runs to its end while the close is still under way."""

    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        transport = transport_for_url(f"socket://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await transport.open()
        closing = asyncio.create_task(transport.close())
        await asyncio.sleep(0.01)  # another gun's heartbeat, due while the port closes
        assert not closing.done(), "the close was over before any other task could run: it held the event loop"
        await closing
        server.close()
        await server.wait_closed()

    real(scenario)


@pytest.mark.realio
def test_a_close_cancelled_while_the_port_closes_still_ends_a_pending_read(real: Any) -> None:
    """Fault: the task closing the port is cancelled (a shutdown's deadline) during pyserial's slow close; the
    reader waiting on the port still gets its end (``b""``) instead of waiting forever."""

    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        transport = transport_for_url(f"socket://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await transport.open()
        reading = asyncio.create_task(transport.read())
        closing = asyncio.create_task(transport.close())
        await asyncio.sleep(0.01)
        closing.cancel()
        assert await asyncio.wait_for(reading, 5) == b""
        for rest in asyncio.all_tasks() - {asyncio.current_task()}:  # the shielded close goes on to its end
            await asyncio.wait_for(rest, 5)
        server.close()
        await server.wait_closed()

    real(scenario)
