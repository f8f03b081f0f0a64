"""Child process for the emergency-stop benchmark: ``mesogun sim --serial-port`` that reports each e-stop.

Usage: ``python -m benchmarks.estop_sim PORT``. Serves one simulated gun on ``PORT`` exactly as
``mesogun sim --serial-port PORT`` does (:func:`sims.serving.serve`, status at its default 10 Hz), prints
``SERIAL PORT`` once serving, then one line ``ESTOP <t>`` per emergency stop the device executed, where
``t`` is the device's own record of when it halted (``snapshot().last_emergency_stop.monotonic``:
``time.monotonic()``, CLOCK_MONOTONIC, the same clock in every process on this machine). The snapshot is
read every :data:`POLL_S`, after the device's ack went out, so reporting costs the measured path nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from sims.device import SimulatedGun

POLL_S = 0.01
"""How often the snapshot is read for a new emergency stop (the time reported is the device's own, so
this only delays the report line, never the measured figure)."""


def _estop_time(device: SimulatedGun) -> float | None:
    """When the device last halted on an emergency stop (``None`` before the first)."""
    mark = device.snapshot().last_emergency_stop
    return mark.monotonic if mark is not None else None


def report_stops(device: SimulatedGun, last: float | None = None) -> None:
    """Print the device's emergency-stop time whenever it changes; read again in :data:`POLL_S`."""
    when = _estop_time(device)
    if when is not None and when != last:
        print(f"ESTOP {when:.9f}", flush=True)
    asyncio.get_running_loop().call_later(POLL_S, report_stops, device, when)


def main(port: str) -> None:
    """Serve on ``port`` as ``mesogun sim --serial-port`` does, with the device's e-stops reported."""
    from sims import serving
    from sims.options import parse_options

    def announce(line: str) -> None:
        print(line, flush=True)

    def watch(device: SimulatedGun) -> None:
        report_stops(device, _estop_time(device))

    asyncio.run(serving.serve(parse_options({}), serial_port=port, announce=announce, on_device=watch))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1])
