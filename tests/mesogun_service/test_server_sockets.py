"""The service's TCP listener: what every client connection inherits from it (found by the benchmarks)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mesogun_service.server import SEND_BUFFER_BYTES, bind_tcp

pytestmark = pytest.mark.realio


async def _accepted_socket() -> socket.socket:
    """The service side of one loopback connection to a listener made by :func:`bind_tcp`, as asyncio serves it."""
    listener = bind_tcp("127.0.0.1", 0)
    accepted: asyncio.Future[socket.socket] = asyncio.get_running_loop().create_future()

    def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer.get_extra_info("socket"))

    server = await asyncio.start_server(on_connection, sock=listener)
    _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
    try:
        return await asyncio.wait_for(accepted, 5)
    finally:
        writer.close()
        server.close()


def test_replies_are_not_held_back_by_nagle_until_the_clients_delayed_ack() -> None:
    """A reply is written as headers then body: with Nagle on, a kept-alive client got the body 40 ms late."""
    sock = asyncio.run(_accepted_socket())
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_the_kernel_holds_a_bounded_backlog_for_a_client_that_stops_reading() -> None:
    """Autotuned, the send buffer grew to megabytes: a stalled event-stream client was told it missed events only
    minutes later. Linux reports the doubled value it uses."""
    sock = asyncio.run(_accepted_socket())
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) <= 2 * SEND_BUFFER_BYTES
