"""Child process for the echo floors: write back every byte read from a pty, with raw fds or with pyserial.

Usage: ``python -m benchmarks.echo_server PORT [raw|pyserial]`` (default ``raw``). Runs until terminated.

``raw`` is the floor any protocol over a pty pair pays: blocking ``os.read`` and ``os.write`` on a raw
tty fd, nothing else. ``pyserial`` is the same loop through pyserial (what the floor was measured with
before; about a third slower), kept for comparison.
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
import tty

import serial

BAUD = 115200
CHUNK = 4096
"""Largest read per call (an echo request is one frame, far smaller)."""


def open_raw(path: str, timeout_ds: int = 0) -> int:
    """Open ``path`` (a pty) read-write as a raw tty fd (no echo, no line discipline).

    ``timeout_ds`` > 0: ``os.read`` returns ``b""`` after that many tenths of a second without a byte
    (termios VMIN=0/VTIME), so a lost echo cannot hang the caller and no ``select`` call is needed.
    """
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    if timeout_ds > 0:
        attrs = termios.tcgetattr(fd)
        attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 0, timeout_ds
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return fd


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte of ``data`` is written (a pty may take less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve_raw(port: str) -> None:
    """Echo forever with ``os.read``/``os.write`` on a raw fd: the cheapest possible device."""
    fd = open_raw(port)
    try:
        while True:
            data = os.read(fd, CHUNK)
            if data:
                write_all(fd, data)
    finally:
        os.close(fd)


def serve_pyserial(port: str) -> None:
    """Echo forever through pyserial (as fast as pyserial can)."""
    with serial.Serial(port, BAUD, timeout=1.0) as ser:
        while True:
            data = ser.read(ser.in_waiting or 1)
            if data:
                ser.write(data)


SERVERS = {"raw": serve_raw, "pyserial": serve_pyserial}


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        SERVERS[sys.argv[2] if len(sys.argv) > 2 else "raw"](sys.argv[1])
