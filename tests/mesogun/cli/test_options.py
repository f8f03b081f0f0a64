"""Global options (``mesogun.cli.options``): -h, before or after the command, -v, --trace, --baud, --timeout and
--connect-attempts, as a technician used to esptool or pyserial's tools types them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mesogun.cli.options import CliContext, global_options, group_options
from sims.spawn import spawn_simulator
from tests.mesogun.cli.in_process import mesogun_in_process

pytestmark = pytest.mark.realio

CLOSED_PORT = "socket://127.0.0.1:1"
"""Nothing listens there: the connection is refused at once (exit 4)."""
SILENT_GUN = "sim://?drop=1&seed=1"
"""A simulated gun that hears nothing: hello goes unanswered."""


def mesogun(*args: str) -> subprocess.CompletedProcess[str]:
    """``mesogun ARGS`` in this process: its exit code, stdout and stderr."""
    return mesogun_in_process(*args)


def test_dash_h_is_help_on_the_group_and_every_command() -> None:
    for args in ((), ("status",), ("devices",), ("fire",), ("record",), ("record", "list"), ("sim",), ("demo",)):
        short, long = mesogun(*args, "-h"), mesogun(*args, "--help")
        assert short.returncode == long.returncode == 0, (args, short.stderr)
        assert short.stdout == long.stdout and "-h, --help" in short.stdout


def test_help_says_global_options_may_follow_the_command_and_which_wins() -> None:
    text = " ".join(mesogun("-h").stdout.split())
    assert "Global options may also follow the command" in text and "the one after the command wins" in text
    status_help = mesogun("status", "-h").stdout
    for option in ("--device", "--db", "--verbose", "--trace", "--baud", "--timeout", "--connect-attempts"):
        assert option in status_help


def test_a_global_option_after_the_command_works_and_wins_over_one_before(tmp_path: Path) -> None:
    db = str(tmp_path / "record.sqlite")
    after = mesogun("status", "--json", "--device", "sim://", "--db", db)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["state"] == "idle"
    assert mesogun("--device", CLOSED_PORT, "status", "--device", "sim://", "--db", db).returncode == 0
    refused = mesogun("--device", "sim://", "--db", db, "status", "--device", CLOSED_PORT)
    assert refused.returncode == 4 and "127.0.0.1:1" in refused.stderr


def test_db_after_a_record_command_is_the_record_read(tmp_path: Path) -> None:
    db = tmp_path / "record.sqlite"
    assert mesogun("--db", str(db), "status", "--device", "sim://?serial=SIM0001").returncode == 0
    listed = mesogun("--db", str(tmp_path / "other.sqlite"), "record", "list", "--json", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout.splitlines()[0])["device_serial"] == "SIM0001"


def test_the_environment_counts_before_the_command_only() -> None:
    """$MESOGUN_DEVICE fills --device for the group; a --device typed after the command overrides it."""

    @click.command("probe-settings")
    @click.pass_context
    def show(ctx: click.Context) -> None:
        obj: CliContext = ctx.obj
        click.echo(f"{obj.device} {obj.link.timeout} {obj.link.trace} {obj.verbose}")

    group = group_options(click.group()(lambda: None))
    group.add_command(global_options(show))
    runner = CliRunner()
    env = {"MESOGUN_DEVICE": "sim://from-env"}
    assert runner.invoke(group, ["probe-settings"], env=env).output.strip() == "sim://from-env None False 0"
    typed = runner.invoke(group, ["--timeout", "2", "probe-settings", "--device", "sim://typed", "--trace"], env=env)
    assert typed.output.strip() == "sim://typed 2.0 True 0"
    both = runner.invoke(group, ["--timeout", "2", "-vv", "probe-settings", "--timeout", "0.5", "-v"], env=env)
    assert both.output.strip() == "sim://from-env 0.5 False 1"
    assert global_options(show) is show and len(show.params) == 7  # applying it twice adds nothing


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--timeout", "0", "'--timeout': 0 s is outside the limit: more than 0 s, at most 60 s"),
        ("--timeout", "-1", "'--timeout': -1 s is outside the limit: more than 0 s, at most 60 s"),
        ("--timeout", "1e308", "'--timeout': 1e+308 s is outside the limit"),
        ("--baud", "12", "'--baud': 12 baud is outside the limit: 50–4000000 baud"),
        ("--connect-attempts", "0", "'--connect-attempts': 0 is outside the limit: 1–100 attempts"),
    ],
)
@pytest.mark.parametrize("where", ["before", "after"])
def test_bad_values_are_usage_errors_naming_option_value_limit_and_unit(
    tmp_path: Path, option: str, value: str, said: str, where: str
) -> None:
    db = tmp_path / "record.sqlite"
    args = ["--device", "sim://", "--db", str(db), "status"]
    args = [option, value, *args] if where == "before" else [*args, option, value]
    result = mesogun(*args)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert not db.exists()  # nothing was opened


def test_baud_is_for_serial_ports_only(tmp_path: Path) -> None:
    db = str(tmp_path / "record.sqlite")
    result = mesogun("--db", db, "status", "--device", "sim://", "--baud", "9600")
    assert result.returncode == 2 and "--baud 9600: sim:// is not a serial line" in result.stderr
    with spawn_simulator("--pty", "--serial", "BAUD001") as sim:
        on_pty = mesogun("--db", db, "info", "--json", "--device", sim.address, "--baud", "9600")
    assert on_pty.returncode == 0, on_pty.stderr
    assert json.loads(on_pty.stdout)["serial_number"] == "BAUD001"


def test_trace_shows_every_frame_on_stderr_and_leaves_stdout_to_the_output(tmp_path: Path) -> None:
    device = "sim://?serial=SIM0001"
    result = mesogun("--db", str(tmp_path / "r.sqlite"), "status", "--json", "--device", device, "--trace")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "idle"
    lines = result.stderr.splitlines()
    assert all(line.startswith("trace ") for line in lines), lines
    said = " ".join(lines)
    for frame in ("→ hello seq=", "← identity seq=", "[reply]", "→ get_status seq=", "← status seq=", "→ stop seq="):
        assert frame in said, frame
    assert 'serial_number="SIM0001"' in said


def test_timeout_is_the_wait_for_each_reply(tmp_path: Path) -> None:
    result = mesogun("--db", str(tmp_path / "r.sqlite"), "status", "--device", SILENT_GUN, "--timeout", "0.05")
    assert result.returncode == 4
    assert "hello got no reply after 4 attempts of 0.05 s each" in result.stderr


def test_connect_attempts_try_again_and_verbose_says_so(tmp_path: Path) -> None:
    db = str(tmp_path / "r.sqlite")
    quiet = mesogun("--db", db, "status", "--device", CLOSED_PORT, "--connect-attempts", "3")
    assert quiet.returncode == 4 and "connect attempt" not in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1
    told = mesogun("--db", db, "-v", "status", "--device", CLOSED_PORT, "--connect-attempts", "3")
    assert told.returncode == 4
    why = told.stderr.splitlines()[-1].removeprefix("error: ")
    assert [line for line in told.stderr.splitlines() if line.startswith("info: connect attempt")] == [
        f"info: connect attempt {n} of 3 to {CLOSED_PORT} failed: {why}" for n in (1, 2)
    ]
