"""``mesogun devices`` (``mesogun.cli.devices``): listing, ``--probe`` over real pty pairs, and ``--json``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import serial

from sims.spawn import null_modem, spawn_simulator
from tests.mesogun.cli.in_process import mesogun_in_process

pytestmark = [
    pytest.mark.realio,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed (apt-get install socat)"),
]


def mesogun(*args: str) -> subprocess.CompletedProcess[str]:
    """``mesogun ARGS`` in this process: its exit code, stdout and stderr."""
    return mesogun_in_process(*args)


def test_probe_tells_a_gun_from_a_silent_port_a_busy_one_and_a_missing_one(
    private_user_dirs: Path, tmp_path: Path
) -> None:
    """One pty pair with a simulated gun behind it, one with nothing behind it, one held by another program,
    and a path that does not exist: each gets its answer, none stops the others, and no record is made."""
    db = tmp_path / "record.sqlite"
    missing = str(tmp_path / "no-such-port")
    with (
        null_modem() as (gun_end, gun_port),
        null_modem() as (_, silent_port),
        null_modem() as (_, busy_port),
        spawn_simulator("--serial-port", gun_end, "--serial", "PROBE01"),
        serial.Serial(busy_port, exclusive=True),  # another program holds this port
    ):
        ports = [gun_port, silent_port, busy_port, missing]
        args = [arg for port in ports for arg in ("--port", port)]
        as_json = mesogun("--db", str(db), "devices", "--probe", "--json", *args)
        as_text = mesogun("--db", str(db), "devices", "--probe", *args)
    assert as_json.returncode == 0 and "Traceback" not in as_json.stderr, as_json.stderr
    found = {row["device"]: row["probe"] for row in json.loads(as_json.stdout)}
    assert list(found) == ports
    gun = found[gun_port]
    assert gun["gun"] is True and gun["serial_number"] == "PROBE01"
    assert gun["model"] and gun["firmware_version"] and gun["protocol_version"] == 1
    assert found[silent_port] == {"gun": False, "why_not": "no answer to hello within 0.4 s"}
    assert found[busy_port]["gun"] is False and "busy" in found[busy_port]["why_not"]
    assert found[missing]["gun"] is False and "no such port" in found[missing]["why_not"]

    assert as_text.returncode == 0 and "Traceback" not in as_text.stderr, as_text.stderr
    rows = {line.split()[0]: line for line in as_text.stdout.splitlines()[1:]}
    assert f"serial PROBE01, firmware {gun['firmware_version']}" in rows[gun_port]
    assert "not a gun: no answer to hello within 0.4 s" in rows[silent_port]
    assert "not a gun: cannot open" in rows[busy_port] and "not a gun:" in rows[missing]

    assert not db.exists()  # a probe attaches no treatment record and creates no record file
    assert not [p for p in private_user_dirs.rglob("*") if p.is_file()]


def test_probe_timeout_follows_timeout_and_trace_shows_the_hello(tmp_path: Path) -> None:
    with null_modem() as (_, silent_port):
        result = mesogun("devices", "--port", silent_port, "--json", "--timeout", "0.1", "--trace")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["probe"]["why_not"] == "no answer to hello within 0.2 s"
    assert sum(" → hello seq=" in line for line in result.stderr.splitlines()) == 2  # the hello and its one retry


def test_json_prints_what_its_help_says() -> None:
    """--json's help names the list and every key it prints, probe keys included."""
    help_text = " ".join(mesogun("devices", "-h").stdout.split())
    assert "one JSON list, an object per port" in help_text
    listed = mesogun("devices", "--json")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list)
    probed = mesogun("devices", "--json", "--port", "sim://?serial=SIMJSON")
    (row,) = json.loads(probed.stdout)
    for key in [*row, *row["probe"]]:
        assert key in help_text, key
    assert row["probe"]["serial_number"] == "SIMJSON"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "sim://", "--vid-pid", "1209:0001"], "cannot be combined with --vid-pid"),
        (["--port", "sim://", "--baud", "9600"], "--baud 9600: sim:// is not a serial line"),
        (["--port", "foo://x"], "unknown scheme foo://"),
    ],
)
def test_bad_probe_requests_are_usage_errors(args: list[str], said: str) -> None:
    result = mesogun("devices", *args)
    assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr
