"""Run the simulated gun in a child process (``python -m sims.cli``): for real-I/O tests, HIL and benchmarks.

:func:`spawn_simulator` starts it, waits for its one announcement line (``PTY <path>``,
``URL socket://…`` or ``SERIAL <path>``) and always stops it (SIGTERM, then SIGKILL) when the block ends.
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sims.errors import SimError


class SimulatorDidNotStart(SimError):
    """The child simulator printed no announcement line in time (its stderr tail is in the message)."""

    code = "SIM900"


@dataclass
class SpawnedSimulator:
    """A simulator child process and where it serves."""

    kind: str
    """``PTY``, ``URL`` or ``SERIAL``: the first word of its announcement."""
    address: str
    """A pty path, a ``socket://`` URL or a serial device path: what a host opens."""
    process: subprocess.Popen[str]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the simulator, wait for it (kill it after ``timeout``), and return its exit code."""
        proc = self.process
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode


SIMS_CLI = (sys.executable, "-m", "sims.cli")
"""The simulator's own command line (the same click command the host CLI serves as ``mesogun sim``)."""


def start_simulator(*args: str, launcher: Sequence[str] = SIMS_CLI, timeout: float = 30.0) -> SpawnedSimulator:
    """Start ``LAUNCHER ARGS`` and return once it announced where it serves; the caller stops it.

    ``launcher`` may be e.g. ``(sys.executable, "-m", "mesogun.cli", "sim")`` to go through the host's CLI.
    """
    proc = subprocess.Popen([*launcher, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().strip() if ready else ""
    kind, _, address = line.partition(" ")
    if kind not in ("PTY", "URL", "SERIAL") or not address:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate(timeout=10)
        raise SimulatorDidNotStart(
            f"simulator {' '.join(args)} announced {line!r}, not 'PTY|URL|SERIAL <where>'; stderr: {stderr[-1000:]}"
        )
    return SpawnedSimulator(kind, address, proc)


@contextmanager
def spawn_simulator(
    *args: str, launcher: Sequence[str] = SIMS_CLI, timeout: float = 30.0
) -> Iterator[SpawnedSimulator]:
    """``with spawn_simulator("--tcp", "127.0.0.1:0") as sim: ...sim.address...``; stopped on exit."""
    spawned = start_simulator(*args, launcher=launcher, timeout=timeout)
    try:
        yield spawned
    finally:
        spawned.stop()
