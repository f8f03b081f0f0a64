"""A real ``mesogun serve`` process owning a simulator served on a pty (or TCP) in another process: what the
*device* saw when the service is stopped with SIGTERM, killed with SIGKILL mid-burst, or loses its gun."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesogun_service.cli import announced_url
from sims.control import ControlClient
from sims.spawn import SpawnedSimulator, spawn_simulator, start_simulator
from tests.mesogun_service.conftest import PIN, USER, add_user

pytestmark = [pytest.mark.realio, pytest.mark.slow]

SERVE = (sys.executable, "-m", "mesogun.cli", "serve")


@dataclass
class ServiceProcess:
    """A ``mesogun serve`` child and an HTTP client of it."""

    process: subprocess.Popen[str]
    url: str
    client: httpx.Client

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.client.request(method, path, **kwargs)
        assert reply.status_code == 200, reply.text
        return reply.json()


@contextlib.contextmanager
def serving(device: str, tmp_path: Path, *extra: str) -> Iterator[ServiceProcess]:
    """Start ``mesogun serve --device DEVICE`` on a free port; kill it at the end if the test did not stop it."""
    accounts = tmp_path / "accounts.sqlite"
    add_user(accounts)
    command = [
        *SERVE,
        "--accounts",
        str(accounts),
        "--device",
        device,
        "--port",
        "0",
        "--no-socket",
        "--db",
        str(tmp_path / "record.sqlite"),
        *extra,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = announced_url(line)
    if url is None:
        proc.kill()
        raise AssertionError(f"the service did not start: {line!r} {proc.communicate(timeout=10)[1][-2000:]}")
    with httpx.Client(base_url=url, timeout=10) as client:
        token = client.post("/auth/login", json={"user": USER, "pin": PIN}).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        try:
            yield ServiceProcess(proc, url, client)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def _ready_to_treat(svc: ServiceProcess, serial: str) -> None:
    svc.ok("POST", f"/guns/{serial}/syringe", json={"capacity_ml": 10})
    svc.ok("POST", f"/guns/{serial}/prime", json={"volume_ml": 0.05})
    svc.ok("POST", f"/guns/{serial}/configure", json={"rate_hz": 10.0, "mode": "continuous", "dose_ml": 0.001})
    svc.ok("POST", f"/guns/{serial}/attendance", json={"client": "test"})
    assert svc.ok("POST", f"/guns/{serial}/arm")["state"] == "armed"


def _fire_in_background(svc: ServiceProcess, serial: str) -> threading.Thread:
    def fire() -> None:
        with contextlib.suppress(httpx.HTTPError):
            svc.client.post(f"/guns/{serial}/fire", json={"count": 0}, timeout=30)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


def _snapshot(sim: SpawnedSimulator) -> dict[str, Any]:
    assert sim.control is not None
    with ControlClient(sim.control) as control:
        snapshot: dict[str, Any] = control.request("snapshot")["snapshot"]
        return snapshot


@pytest.fixture
def pty_sim() -> Iterator[SpawnedSimulator]:
    with spawn_simulator("--pty", "--serial", "SIMP0001", "--control", "127.0.0.1:0") as sim:
        yield sim


def test_sigterm_stops_and_disarms_the_firing_gun_before_the_service_exits(pty_sim, tmp_path) -> None:
    with serving(pty_sim.address, tmp_path) as svc:
        _ready_to_treat(svc, "SIMP0001")
        firing = _fire_in_background(svc, "SIMP0001")
        time.sleep(0.6)
        assert _snapshot(pty_sim)["state"] == "firing"
        svc.process.send_signal(signal.SIGTERM)
        assert svc.process.wait(timeout=20) == 0
        firing.join(timeout=10)
    device = _snapshot(pty_sim)
    assert device["state"] == "ready"  # stopped and disarmed by the service, not by its watchdog
    assert device["last_stop"] is not None and device["last_watchdog_trip"] is None
    lifetime = device["shots_lifetime"]
    time.sleep(0.3)
    assert _snapshot(pty_sim)["shots_lifetime"] == lifetime  # no shot after


def test_sigkill_mid_burst_is_stopped_by_the_devices_own_watchdog(pty_sim, tmp_path) -> None:
    with serving(pty_sim.address, tmp_path) as svc:
        _ready_to_treat(svc, "SIMP0001")
        _fire_in_background(svc, "SIMP0001")
        time.sleep(0.6)
        svc.process.send_signal(signal.SIGKILL)
        svc.process.wait(timeout=10)
    time.sleep(1.6)  # the gun's watchdog: 1 s without a message from the host
    device = _snapshot(pty_sim)
    assert device["state"] not in ("firing", "armed")
    assert device["last_watchdog_trip"] is not None
    lifetime = device["shots_lifetime"]
    time.sleep(0.3)
    assert _snapshot(pty_sim)["shots_lifetime"] == lifetime


def test_the_service_reconnects_to_the_same_gun_after_it_was_unplugged(tmp_path) -> None:
    nvm = tmp_path / "nvm.json"
    first = start_simulator("--tcp", "127.0.0.1:0", "--serial", "SIMT0001", "--nvm", str(nvm))
    address = first.address
    try:
        with serving(address, tmp_path) as svc:
            assert svc.ok("GET", "/guns")[0]["connected"]
            first.stop()  # unplugged
            deadline = time.monotonic() + 10
            while svc.ok("GET", "/guns")[0]["connected"] and time.monotonic() < deadline:
                time.sleep(0.1)
            guns = svc.ok("GET", "/guns")
            assert not guns[0]["connected"] and guns[0]["last_error"]
            refused = svc.client.post("/guns/SIMT0001/stop")
            assert refused.status_code == 503 and refused.json()["error"]["kind"] == "not_connected"
            port = address.rsplit(":", 1)[1]
            second = start_simulator("--tcp", f"127.0.0.1:{port}", "--serial", "SIMT0001", "--nvm", str(nvm))
            try:
                deadline = time.monotonic() + 15
                while not svc.ok("GET", "/guns")[0]["connected"] and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert svc.ok("GET", "/guns")[0]["connected"]
                assert svc.ok("POST", "/guns/SIMT0001/stop")["state"] == "idle"
            finally:
                second.stop()
    finally:
        first.stop()
