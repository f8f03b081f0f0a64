"""A simulator in another process that reports what its device did: for audits and timing through the system.

Child: ``python -m mesogun.testing.reliability.device_reports (--tcp HOST:PORT | --serial-port PATH) [--nvm FILE]``
serves one simulated gun exactly as ``mesogun sim`` does (:func:`sims.serving.serve`), prints its one
announcement line, then one JSON line per thing its device did, read from its
:class:`~sims.snapshot.DeviceSnapshot` every :data:`POLL_S`:

* ``{"event": "exec", "seq", "name", "monotonic", "device_time_ms"}``: a state-changing command executed;
* ``{"event": "replay", …}``: a repeat answered from the replay cache (not executed);
* ``{"event": "watchdog", "monotonic", "device_time_ms", "silent_ms"}``: the communication watchdog tripped.

``monotonic`` is the device's own ``time.monotonic()`` at the moment it acted (CLOCK_MONOTONIC, one clock for
every process on a machine), so polling delays the report line, never the figure. Nothing here is on the wire.

Parent: :func:`start_reporting_simulator` starts it and returns a :class:`DeviceReports` to read the lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sims.device import SimulatedGun
from sims.spawn import SpawnedSimulator, start_simulator

POLL_S = 0.01
"""How often the child reads its device's snapshot for new reports."""
SETTLE_S = 0.1
"""How long :meth:`DeviceReports.drain` waits first, so that everything the device did before is reported."""
LAUNCHER = (sys.executable, "-m", "mesogun.testing.reliability.device_reports")

Report = dict[str, Any]


# ---------------------------------------------------------------------------------------------------- child


class _Reporter:
    """Prints the device's new executions, replays and watchdog trips, polling its snapshot."""

    def __init__(self, device: SimulatedGun, write: Callable[[str], None]) -> None:
        self.device, self.write = device, write
        self.executions = self.replays = 0
        self.trip = device.snapshot().last_watchdog_trip

    def poll(self) -> None:
        snap = self.device.snapshot()
        for record in snap.executions[self.executions :]:
            self.write(json.dumps({"event": "exec", **asdict(record)}))
        for record in snap.replays[self.replays :]:
            self.write(json.dumps({"event": "replay", **asdict(record)}))
        self.executions, self.replays = len(snap.executions), len(snap.replays)
        if snap.last_watchdog_trip is not None and snap.last_watchdog_trip != self.trip:
            self.trip = snap.last_watchdog_trip
            self.write(json.dumps({"event": "watchdog", **asdict(self.trip)}))
        asyncio.get_running_loop().call_later(POLL_S, self.poll)


def _print_line(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> None:
    """Serve as ``mesogun sim`` does, reporting what the device did on stdout."""
    from sims import serving
    from sims.options import parse_options

    parser = argparse.ArgumentParser(prog="python -m mesogun.testing.reliability.device_reports")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", metavar="HOST:PORT")
    where.add_argument("--serial-port", metavar="PATH")
    parser.add_argument("--nvm", metavar="FILE", help="the device's NVM file (lifetime counter)")
    args = parser.parse_args(argv)
    options = parse_options({"nvm": [args.nvm]} if args.nvm else {})

    def watch(device: SimulatedGun) -> None:
        _Reporter(device, _print_line).poll()

    asyncio.run(
        serving.serve(options, tcp=args.tcp, serial_port=args.serial_port, announce=_print_line, on_device=watch)
    )


# ---------------------------------------------------------------------------------------------------- parent


class DeviceReports:
    """The reports of a reporting simulator child, read by a thread into a queue."""

    def __init__(self, sim: SpawnedSimulator) -> None:
        self.sim = sim
        self._lines: queue.Queue[Report] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="device-reports", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.sim.process.stdout
        assert stdout is not None
        with contextlib.suppress(ValueError, OSError):  # closed by stop()
            for line in stdout:
                if line.startswith("{"):
                    self._lines.put(json.loads(line))

    def next(self, predicate: Callable[[Report], bool], timeout: float = 5.0) -> Report:
        """The next report ``predicate`` accepts (earlier ones are dropped); ``TimeoutError`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                report = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if predicate(report):
                return report
        raise TimeoutError(f"the simulator reported nothing matching within {timeout:g} s")

    def drain(self, settle_s: float = SETTLE_S) -> list[Report]:
        """Every report not read yet, after waiting ``settle_s`` for what the device just did."""
        time.sleep(settle_s)
        out: list[Report] = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(self._lines.get_nowait())
        return out

    def stop(self) -> None:
        """Stop the simulator child."""
        self.sim.stop()


def start_reporting_simulator(*args: str) -> DeviceReports:
    """Start the reporting simulator with ``args`` (``--tcp 127.0.0.1:0``, ``--serial-port P``, ``--nvm F``)."""
    return DeviceReports(start_simulator(*args, launcher=LAUNCHER))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
