"""The round-trip peers, each over its own socat pty pair with its server in another process.

* pymodbus: ``read_holding_registers`` of 4 registers (RTU framing, CRC-16) against a pymodbus server;
  both the async and the sync client are measured; the faster one is the peer.
* raw echo: ``os.write`` of our ``set_parameters`` frame's bytes and blocking ``os.read`` of the same
  bytes back, through an echo process doing the same with raw fds (no protocol, no library at all):
  the floor that any protocol over this pty pair pays.
* pyserial echo: the same through pyserial on both ends (the floor as measured before; slower).

Each peer is a :class:`Pinger`: opened once (server started, client connected, readiness checked), then
sampled one round trip at a time, so the runner can interleave the peers and noise hits them alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
import time
from typing import Any, Protocol

import serial

from benchmarks.echo_server import BAUD, open_raw, write_all
from benchmarks.errors import Unavailable
from benchmarks.processes import python_child, socat_pair
from firmware_protocol import FINGERPRINT, PROTOCOL_VERSION, Flag, Message, Mode, StreamDecoder, make, to_wire

MODBUS_DEVICE = 1
READY_TIMEOUT = 15.0


class Pinger(Protocol):
    """One peer's client, connected: each :meth:`once` is one timed round trip in seconds."""

    name: str

    async def once(self) -> float:
        """Do one round trip, check its answer, and return its duration in seconds."""
        ...


def echo_request() -> bytes:
    """What the echo peer sends: exactly the bytes of our ``set_parameters`` frame."""
    msg = make("set_parameters", seq=1234, depth_um=2500, dose_nl=20_000, rate_mhz=5_000, mode=Mode.CONTINUOUS)
    return to_wire(msg)


class PyserialEchoPinger:
    """pyserial write + read back through a pyserial echo process (the floor as measured before)."""

    name = "echo_pyserial"

    def __init__(self, ser: serial.Serial) -> None:
        self._ser = ser
        self._request = echo_request()

    async def once(self) -> float:
        """Write the frame-sized request, block until all of it came back."""
        request = self._request
        start = time.perf_counter()
        self._ser.write(request)
        reply = self._ser.read(len(request))
        elapsed = time.perf_counter() - start
        if reply != request:
            raise RuntimeError(f"echo peer answered {reply!r}, expected the {len(request)} bytes sent")
        return elapsed

    def reset(self) -> None:
        """Drop whatever arrived late (before the echo process opened its end)."""
        self._ser.reset_input_buffer()


class RawEchoPinger:
    """``os.write`` + blocking ``os.read`` on a raw tty fd, through a raw-fd echo process: the floor."""

    name = "echo_raw"

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._request = echo_request()

    async def once(self) -> float:
        """Write the frame-sized request, block until all of it came back (or the read timed out)."""
        fd, request = self._fd, self._request
        want = len(request)
        start = time.perf_counter()
        write_all(fd, request)
        reply = os.read(fd, want)
        while 0 < len(reply) < want:
            more = os.read(fd, want - len(reply))
            if not more:
                break
            reply += more
        elapsed = time.perf_counter() - start
        if reply != request:
            raise RuntimeError(f"echo peer answered {reply!r}, expected the {want} bytes sent")
        return elapsed

    def reset(self) -> None:
        """Drop whatever arrived late (before the echo process opened its end)."""
        termios.tcflush(self._fd, termios.TCIFLUSH)


class RawSimPinger:
    """A minimal host against our simulator: ``os.write`` of a ``set_parameters`` frame, blocking ``os.read``
    until its ack is decoded. No host library: what any host, in any language, pays for our simulator."""

    name = "sim_raw"

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._decoder = StreamDecoder()
        self._seq = 0

    def _round_trip(self, message: Message) -> float:
        fd, want = self._fd, message.seq
        request = to_wire(message)
        start = time.perf_counter()
        write_all(fd, request)
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"the simulator did not answer {message.name} (seq {want})")
            if any(f.seq == want and f.flags & Flag.REPLY for f in self._decoder.feed(chunk)):
                return time.perf_counter() - start

    def hello(self) -> None:
        """Open the session (the simulator answers nothing else before a hello of its own catalog)."""
        self._round_trip(make("hello", seq=0, protocol_version=PROTOCOL_VERSION, fingerprint=FINGERPRINT))

    async def once(self) -> float:
        """One ``set_parameters`` (the rate alternating, as ours does) and its ack."""
        self._seq = (self._seq + 1) & 0xFFFF
        rate = 5_000 + 1_000 * (self._seq % 2)
        msg = make("set_parameters", seq=self._seq, depth_um=2500, dose_nl=20_000, rate_mhz=rate, mode=Mode.CONTINUOUS)
        return self._round_trip(msg)


@contextlib.asynccontextmanager
async def raw_sim_pinger(stack: contextlib.ExitStack, url: str) -> Any:
    """A :class:`RawSimPinger` on the host end ``url`` of a served simulator's pty pair."""
    fd = open_raw(url, ECHO_TIMEOUT_DS)
    try:
        pinger = RawSimPinger(fd)
        pinger.hello()
        yield pinger
    finally:
        os.close(fd)


