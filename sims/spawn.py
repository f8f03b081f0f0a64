"""Run the simulated gun in a child process (``python -m sims.cli``): for real-I/O tests, HIL and benchmarks.

Also :func:`null_modem`, a socat pty pair standing in for a null-modem cable (``mesogun sim --serial-port``).

:func:`spawn_simulator` starts it, waits for its one announcement line (``PTY <path>``,
``URL socket://…`` or ``SERIAL <path>``) and always stops it (SIGTERM, then SIGKILL) when the block ends.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
    control: str | None = None
    """``127.0.0.1:PORT`` of its control channel (started with ``--control``), else ``None``."""

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
    control: str | None = None
    if kind == "CONTROL":  # the control channel's line comes first; the transport's follows at once (or EOF)
        control = address
        line = proc.stdout.readline().strip()  # not select(): it may already sit in the reader's buffer
        kind, _, address = line.partition(" ")
    if kind not in ("PTY", "URL", "SERIAL") or not address:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate(timeout=10)
        raise SimulatorDidNotStart(
            f"simulator {' '.join(args)} announced {line!r}, not 'PTY|URL|SERIAL <where>'; stderr: {stderr[-1000:]}"
        )
    return SpawnedSimulator(kind, address, proc, control)


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


SOCAT_HINT = "socat is not installed: install it with `apt-get install socat` (Debian/Ubuntu) and re-run"


class NullModemUnavailable(SimError):
    """socat, which makes the pty pair standing in for a null-modem cable, is not installed."""

    code = "SIM901"


@contextmanager
def null_modem(timeout: float = 10.0) -> Iterator[tuple[str, str]]:
    """Two connected ptys made by socat (a null-modem cable): serve the simulator on one, open the other.

    The pty paths are learnt from symlinks socat creates, not from its log, so nothing races a pipe buffer.
    """
    socat = shutil.which("socat")
    if socat is None:
        raise NullModemUnavailable(SOCAT_HINT)
    with tempfile.TemporaryDirectory(prefix="mesogun-null-modem-") as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        proc = subprocess.Popen(
            [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + timeout
            while not (a.exists() and b.exists()):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise NullModemUnavailable(f"socat did not create its pty pair within {timeout:g} s")
                time.sleep(0.02)
            yield os.path.realpath(a), os.path.realpath(b)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
