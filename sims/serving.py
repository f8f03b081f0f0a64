"""Serving the simulated gun over a pseudo-terminal, a TCP socket or an existing serial device.

One device outlives connections, as a powered gun outlives host processes: a new connection talks to
the same device in whatever state the last one left it. Line impairments (baud, latency, drop,
corruption, split writes) apply on every transport, through :class:`~sims.impairments.ImpairedPipe`.

TCP: one connection at a time, and **a new connection replaces the current one** (which is closed).
Why: a host that crashed or lost its network may leave a half-open socket the server cannot tell from
a live one for minutes; refusing newcomers would lock the recovering host out of its own gun, while a
real USB-serial gun simply talks to whoever opens the port next. A replaced host sees its socket close.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tty
from collections.abc import Callable
from dataclasses import replace

import serial

from sims.control import ControlChannel
from sims.device import SimulatedGun
from sims.errors import ServeError
from sims.factory import start_device
from sims.impairments import ImpairedPipe, Impairments, make_rng
from sims.options import SimOptions


class _Link:
    """The two impaired directions between one transport and the device."""

    def __init__(self, device: SimulatedGun, options: SimOptions, write_out: Callable[[bytes], None], n: int) -> None:
        loop = asyncio.get_running_loop()
        imp, seed = options.impairments, options.seed
        self.device = device
        self.to_device = ImpairedPipe(device.receive, imp, make_rng(seed, f"h2d{n}"), loop)
        self.to_host = ImpairedPipe(write_out, imp, make_rng(seed, f"d2h{n}"), loop)
        device.attach(self.to_host.send)

    def close(self) -> None:
        self.to_device.close()
        self.to_host.close()

    def impair(self, impairments: Impairments) -> None:
        """The line changes now, both ways (bytes already on it keep the timing they had)."""
        self.to_device.impairments = self.to_host.impairments = impairments


class FdServer:
    """Serves the device on a file descriptor: a pty master or an open serial port (non-blocking)."""

    def __init__(self, device: SimulatedGun, options: SimOptions, fd: int) -> None:
        self.device, self.options, self.fd = device, options, fd
        self._loop = asyncio.get_running_loop()
        os.set_blocking(fd, False)
        self._link = _Link(device, options, self._write, 1)
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: nobody holds the other end; a serial device vanished
            return
        if data:
            self._link.to_device.send(data)

    def _write(self, data: bytes) -> None:
        # Like a UART with nobody listening: bytes that do not fit the kernel buffer are lost.
        with contextlib.suppress(OSError):
            os.write(self.fd, data)

    def cut(self) -> None:
        """The line goes dead (``disconnect_at_s``): bytes are lost both ways from now on."""
        self._link.close()

    def impair(self, impairments: Impairments) -> None:
        """Change the line's impairments now (the control channel's ``impair``)."""
        self.options = replace(self.options, impairments=impairments)
        self._link.impair(impairments)

    def close(self) -> None:
        """Stop serving (the fd is closed by its owner)."""
        self._loop.remove_reader(self.fd)
        self._link.close()
        self.device.detach()


def open_pty() -> tuple[int, int, str]:
    """A raw pseudo-terminal: (master fd, slave fd, slave path). Keep the slave open so the master never sees EIO."""
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class OneConnectionTcpServer:
    """Serves on TCP, one connection at a time; a new connection replaces the current one. A subclass wires a
    connection to its device (:meth:`_connect`, which returns where the connection's bytes go) and unwires it
    (:meth:`_disconnect`): the simulated gun through its impaired line, an instrument directly."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._current: asyncio.StreamWriter | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the bound (host, port)."""
        try:
            self._server = await asyncio.start_server(self._handle, host, port)
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    def _connect(self, writer: asyncio.StreamWriter) -> Callable[[bytes], None]:
        """Wire a new connection (its device-bound bytes go where the returned function sends them)."""
        raise NotImplementedError

    def _disconnect(self) -> None:
        """Unwire the current connection (it ended, was replaced or cut)."""
        raise NotImplementedError

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self.cut()
        receive = self._connect(writer)
        self._current = writer
        try:
            while data := await reader.read(4096):
                receive(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if self._current is writer:
                self._current = None
                self._disconnect()
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    def cut(self) -> None:
        """Close the current connection, if any (replaced, or ``disconnect_at_s``)."""
        if self._current is not None:
            writer, self._current = self._current, None
            self._disconnect()
            writer.close()

    async def close(self) -> None:
        """Stop listening and close the current connection."""
        self.cut()
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class TcpServer(OneConnectionTcpServer):
    """Serves the simulated gun on TCP, each connection through its own impaired line."""

    def __init__(self, device: SimulatedGun, options: SimOptions) -> None:
        super().__init__()
        self.device, self.options = device, options
        self._link: _Link | None = None
        self._connections = 0

    def _connect(self, writer: asyncio.StreamWriter) -> Callable[[bytes], None]:
        self._connections += 1
        self._link = _Link(self.device, self.options, writer.write, self._connections)
        return self._link.to_device.send

    def _disconnect(self) -> None:
        if self._link is not None:
            link, self._link = self._link, None
            link.close()
        self.device.detach()

    def impair(self, impairments: Impairments) -> None:
        """Change the line's impairments now, for the current connection and the next ones."""
        self.options = replace(self.options, impairments=impairments)
        if self._link is not None:
            self._link.impair(impairments)


def parse_tcp(address: str, option: str = "--tcp") -> tuple[str, int]:
    """``HOST:PORT`` (port 0: any free port) → (host, port); :class:`ServeError` if malformed."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ServeError(f"{option} {address!r} is not HOST:PORT with PORT 0..65535 (0 picks a free port)")
    return host.strip("[]"), int(port_text)


async def serve(
    options: SimOptions,
    *,
    pty: bool = False,
    tcp: str | None = None,
    serial_port: str | None = None,
    control: str | None = None,
    smp_pty: bool = False,
    announce: Callable[[str], None] = print,
    on_device: Callable[[SimulatedGun], None] | None = None,
) -> None:
    """Serve one device on the chosen transport until SIGINT/SIGTERM; ``announce`` gets the one line (with
    ``control``, ``CONTROL HOST:PORT`` of the control channel first, :mod:`sims.control`; with ``smp_pty``,
    ``SMP <path>`` of its standard SMP serial endpoint first, :mod:`sims.smp_serial`); ``on_device`` sees
    the started device first (a benchmark that watches its snapshot)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    device = await start_device(options)
    if on_device is not None:
        on_device(device)
    cleanups: list[Callable[[], None]] = []
    cut: Callable[[], None] | None = None
    tcp_server: TcpServer | None = None
    channel: ControlChannel | None = None
    line: list[Impairments] = [options.impairments]  # the line now; the server applies a change
    apply_line: list[Callable[[Impairments], None]] = []

    def set_line(impairments: Impairments) -> None:
        line[0] = impairments
        for apply in apply_line:
            apply(impairments)

    try:
        # Handlers first: a supervisor may signal as soon as it reads the announcement line.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
            cleanups.append(_signal_remover(loop, sig))
        if control is not None:
            channel = ControlChannel(device, lambda: line[0], set_line)
            control_host, control_port = await channel.start(*parse_tcp(control, "--control"))
            announce(f"CONTROL {control_host}:{control_port}")
        if smp_pty:
            from sims.smp_serial import serve_on_pty  # it imports this module's open_pty

            endpoint = serve_on_pty(device, impairments=options.impairments, seed=options.seed)
            cleanups.append(endpoint.close)
            announce(f"SMP {endpoint.path}")
        if tcp is not None:
            host, port = parse_tcp(tcp)
            tcp_server = TcpServer(device, options)
            bound_host, bound_port = await tcp_server.start(host, port)
            cut = tcp_server.cut
            apply_line.append(tcp_server.impair)
            announce(f"URL socket://{bound_host}:{bound_port}")
        elif serial_port is not None:
            try:
                port_obj = serial.Serial(serial_port, baudrate=options.impairments.baud or 115200, timeout=0)
            except (serial.SerialException, OSError) as exc:
                raise ServeError(f"cannot open serial port {serial_port}: {exc}") from exc
            fd_server = FdServer(device, options, port_obj.fileno())
            cleanups += [port_obj.close, fd_server.close]
            cut = fd_server.cut
            apply_line.append(fd_server.impair)
            announce(f"SERIAL {serial_port}")
        else:
            master, slave, path = open_pty()
            fd_server = FdServer(device, options, master)
            cleanups += [lambda: os.close(slave), lambda: os.close(master), fd_server.close]
            cut = fd_server.cut
            apply_line.append(fd_server.impair)
            announce(f"PTY {path}")
        if options.disconnect_at_s is not None and cut is not None:
            cleanups.append(loop.call_later(options.disconnect_at_s, cut).cancel)
        await stop.wait()
    finally:
        for cleanup in reversed(cleanups):
            with contextlib.suppress(OSError):
                cleanup()
        if tcp_server is not None:
            await tcp_server.close()
        if channel is not None:
            await channel.close()
        await device.close()


def _signal_remover(loop: asyncio.AbstractEventLoop, sig: signal.Signals) -> Callable[[], None]:
    def remove() -> None:
        loop.remove_signal_handler(sig)

    return remove
