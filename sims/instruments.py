"""Serving a simulated line instrument (the balance, the depth gauge): in process, over a pty or over TCP.

An instrument is a :class:`LineDevice`: bytes in through ``receive``, replies out through the ``send`` given to
``attach``, timers on the event loop's clock (no tasks, no threads). Unlike the gun's serving
(:mod:`sims.serving`) there are no line impairments: an instrument's ASCII line at 9600 baud is what it is.

TCP serves one connection at a time and a new connection replaces the current one, as for the gun.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from collections.abc import Callable
from typing import Protocol

from sims.serving import OneConnectionTcpServer, open_pty, parse_tcp


class LineDevice(Protocol):
    """What the servers need of an instrument."""

    def attach(self, send: Callable[[bytes], None]) -> None:
        """Replies go to ``send`` from now on."""

    def detach(self) -> None:
        """Nobody listens: replies are lost (a cable pulled)."""

    def receive(self, data: bytes) -> None:
        """Bytes from the host."""


class LineConnection:
    """One in-process host connection to an instrument: ``read()`` its bytes, ``write()`` the host's."""

    def __init__(self, device: LineDevice) -> None:
        self._device = device
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._ended = False
        device.attach(self._queue.put_nowait)

    async def read(self) -> bytes:
        """Next bytes from the instrument; ``b""`` once unplugged or closed."""
        if self._ended and self._queue.empty():
            return b""
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        """Bytes to the instrument; ``ConnectionError`` once unplugged or closed."""
        if self._ended:
            raise ConnectionError("simulated instrument unplugged or connection closed")
        self._device.receive(bytes(data))

    def unplug(self) -> None:
        """Cable pulled: a pending ``read()`` returns ``b""``, ``write()`` raises; the instrument runs on."""
        if not self._ended:
            self._ended = True
            self._device.detach()
            self._queue.put_nowait(b"")

    close = unplug

    @property
    def ended(self) -> bool:
        """Whether this connection was unplugged or closed."""
        return self._ended


class _FdServer:
    """Serves an instrument on a pty master (non-blocking)."""

    def __init__(self, device: LineDevice, fd: int) -> None:
        self._device, self._fd = device, fd
        self._loop = asyncio.get_running_loop()
        os.set_blocking(fd, False)
        device.attach(self._write)
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except OSError:  # nothing there yet, or nobody holds the other end
            return
        if data:
            self._device.receive(data)

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # like a UART with nobody listening: lost
            os.write(self._fd, data)

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        self._device.detach()


class _TcpServer(OneConnectionTcpServer):
    """Serves an instrument on TCP, one connection at a time; a new connection replaces the current one."""

    def __init__(self, device: LineDevice) -> None:
        super().__init__()
        self._device = device

    def _connect(self, writer: asyncio.StreamWriter) -> Callable[[bytes], None]:
        self._device.attach(writer.write)
        return self._device.receive

    def _disconnect(self) -> None:
        self._device.detach()


async def serve_line_device(
    device: LineDevice, *, tcp: str | None = None, announce: Callable[[str], None] = print
) -> None:
    """Serve ``device`` on a new pty (``PTY <path>``) or on TCP (``URL socket://HOST:PORT``), announcing that one
    line, until SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    cleanups: list[Callable[[], object]] = []
    tcp_server: _TcpServer | None = None
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
            cleanups.append(functools.partial(loop.remove_signal_handler, sig))
        if tcp is not None:
            tcp_server = _TcpServer(device)
            host, port = await tcp_server.start(*parse_tcp(tcp))
            announce(f"URL socket://{host}:{port}")
        else:
            master, slave, path = open_pty()
            fd_server = _FdServer(device, master)
            cleanups += [lambda: os.close(slave), lambda: os.close(master), fd_server.close]
            announce(f"PTY {path}")
        await stop.wait()
    finally:
        for cleanup in reversed(cleanups):
            with contextlib.suppress(OSError):
                cleanup()
        if tcp_server is not None:
            await tcp_server.close()
