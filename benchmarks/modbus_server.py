"""Child process for the pymodbus peer: a pymodbus RTU server with 100 holding registers on a serial port.

Usage: ``python -m benchmarks.modbus_server PORT``. Runs until terminated.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from benchmarks.echo_server import BAUD


def serve(port: str) -> None:
    """Serve device id 1 over Modbus RTU on ``port`` with pymodbus' own blocking server.

    The data block starts at 1 because pymodbus maps protocol address 0 to block address 1.
    """
    from pymodbus import FramerType
    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
    from pymodbus.server import StartSerialServer

    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    block = ModbusSequentialDataBlock(1, list(range(100)))  # type: ignore[no-untyped-call]
    device = ModbusDeviceContext(hr=block)
    context = ModbusServerContext(devices=device, single=True)
    StartSerialServer(context, framer=FramerType.RTU, port=port, baudrate=BAUD, timeout=1)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        serve(sys.argv[1])
