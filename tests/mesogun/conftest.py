"""Host-test fixtures: fail a test that leaves a thread running (``virtual``, ``real``: tests/conftest.py); a real
gun service process owning a simulator in another process (``pty_service``, one per test module)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mesogun_service.cli import announced_url
from sims.control import ControlClient
from sims.spawn import SpawnedSimulator, spawn_simulator


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail any test that leaves a thread running."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for t in left:
        t.join(timeout=2)
    left = [t for t in left if t.is_alive()]
    assert not left, f"the test left threads running: {left}"


# ---------------------------------------------------------------------------------------------- a running service


@dataclass
class ServedGun:
    """A simulator served in its own process (a pty or TCP) and a real ``mesogun serve`` process owning it, on a
    local socket at ``runtime/mesogun/service.sock`` (the well-known place when ``XDG_RUNTIME_DIR=runtime``)."""

    sim: SpawnedSimulator
    service: subprocess.Popen[str]
    runtime: Path
    record: Path
    serial: str
    http: str = ""
    """The service's ``http://127.0.0.1:PORT`` (sign-in needed there, unlike on the local socket)."""

    @property
    def socket(self) -> Path:
        return self.runtime / "mesogun" / "service.sock"

    @property
    def url(self) -> str:
        """The ``--service`` URL of the local socket."""
        return f"unix://{self.socket}"

    def snapshot(self) -> dict[str, Any]:
        """What the device holds now, read through the simulator's control channel (not through the service)."""
        assert self.sim.control is not None
        with ControlClient(self.sim.control) as control:
            snapshot: dict[str, Any] = control.request("snapshot")["snapshot"]
        return snapshot


MESOGUN = (sys.executable, "-m", "mesogun.cli")


@contextlib.contextmanager
def serve_gun(where: Path, serial: str, *sim_args: str) -> Iterator[ServedGun]:
    """``mesogun sim SIM_ARGS --serial SERIAL --control …`` and ``mesogun serve`` owning it; both stopped at the end."""
    with spawn_simulator(*sim_args, "--serial", serial, "--control", "127.0.0.1:0") as sim:
        runtime, record = where / "run", where / "record.sqlite"
        command = [
            *MESOGUN,
            "serve",
            "--device",
            sim.address,
            "--port",
            "0",
            "--socket",
            str(runtime / "mesogun" / "service.sock"),
            "--db",
            str(record),
            "--accounts",
            str(where / "accounts.sqlite"),
        ]
        log = where / "service.log"  # a file, not a pipe nobody reads: a chatty service never blocks on it
        with log.open("w") as errors:
            service = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            assert service.stdout is not None
            line = service.stdout.readline()
            http = announced_url(line)
            if http is None:
                service.kill()
                service.wait(timeout=10)
                raise AssertionError(f"the service did not start: {line!r} {log.read_text()[-2000:]}")
            yield ServedGun(sim, service, runtime, record, serial, http)
        finally:
            if service.poll() is None:
                service.send_signal(signal.SIGTERM)
                try:
                    service.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    service.kill()
            service.communicate(timeout=10)


@pytest.fixture(scope="session")
def pty_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGun]:
    """One service for the test run (started by the first test that asks), owning a simulator served over a pty
    pair (serial number SRVP0001). Tests leave it in any state: each brings the gun to the state it needs."""
    with serve_gun(tmp_path_factory.mktemp("service"), "SRVP0001", "--pty") as served:
        yield served