ECHO_TIMEOUT = 2.0
"""Seconds an echo may take before the round trip counts as lost (only ever hit while starting)."""
ECHO_TIMEOUT_DS = round(ECHO_TIMEOUT * 10)
"""The same in tenths of a second, the unit of a tty's read timeout."""


async def _until_echoes(pinger: RawEchoPinger | PyserialEchoPinger, server: Any) -> None:
    """Bytes sent before the echo process opened its end are lost: retry until it answers."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            await pinger.once()
            return
        except RuntimeError:
            server.check_alive("echo server")
            if time.monotonic() > deadline:
                raise
            pinger.reset()


@contextlib.asynccontextmanager
async def raw_echo_pinger(stack: contextlib.ExitStack) -> Any:
    """Start the raw-fd echo process on a fresh pty pair and yield a connected :class:`RawEchoPinger`."""
    device_end, host_end = stack.enter_context(socat_pair())
    server = stack.enter_context(python_child("benchmarks.echo_server", device_end, "raw"))
    fd = open_raw(host_end, ECHO_TIMEOUT_DS)
    try:
        pinger = RawEchoPinger(fd)
        await _until_echoes(pinger, server)
        yield pinger
    finally:
        os.close(fd)


@contextlib.asynccontextmanager
async def pyserial_echo_pinger(stack: contextlib.ExitStack) -> Any:
    """Start the pyserial echo process on a fresh pty pair and yield a connected :class:`PyserialEchoPinger`."""
    device_end, host_end = stack.enter_context(socat_pair())
    server = stack.enter_context(python_child("benchmarks.echo_server", device_end, "pyserial"))
    with serial.Serial(host_end, BAUD, timeout=ECHO_TIMEOUT) as ser:
        pinger = PyserialEchoPinger(ser)
        await _until_echoes(pinger, server)
        yield pinger


def _check(reply: object) -> None:
    if reply is None or getattr(reply, "isError", lambda: True)() or len(getattr(reply, "registers", [])) != 4:
        raise RuntimeError(f"pymodbus read_holding_registers failed: {reply!r}")


def _modbus_port(stack: contextlib.ExitStack) -> tuple[str, Any]:
    """A pymodbus RTU server on a fresh pty pair: the client's end and the server's :class:`Child`."""
    try:
        import pymodbus  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"pymodbus is not installed ({exc}): pip install -e '.[bench]'") from None
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    device_end, host_end = stack.enter_context(socat_pair())
    server = stack.enter_context(python_child("benchmarks.modbus_server", device_end))
    return host_end, server


class ModbusAsyncPinger:
    """pymodbus' asyncio client (like our API, async)."""

    name = "pymodbus_async"

    def __init__(self, client: Any) -> None:
        self._client = client

    async def once(self) -> float:
        """One ``read_holding_registers(0, count=4)``."""
        start = time.perf_counter()
        reply = await self._client.read_holding_registers(0, count=4, device_id=MODBUS_DEVICE)
        elapsed = time.perf_counter() - start
        _check(reply)
        return elapsed


class ModbusSyncPinger:
    """pymodbus' blocking client (blocks the loop while it runs; nothing else is timed meanwhile)."""

    name = "pymodbus_sync"

    def __init__(self, client: Any) -> None:
        self._client = client

    async def once(self) -> float:
        """One ``read_holding_registers(0, count=4)``."""
        start = time.perf_counter()
        reply = self._client.read_holding_registers(0, count=4, device_id=MODBUS_DEVICE)
        elapsed = time.perf_counter() - start
        _check(reply)
        return elapsed


async def _until_ready(pinger: Pinger, server: Any) -> None:
    """Retry the first request until the server process has opened its end."""
    from pymodbus import ModbusException

    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            await pinger.once()
            return
        except (ModbusException, RuntimeError):
            server.check_alive("pymodbus server")
            if time.monotonic() > deadline:
                raise RuntimeError(f"pymodbus server did not answer within {READY_TIMEOUT:g} s") from None
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def modbus_async_pinger(stack: contextlib.ExitStack) -> Any:
    """Start a pymodbus server and yield a connected :class:`ModbusAsyncPinger`."""
    port, server = _modbus_port(stack)
    from pymodbus import FramerType
    from pymodbus.client import AsyncModbusSerialClient

    client: Any = AsyncModbusSerialClient(port, framer=FramerType.RTU, baudrate=BAUD, timeout=1, retries=0)
    try:
        if not await client.connect():
            raise RuntimeError(f"pymodbus async client could not open {port}")
        pinger = ModbusAsyncPinger(client)
        await _until_ready(pinger, server)
        yield pinger
    finally:
        client.close()


@contextlib.asynccontextmanager
async def modbus_sync_pinger(stack: contextlib.ExitStack) -> Any:
    """Start a pymodbus server and yield a connected :class:`ModbusSyncPinger`."""
    port, server = _modbus_port(stack)
    from pymodbus import FramerType
    from pymodbus.client import ModbusSerialClient

    client: Any = ModbusSerialClient(port, framer=FramerType.RTU, baudrate=BAUD, timeout=1, retries=0)
    try:
        if not client.connect():
            raise RuntimeError(f"pymodbus sync client could not open {port}")
        pinger = ModbusSyncPinger(client)
        await _until_ready(pinger, server)
        yield pinger
    finally:
        client.close()
