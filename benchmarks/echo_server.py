"""Child process for the raw-echo floor: write back every byte read from a serial port, as fast as pyserial can.

Usage: ``python -m benchmarks.echo_server PORT``. Runs until terminated.
"""

from __future__ import annotations

import contextlib
import sys

import serial

BAUD = 115200


def serve(port: str) -> None:
    """Echo forever on ``port`` (a pty path): the cheapest possible device, our round trip's floor."""
    with serial.Serial(port, BAUD, timeout=1.0) as ser:
        while True:
            data = ser.read(ser.in_waiting or 1)
            if data:
                ser.write(data)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        serve(sys.argv[1])
