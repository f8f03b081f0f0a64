"""Child process for the emergency-stop benchmark: ``mesogun sim --serial-port`` that reports each e-stop.

Usage: ``python -m benchmarks.estop_sim PORT``. Serves one simulated gun on ``PORT`` exactly as
``mesogun sim --serial-port PORT`` does (:func:`sims.serving.serve`, status at its default 10 Hz), prints
``SERIAL PORT`` once serving, then one line ``ESTOP <t>`` per emergency stop the device executed, where
``t`` is ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in every process on this machine) taken
once the device had halted. The line is printed after the device's ack went out, so printing costs the
measured path nothing.

When the device's ``snapshot()`` (issue 10, interface 3) has the host-monotonic time of the last
emergency stop (:data:`SNAPSHOT_FIELD`), that time is reported (read every :data:`POLL_S`).
SHIM, until then: the time is taken by wrapping the device's emergency-stop handler on the instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

SNAPSHOT_FIELD = "last_emergency_stop"
"""The ``snapshot()`` field holding the last emergency stop executed (``None`` before the first), whose
``monotonic`` attribute is the host-monotonic time at which the device executed it."""
POLL_S = 0.01
"""How often the snapshot is read for a new emergency stop (the time reported is the device's own, so
this only delays the report line, never the measured figure)."""


def _estop_time(device: Any) -> float | None:
    """The snapshot's time of the last emergency stop, if this simulator has a snapshot with that field."""
    snapshot = getattr(device, "snapshot", None)
    if snapshot is None:
        return None
    mark = getattr(snapshot(), SNAPSHOT_FIELD, None)
    return float(mark.monotonic) if mark is not None else None


def _report(device: Any, shim_time: float) -> None:
    when = _estop_time(device)
    print(f"ESTOP {shim_time if when is None else when:.9f}", flush=True)


def _has_snapshot_time(device: Any) -> bool:
    snapshot = getattr(device, "snapshot", None)
    return snapshot is not None and hasattr(snapshot(), SNAPSHOT_FIELD)


def _poll_snapshot(device: Any, last: float | None) -> None:
    """Print the snapshot's emergency-stop time whenever it changes; read again in :data:`POLL_S`."""
    when = _estop_time(device)
    if when is not None and when != last:
        print(f"ESTOP {when:.9f}", flush=True)
    asyncio.get_running_loop().call_later(POLL_S, _poll_snapshot, device, when)


def hook(device: Any) -> Any:
    """Report every emergency stop the device executes: from its snapshot if it has the time, else the shim."""
    if _has_snapshot_time(device):
        _poll_snapshot(device, _estop_time(device))
        return device
    handler = getattr(device, "_cmd_emergency_stop", None)
    if handler is None:
        raise RuntimeError(f"the simulator has neither snapshot().{SNAPSHOT_FIELD} nor _cmd_emergency_stop to time")
    loop = asyncio.get_running_loop()

    def timed(msg: Any) -> Any:  # SHIM: the device halted when its handler returned
        already = device.state.name == "EMERGENCY_STOP"  # a repeat halts nothing: not reported
        reply = handler(msg)
        if not already:
            loop.call_soon(_report, device, time.monotonic())
        return reply

    device._cmd_emergency_stop = timed
    return device


def main(port: str) -> None:
    """Serve on ``port`` as ``mesogun sim --serial-port`` does, with the device's e-stops reported."""
    from sims import serving
    from sims.factory import start_device
    from sims.options import parse_options

    async def start_hooked(options: Any) -> Any:
        return hook(await start_device(options))

    serving.start_device = start_hooked  # type: ignore[attr-defined]  # SHIM: see the module docstring

    def announce(line: str) -> None:
        print(line, flush=True)

    asyncio.run(serving.serve(parse_options({}), serial_port=port, announce=announce))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1])
