"""``mesogun sim`` (``sims.cli``) over real I/O: a subprocess over a pty, TCP and a socat serial pair, talked to
by a plain pyserial client that uses only ``firmware_protocol`` to build and read frames."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from firmware_protocol import Flag, Message, StreamDecoder, decode_message, make, to_wire
from sims.spawn import SpawnedSimulator, null_modem, start_simulator

pytestmark = pytest.mark.realio

SIM_CMD = [sys.executable, "-m", "sims.cli"]
"""The ``mesogun sim`` click command itself, run without the host CLI's other imports; the test
``test_mesogun_sim_is_registered`` checks the same command is reachable as ``mesogun sim``."""
FILL = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}


class Client:
    """A plain pyserial client: write frames, read until the reply with the same seq."""

    def __init__(self, port: Any) -> None:
        self.port = port
        self.decoder = StreamDecoder()
        self.seq = 0
        self.events: list[Message] = []

    def request(self, name: str, **fields: Any) -> Message:
        self.seq += 1
        self.port.write(to_wire(make(name, seq=self.seq, **fields)))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for frame in self.decoder.feed(self.port.read(256)):
                message = decode_message(frame)
                if message.flags & Flag.REPLY and message.seq == self.seq:
                    return message
                self.events.append(message)
        raise TimeoutError(f"no reply to {name}")


@pytest.fixture
def sim_proc() -> Iterator[Any]:
    """Start ``mesogun sim`` with the given args (see :mod:`sims.spawn`); always stopped at the end."""
    started: list[SpawnedSimulator] = []

    def start(*args: str) -> SpawnedSimulator:
        spawned = start_simulator(*args)
        started.append(spawned)
        return spawned

    yield start
    for spawned in started:
        spawned.stop()


def test_pty_serves_a_plain_pyserial_client_and_exits_0_on_sigterm(sim_proc):
    sim = sim_proc("--pty", "--serial", "SIMPTY")
    assert sim.kind == "PTY" and re.fullmatch(r"/dev/\S+", sim.address), sim
    with serial.Serial(sim.address, timeout=0.2) as port:
        client = Client(port)
        identity = client.request("hello")
        assert identity.name == "identity" and identity["serial_number"] == "SIMPTY"
        assert client.request("load_syringe", **FILL).name == "ack"
        nak = client.request("set_parameters", depth_um=5000, dose_nl=10_000, rate_mhz=2000, mode="burst")
        assert nak.name == "nak" and nak["detail"] == "depth_um=5000 above max 4000"
    assert sim.stop() == 0


def test_tcp_reconnect_sees_the_same_device_and_sigint_exits_0(sim_proc):
    sim = sim_proc("--tcp", "127.0.0.1:0")
    assert sim.kind == "URL" and re.fullmatch(r"socket://127\.0\.0\.1:\d+", sim.address), sim
    url = sim.address
    port = serial.serial_for_url(url, timeout=0.2)
    try:
        client = Client(port)
        assert client.request("hello").name == "identity"
        assert client.request("load_syringe", **FILL).name == "ack"
    finally:
        port.close()
    port = serial.serial_for_url(url, timeout=0.2)
    try:
        status = Client(port).request("get_status")
        assert status["syringe_capacity_nl"] == 2_000_000 and status["state"].json_name == "idle"
    finally:
        port.close()
    assert sim.stop(signal.SIGINT) == 0


def test_tcp_new_connection_replaces_the_current_one(sim_proc):
    url = sim_proc("--tcp", "127.0.0.1:0", "--status-period-ms", "0").address
    first = serial.serial_for_url(url, timeout=0.2)
    second = None
    try:
        assert Client(first).request("hello").name == "identity"
        second = serial.serial_for_url(url, timeout=0.2)
        assert Client(second).request("hello").name == "identity"
        with pytest.raises(serial.SerialException):
            for _ in range(50):  # the replaced socket is closed by the simulator
                first.write(to_wire(make("heartbeat", seq=9)))
                first.read(64)
                time.sleep(0.05)
    finally:
        first.close()
        if second is not None:
            second.close()


def test_tcp_watchdog_trips_after_the_host_vanishes_while_armed(sim_proc):
    """Fault: the host disappears while armed. Must hold: the next connection finds communication_lost."""
    url = sim_proc("--tcp", "127.0.0.1:0", "--watchdog-ms", "300").address
    with serial.serial_for_url(url, timeout=0.2) as port:
        client = Client(port)
        client.request("load_syringe", **FILL)
        client.request("prime", volume_nl=5_000)
        time.sleep(0.3)
        assert client.request("arm").name == "ack"
    time.sleep(0.6)
    with serial.serial_for_url(url, timeout=0.2) as port:
        status = Client(port).request("get_status")
        assert status["state"].json_name == "alarm"
        assert [a.json_name for a in status["active_alarms"]] == ["communication_lost"]


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed (apt-get install socat)")
def test_serial_port_mode_on_a_socat_pty_pair(sim_proc):
    with null_modem() as (device_end, host_end):
        sim = sim_proc("--serial-port", device_end, "--serial", "SIMSER")
        assert (sim.kind, sim.address) == ("SERIAL", device_end)
        with serial.Serial(host_end, timeout=0.2) as port:
            assert Client(port).request("hello")["serial_number"] == "SIMSER"
        assert sim.stop() == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--drop", "2"], "drop=2 is out of range: allowed 0 to 1 (probability per byte)"),
        (["--fault", "occlusion:after_shots=x"], "fault after_shots=x is not a number"),
        (["--tcp", "127.0.0.1:99999"], "is not HOST:PORT"),
    ],
)
def test_bad_options_exit_2_with_one_clear_line(args, words):
    result = subprocess.run([*SIM_CMD, *args], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_help_documents_every_option_with_units():
    from sims.options import OPTIONS

    result = subprocess.run([*SIM_CMD, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for spec in OPTIONS:
        assert spec.cli_name in text
    for words in (
        "--pty",
        "--tcp",
        "--serial-port",
        "[0 to 1 probability per byte]",
        "[100 to 60000 ms]",
        "REPLACES THE CURRENT ONE",
    ):
        assert words in text


def test_mesogun_sim_is_registered():
    """``python -m mesogun.cli sim --help`` reaches this command (the host CLI registers it)."""
    result = subprocess.run(
        [sys.executable, "-m", "mesogun.cli", "sim", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--serial-port" in result.stdout and "--fault" in result.stdout
