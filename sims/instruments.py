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

from sims.errors import ServeError
from sims.serving import open_pty, parse_tcp


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


class _TcpServer:
    """Serves an instrument on TCP, one connection at a time; a new connection replaces the current one."""

    def __init__(self, device: LineDevice) -> None:
        self._device = device
        self._server: asyncio.Server | None = None
        self._current: asyncio.StreamWriter | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        try:
            self._server = await asyncio.start_server(self._handle, host, port)
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self.cut()
        self._current = writer
        self._device.attach(writer.write)
        try:
            while data := await reader.read(4096):
                self._device.receive(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if self._current is writer:
                self._current = None
                self._device.detach()
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    def cut(self) -> None:
        """Close the current connection, if any."""
        if self._current is not None:
            writer, self._current = self._current, None
            self._device.detach()
            writer.close()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


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
