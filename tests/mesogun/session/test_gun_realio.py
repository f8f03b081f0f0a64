"""The same flow through real I/O: ``mesogun sim --pty`` and ``mesogun sim --tcp`` run as subprocesses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import mesogun
from firmware_protocol import AlarmCode
from mesogun import HostState
from sims.spawn import spawn_simulator

pytestmark = pytest.mark.realio


MESOGUN_SIM = (sys.executable, "-m", "mesogun.cli", "sim")
"""``mesogun sim`` through the host's own CLI, as a user runs it."""


@contextmanager
def sim_process(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``mesogun sim ARGS`` and yield where it serves and its process; always stopped at the end."""
    with spawn_simulator(*args, launcher=MESOGUN_SIM) as sim:
        yield sim.address, sim.process


async def flow(url: str) -> None:
    async with mesogun.connect(url) as gun:
        assert gun.info.serial_number
        await gun.load_syringe(capacity_ml=3)
        await gun.prime(volume_ml=0.01)
        await gun.configure(depth_mm=2.0, dose_ml=0.005, rate_hz=10, mode="burst")
        await gun.arm()
        shots = await gun.fire(count=10)
        assert len(shots) == 10
        assert [s.index for s in shots] == list(range(shots[0].index, shots[0].index + 10))
        await gun.stop()
        await gun.disarm()
        assert gun.state is HostState.READY
        assert (await gun.refresh_status()).shots_session == 10


@pytest.mark.parametrize("args", [("--pty",), ("--tcp", "127.0.0.1:0")], ids=["pty", "tcp"])
def test_full_flow_against_a_simulator_subprocess(real: Any, args: tuple[str, ...]) -> None:
    with sim_process(*args) as (url, _proc):
        assert url.startswith("/") if args[0] == "--pty" else url.startswith("socket://127.0.0.1:")
        real(lambda: flow(url))


def test_blocked_host_loop_stops_heartbeats_and_the_device_watchdog_trips(real: Any) -> None:
    """Fault: the host's event loop is blocked (a synchronous call stuck in the control path) for longer
    than the device's watchdog. No heartbeat goes out, so the device disarms and raises communication_lost;
    once the loop runs again the host follows the device into alarm (and does not mistake its own stall
    for a silent device)."""

    async def scenario(url: str) -> None:
        async with mesogun.connect(url) as gun:
            await gun.load_syringe(capacity_ml=3)
            await gun.prime(volume_ml=0.01)
            await gun.arm()
            await asyncio.sleep(1.0)  # healthy: heartbeats keep it armed
            assert (await gun.refresh_status()).state.json_name == "armed"
            time.sleep(3 * gun.info.watchdog_ms / 1000)  # the whole loop stalls
            status = await gun.refresh_status()
            assert AlarmCode.COMMUNICATION_LOST in status.active_alarms
            assert gun.state is HostState.ALARM

    with sim_process("--pty", "--watchdog-ms", "300") as (where, _proc):
        real(lambda: scenario(where))


def test_simulator_killed_mid_burst_is_reported_promptly(real: Any) -> None:
    """Fault: the device vanishes mid-burst (process killed: the pty goes away like an unplugged USB port).
    fire() raises ConnectionLost instead of hanging."""

    async def scenario(url: str, proc: subprocess.Popen[str]) -> None:
        async with mesogun.connect(url) as gun:
            await gun.load_syringe(capacity_ml=3)
            await gun.prime(volume_ml=0.01)
            await gun.configure(rate_hz=10, mode="continuous", dose_ml=0.005)
            await gun.arm()
            firing = asyncio.create_task(gun.fire(count=0))
            await asyncio.sleep(0.5)
            proc.kill()
            with pytest.raises(mesogun.ConnectionLost):
                await asyncio.wait_for(firing, timeout=10)
            assert gun.state is HostState.DISCONNECTED

    with sim_process("--pty") as (where, proc):
        real(lambda: scenario(where, proc))
