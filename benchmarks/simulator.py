"""The simulated gun in another process, served with ``mesogun sim --serial-port`` on one end of a socat pair."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator

from benchmarks.errors import Unavailable
from benchmarks.processes import python_child, socat_pair

READY_TIMEOUT = 30.0
"""Seconds the simulator may take to start serving (imports on a busy machine)."""


def require_host_and_simulator() -> None:
    """Raise :class:`Unavailable` unless the host API and the simulator CLI are importable."""
    for module in ("mesogun.session.gun", "sims.cli", "sims.serving", "sims.inprocess"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            raise Unavailable(f"{module} is not available yet: the host or simulator is not installed")


@contextlib.contextmanager
def served_simulator(*options: str) -> Iterator[str]:
    """Serve a simulated gun (``mesogun sim --serial-port A options…``) and yield the host's end, B."""
    require_host_and_simulator()
    with socat_pair() as (device_end, host_end):
        args = ("sim", "--serial-port", device_end, *options)
        with python_child("mesogun.cli", *args, stdout=True) as sim:
            line = sim.read_line(READY_TIMEOUT, "mesogun sim")
            if not line.startswith("SERIAL"):
                raise RuntimeError(f"mesogun sim announced {line!r}, expected 'SERIAL <path>'")
            yield host_end


@contextlib.contextmanager
def served_simulator_with_control(*options: str) -> Iterator[tuple[str, str]]:
    """:func:`served_simulator` with its control channel (``--control 127.0.0.1:0``, :mod:`sims.control`: the
    trigger, snapshots); yield (the host's end of the pty pair, the control channel's ``HOST:PORT``)."""
    require_host_and_simulator()
    with socat_pair() as (device_end, host_end):
        args = ("sim", "--serial-port", device_end, "--control", "127.0.0.1:0", *options)
        with python_child("mesogun.cli", *args, stdout=True) as sim:
            control = sim.read_line(READY_TIMEOUT, "mesogun sim")
            serial = sim.read_line(READY_TIMEOUT, "mesogun sim")
            if not control.startswith("CONTROL ") or not serial.startswith("SERIAL"):
                raise RuntimeError(f"mesogun sim announced {control!r}, {serial!r}: expected CONTROL …, SERIAL …")
            yield host_end, control.split(" ", 1)[1]
