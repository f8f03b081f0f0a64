"""The ``mesogun`` command line as a technician meets it: exit codes, one-line errors. Commands run in this
process (tests/mesogun/cli/in_process.py) except where the point is the process: signals stopping a fire."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_protocol import make
from mesogun.record import TreatmentRecord
from sims.spawn import SpawnedSimulator, spawn_simulator
from tests.mesogun.cli.in_process import mesogun_in_process

pytestmark = pytest.mark.realio


def mesogun(*args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``mesogun ARGS`` (in this process: its exit code, stdout and stderr as a child's would be)."""
    return mesogun_in_process(*(["--db", str(db)] if db else []), *args)


def make_ready(url: str, db: Path, *, mode: str) -> None:
    """Load a 3 mL syringe, prime, and set 10 shots/s in ``mode`` through the CLI."""
    for args in (("load", "--capacity", "3"), ("prime", "--volume", "0.01"), ("set", "--rate", "10", "--mode", mode)):
        assert mesogun("--device", url, *args, db=db).returncode == 0


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """Exit ``code``, one line on stderr containing ``words``, no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 or (code == 2 and lines[-1].startswith("Error:")), result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


@pytest.fixture
def tcp_gun(tmp_path: Path) -> Iterator[SpawnedSimulator]:
    """A simulated gun that outlives CLI invocations (each CLI call is a new host process)."""
    with spawn_simulator("--tcp", "127.0.0.1:0", "--serial", "CLI0001", "--nvm", str(tmp_path / "nvm.json")) as sim:
        yield sim


def test_help_lists_commands_and_exit_codes() -> None:
    """--help on the group and on every command works and documents the exit codes."""
    top = mesogun("--help")
    assert top.returncode == 0
    commands = ("devices", "info", "status", "set", "load", "prime", "fire", "stop", "disarm", "estop", "clear")
    for command in (*commands, "record"):
        assert command in top.stdout
        assert mesogun(command, "--help").returncode == 0
    text = " ".join(top.stdout.split())
    assert "3 refused by the device (nak)" in text and "4 link failure or timeout" in text and "5 device alarm" in text


def test_a_treatment_through_the_cli_is_on_record(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """set/load/prime/fire/status against one gun; the record then lists the session with its shots."""
    db = tmp_path / "record.sqlite"
    url = tcp_gun.address
    applied = mesogun(
        "--device", url, "set", "--depth", "2.5", "--dose", "0.02", "--rate", "10", "--mode", "burst", "--json", db=db
    )
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout) == {"depth_mm": 2.5, "dose_ml": 0.02, "rate_hz": 10.0, "mode": "burst"}
    assert mesogun("--device", url, "load", "--capacity", "3", db=db).returncode == 0
    assert mesogun("--device", url, "prime", "--volume", "0.05", db=db).returncode == 0
    fired = mesogun("--device", url, "fire", "--count", "5", db=db)
    assert fired.returncode == 0, fired.stderr
    assert fired.stdout.count("shot ") == 5 and "[5/5]" in fired.stdout
    status = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    assert status["state"] == "ready"  # fire disarmed the gun on its way out
    assert status["shots_lifetime"] == 5
    sessions = [json.loads(line) for line in mesogun("record", "list", "--json", db=db).stdout.splitlines()]
    assert {"session", "device_serial", "started", "shots_recorded", "shots_unreceived"} <= set(sessions[0])
    assert sum(s["shots_recorded"] for s in sessions) == 5
    assert all(s["device_serial"] == "CLI0001" for s in sessions)
    fire_session = next(s["session"] for s in sessions if s["shots_recorded"])
    exported = mesogun("record", "export", str(fire_session), "--format", "csv", db=db)
    assert exported.stdout.splitlines()[0].startswith("shot_index,received")
    assert len(exported.stdout.splitlines()) == 6


PARAMETERS = ("depth_mm", "dose_ml", "rate_hz", "mode")
"""The treatment parameters ``status --json`` reports and ``set`` changes."""


def test_out_of_range_value_exits_2_naming_field_limit_and_unit(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """A depth over the device's limit is refused before sending: exit 2, and the gun keeps the settings it had."""
    db = tmp_path / "record.sqlite"
    url = tcp_gun.address
    applied = mesogun("--device", url, "set", "--depth", "2.5", "--dose", "0.02", "--rate", "10", "--json", db=db)
    assert applied.returncode == 0, applied.stderr
    result = mesogun("--device", url, "set", "--depth", "4.05", "--dose", "0.05", db=db)
    assert_one_line_error(result, 2, "depth_mm=4.05", "1.0–4.0 mm")
    status = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    assert {k: status[k] for k in PARAMETERS} == json.loads(applied.stdout)


def test_state_refusal_exits_3(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """Firing a gun with no syringe is refused: exit 3 with the reason and what to do."""
    result = mesogun("--device", tcp_gun.address, "fire", "--count", "1", db=tmp_path / "r.sqlite")
    assert_one_line_error(result, 3, "idle")


def test_link_failure_exits_4(tmp_path: Path) -> None:
    """Nobody listening on the port: exit 4, one line, no traceback."""
    result = mesogun("--device", "socket://127.0.0.1:9", "status", db=tmp_path / "r.sqlite")
    assert_one_line_error(result, 4)


def test_without_db_the_record_is_the_one_in_the_user_data_directory(private_user_dirs: Path) -> None:
    """No --db and no MESOGUN_DB: the session is recorded in the user's data directory (here a private one)."""
    result = mesogun("--device", "sim://", "status", "--json")
    assert result.returncode == 0, result.stderr
    default = private_user_dirs / ".local" / "share" / "mesogun" / "treatment-record.sqlite"
    with TreatmentRecord(default, create=False) as record:
        assert len(record.sessions()) == 1


def test_occlusion_during_fire_exits_5_and_leaves_the_gun_disarmed(tmp_path: Path) -> None:
    """Fault: occlusion after 2 shots. The CLI prints the shots it got, exits 5, and the gun is not armed."""
    db = tmp_path / "r.sqlite"
    with spawn_simulator("--tcp", "127.0.0.1:0", "--fault", "occlusion:after_shots=2") as sim:
        for args in (
            ("load", "--capacity", "2"),
            ("prime", "--volume", "0.01"),
            ("set", "--rate", "10", "--mode", "burst"),
        ):
            assert mesogun("--device", sim.address, *args, db=db).returncode == 0
        result = mesogun("--device", sim.address, "fire", "--count", "10", db=db)
        assert_one_line_error(result, 5, "occlusion")
        status = json.loads(mesogun("--device", sim.address, "status", "--json", db=db).stdout)
        assert status["state"] == "alarm" and status["shots_lifetime"] == 2
        assert mesogun("--device", sim.address, "clear", db=db).returncode == 0


def test_missing_device_is_a_usage_error(tmp_path: Path) -> None:
    """No --device and no MESOGUN_DEVICE: exit 2 telling how to name one."""
    result = mesogun("status", db=tmp_path / "r.sqlite")  # private_user_dirs removed MESOGUN_DEVICE
    assert result.returncode == 2 and "--device" in result.stderr and "Traceback" not in result.stderr


def test_record_of_an_unknown_session_is_a_clear_error(tmp_path: Path) -> None:
    """record show/export 42 on an empty record: "no such session", a usage error (exit 2) naming the session
    and the file, not "record unavailable" (6)."""
    db = tmp_path / "r.sqlite"
    TreatmentRecord(db).close()
    assert_one_line_error(mesogun("record", "show", "--session", "42", db=db), 2, "no session 42", str(db))
    assert_one_line_error(mesogun("record", "export", "42", db=db), 2, "no session 42", str(db))


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("foo://x", "unknown scheme foo://"),
        ("usb://1", "'1' is no VID:PID (use usb://VVVV:PPPP[/SERIAL]"),
        ("socket://127.0.0.1:99999", "port 99999 is not a port number 1–65535"),
        ("socket://127.0.0.1", "no port number (use socket://HOST:PORT)"),
    ],
)
def test_a_bad_device_url_is_a_usage_error(tmp_path: Path, url: str, said: str) -> None:
    """An unknown scheme or a socket:// URL without a valid port: exit 2 (bad usage), not 4 (link failure),
    one line about the URL, not pyserial's internals."""
    db = tmp_path / "r.sqlite"
    assert_one_line_error(mesogun("--device", url, "status", db=db), 2, said)
    assert "pyserial" not in mesogun("--device", url, "status", db=db).stderr


def test_export_to_a_file_that_cannot_be_written_is_one_clean_line(tmp_path: Path) -> None:
    """record export -o into a missing folder: exit 2, one line naming the path, nothing written."""
    db = tmp_path / "r.sqlite"
    with TreatmentRecord(db) as record:
        record.start_session("CLI0001")
    target = tmp_path / "nonexistent" / "dir" / "x.csv"
    result = mesogun("record", "export", "1", "--format", "csv", "-o", str(target), db=db)
    assert_one_line_error(result, 2, str(target), "No such file or directory")
    assert not target.parent.exists()
    written = tmp_path / "x.csv"
    assert mesogun("record", "export", "1", "--format", "csv", "-o", str(written), db=db).returncode == 0
    assert written.read_text().startswith("shot_index,received")


def test_reading_a_record_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    """A mistyped --db is an error (exit 6) naming the path, not a new empty record."""
    db = tmp_path / "typo.sqlite"
    assert_one_line_error(mesogun("record", "list", db=db), 6, str(db))
    assert not db.exists()


def test_devices_json_is_a_list() -> None:
    """devices --json prints a JSON list (empty on a machine with no serial ports)."""
    result = mesogun("devices", "--json")
    assert result.returncode == 0 and isinstance(json.loads(result.stdout), list)
    assert_one_line_error(mesogun("devices", "--vid-pid", "zz:1"), 2, "vid_pid")


def test_demo_runs_a_treatment_and_summarises_it(tmp_path: Path) -> None:
    """The README's first command: 20 shots with progress and a closing summary."""
    result = mesogun("demo", "--json", db=tmp_path / "demo.sqlite")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["shots"] == 20 and summary["alarms"] == []
    assert summary["volume_delivered_ml"] == pytest.approx(0.4)
    assert 0 < summary["reservoir_left_ml"] < 5
    assert "[ 20/20]" in result.stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_fire_count_0_fires_until_ctrl_c_then_disarms(
    tcp_gun: SpawnedSimulator, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """fire --count 0 keeps firing until SIGINT (or SIGTERM, or SIGHUP: the terminal closed), then stops,
    disarms, prints the shots and exits 0; the device fired exactly the shots printed."""

    db = tmp_path / "r.sqlite"
    url = tcp_gun.address
    make_ready(url, db, mode="continuous")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesogun.cli", "--db", str(db), "--device", url, "fire", "--count", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in range(3)]  # three shots landed: the gun is firing
        assert all("shot" in line for line in seen), seen
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    fired = int(out.strip().splitlines()[-1].split()[1])  # "fired N shots, V mL"
    assert fired >= 3
    status = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    assert status["state"] == "ready"
    assert status["shots_lifetime"] == fired


def test_estop_reports_the_latched_state_and_clear_releases_it(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """estop --json prints the state the device reports after the stop (emergency_stop), not the one before."""
    db = tmp_path / "r.sqlite"
    stopped = mesogun("--device", tcp_gun.address, "estop", "--json", db=db)
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == {"done": "estop", "state": "emergency_stop", "already": False}
    cleared = json.loads(mesogun("--device", tcp_gun.address, "clear", "--json", db=db).stdout)
    assert cleared["state"] in ("idle", "ready")


def test_repeated_ctrl_c_during_fire_still_leaves_the_gun_disarmed(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """Impatient Ctrl-Cs during fire --count 50: the later ones must not cut short stopping and disarming."""
    db = tmp_path / "r.sqlite"
    url = tcp_gun.address
    for args in (
        ("load", "--capacity", "3"),
        ("prime", "--volume", "0.01"),
        ("set", "--rate", "10", "--mode", "burst"),
    ):
        assert mesogun("--device", url, *args, db=db).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesogun.cli", "--db", str(db), "--device", url, "fire", "--count", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "shot" in proc.stdout.readline()  # firing
        for _ in range(6):  # the later ones land while the first is stopping and disarming the gun
            proc.send_signal(signal.SIGINT)
            time.sleep(0.004)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and "Traceback" not in err, err
    status = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    assert status["state"] == "ready"


ABSURD_VALUES = [
    (("set", "--depth", "1e308"), "depth_mm=1e+308", "1.0–4.0 mm"),
    (("set", "--dose", "1e306"), "dose_ml=1e+306", "0.001–0.200 mL"),
    (("set", "--dose", "-1e308"), "dose_ml=-1e+308", "0.001–0.200 mL"),
    (("set", "--rate", "1e308"), "rate_hz=1e+308", "0.5–10.0 Hz"),
    (("load", "--capacity", "1e308"), "capacity_ml=1e+308", "2, 3, 5, 10 mL"),
    (("prime", "--volume", "1e308"), "volume_ml=1e+308", "3 mL"),
]


def test_absurd_finite_values_exit_2_like_any_other_out_of_range_value(
    tcp_gun: SpawnedSimulator, tmp_path: Path
) -> None:
    """1e308 mm is out of range (exit 2, one line naming field, value and limits), not an OverflowError traceback;
    nothing reaches the device: its settings and syringe are what they were."""
    db = tmp_path / "r.sqlite"
    url = tcp_gun.address
    assert mesogun("--device", url, "load", "--capacity", "3", db=db).returncode == 0
    before = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    for args, field, limits in ABSURD_VALUES:
        assert_one_line_error(mesogun("--device", url, *args, db=db), 2, field, limits)
    after = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    kept = (*PARAMETERS, "state", "syringe_capacity_ml", "reservoir_ml", "primed")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}


def test_safe_commands_on_a_safe_gun_succeed_saying_so(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """disarm on a gun that is not armed, stop when not firing, clear with nothing latched: exit 0 and
    "already ..."; the gun stays ready (nothing it refused)."""
    db = tmp_path / "r.sqlite"
    url = tcp_gun.address
    make_ready(url, db, mode="burst")
    for command, said in (
        ("disarm", "disarm: already disarmed, gun ready"),
        ("stop", "stop: already stopped (the gun was not firing), gun ready"),
        ("clear", "clear: nothing was latched (already clear), gun ready"),
    ):
        result = mesogun("--device", url, command, db=db)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == said and not result.stderr
    assert json.loads(mesogun("--device", url, "disarm", "--json", db=db).stdout) == {
        "done": "disarm",
        "state": "ready",
        "already": True,
    }
    assert json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)["state"] == "ready"


def test_clear_acknowledges_a_brownout_reset_notice(tmp_path: Path) -> None:
    """A brown-out leaves the gun idle with the brownout_reset notice: clear is sent (exit 0) and the notice goes."""
    db = tmp_path / "r.sqlite"
    with spawn_simulator("--tcp", "127.0.0.1:0", "--fault", "brownout:at_s=0.01") as sim:
        time.sleep(0.2)
        before = json.loads(mesogun("--device", sim.address, "status", "--json", db=db).stdout)
        assert "brownout_reset" in before["active_alarms"]
        result = mesogun("--device", sim.address, "clear", db=db)
        assert result.returncode == 0 and result.stdout.strip() == "clear: done, gun idle", result
        after = json.loads(mesogun("--device", sim.address, "status", "--json", db=db).stdout)
        assert after["active_alarms"] == []


def test_safe_commands_are_sent_even_when_the_record_cannot_be_opened(
    tcp_gun: SpawnedSimulator, tmp_path: Path
) -> None:
    """A corrupt record file: estop, clear, stop and disarm still reach the gun (its state follows), then each
    says in one line that it is not on record, naming the file, and exits 6."""
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 400)
    good = tmp_path / "r.sqlite"
    url = tcp_gun.address
    for command, said, state in (
        ("estop", "estop: done", "emergency_stop"),
        ("clear", "clear: done", "idle"),
        ("stop", "stop: already stopped", "idle"),
        ("disarm", "disarm: already disarmed", "idle"),
    ):
        result = mesogun("--device", url, command, db=corrupt)
        assert_one_line_error(result, 6, f"{command} was sent", "NOT in the treatment record", str(corrupt))
        assert result.stdout.startswith(said), result.stdout
        assert json.loads(mesogun("--device", url, "status", "--json", db=good).stdout)["state"] == state
    assert corrupt.read_bytes() == b"this is not a database" * 400


def test_a_mistyped_db_folder_is_not_created(tmp_path: Path) -> None:
    """--db in a folder that does not exist: exit 6 naming the folder; no folder, no record created (only the
    default location's folders are created). --db "" is a usage error (exit 2)."""
    typo = tmp_path / "recrods" / "r.sqlite"
    assert_one_line_error(mesogun("--device", "sim://", "status", db=typo), 6, f"no folder {typo.parent}", "--db")
    assert not typo.parent.exists()
    empty = mesogun_in_process("--db", "", "--device", "sim://", "status")
    assert_one_line_error(empty, 2, "--db", "not an empty value")


def test_a_record_with_damaged_inner_pages_is_named_and_left_untouched(tmp_path: Path) -> None:
    """Garbage over a page in the middle of a record the CLI wrote: record list/show/export and a device command
    each exit 6 with one line saying the record is damaged and naming it; nothing is appended (no new session),
    the file is byte for byte as it was."""
    db = tmp_path / "r.sqlite"
    assert mesogun("--device", "sim://", "status", db=db).returncode == 0
    with TreatmentRecord(db) as record:  # grow it past a few pages as a long treatment would
        session = record.start_session("SN1")
        with record.transaction():
            for seq in range(1, 601):
                record.log_message(session, "host", make("fire", seq=seq, count=1))
    page_size = int.from_bytes(db.read_bytes()[16:18], "big")
    pages = db.stat().st_size // page_size
    with db.open("r+b") as file:
        file.seek(pages // 2 * page_size)
        file.write(bytes([0xA5, 0x5A, 0xFF, 0x00]) * (page_size // 4))
    damaged = db.read_bytes()
    for args in (
        ("record", "list"),
        ("record", "show", "--session", "1"),
        ("record", "export", "1"),
        ("--device", "sim://", "status"),
        ("--device", "sim://", "fire", "--count", "1"),
        ("--device", "sim://", "estop"),  # still sent (the gun made safe), then exit 6
    ):
        result = mesogun(*args, db=db)
        assert_one_line_error(result, 6, "is damaged", str(db), "left untouched")
        assert db.read_bytes() == damaged, args


def test_damage_the_open_check_misses_is_still_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Should a query meet damage the check at open did not see, record list still ends in one line, exit 6."""
    from mesogun.cli import main
    from mesogun.record import store

    db = tmp_path / "r.sqlite"
    with TreatmentRecord(db) as record:
        record.start_session("SN1")
    monkeypatch.setattr(store.TreatmentRecord, "sessions", _raise_malformed)
    assert main(["--db", str(db), "record", "list"]) == 6
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: the treatment record {db} could not be read: database disk image is malformed"]


def _raise_malformed(self: object) -> None:
    import sqlite3

    raise sqlite3.DatabaseError("database disk image is malformed")


def test_refusals_speak_the_cli_language(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """What the CLI says when it refuses names CLI commands, never API calls: fire before loading says to load
    and prime (not that arm needs the gun ready), prime with no syringe says so, a latched emergency stop says
    to run 'mesogun clear'."""
    db, url = tmp_path / "r.sqlite", tcp_gun.address
    fire = mesogun("--device", url, "fire", "--count", "1", db=db)
    assert_one_line_error(fire, 3, "cannot fire", "load a syringe and prime it first", "run 'mesogun load")
    assert "arm needs" not in fire.stderr and "call " not in fire.stderr and "()" not in fire.stderr
    prime = mesogun("--device", url, "prime", "--volume", "0.1", db=db)
    assert_one_line_error(prime, 3, "cannot prime: no syringe loaded", "run 'mesogun load --capacity ML' first")
    assert "outside" not in prime.stderr
    assert mesogun("--device", url, "estop", db=db).returncode == 0
    latched = mesogun("--device", url, "fire", "--count", "1", db=db)
    assert_one_line_error(latched, 3, "the gun is emergency_stop", "run 'mesogun clear'")
    assert "clear_alarm" not in latched.stderr


def test_a_prime_volume_the_device_would_refuse_is_refused_before_sending(
    tcp_gun: SpawnedSimulator, tmp_path: Path
) -> None:
    """Below the device's step (its smallest prime) or above what the syringe holds: exit 2 naming the range from
    the step (not 0), and nothing is sent: no prime in the record, the reservoir as it was."""
    db, url = tmp_path / "r.sqlite", tcp_gun.address
    assert mesogun("--device", url, "load", "--capacity", "2", "--fill", "1", db=db).returncode == 0
    for volume in ("0.0005", "1.5"):
        result = mesogun("--device", url, "prime", "--volume", volume, db=db)
        assert_one_line_error(result, 2, f"volume_ml={volume} is outside 0.001–1 mL")
    status = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    assert (status["reservoir_ml"], status["primed"]) == (1.0, False)
    with TreatmentRecord(db, create=False) as record:
        sent = [e["type"] for s in record.sessions() for e in record.events(s.session) if e["direction"] == "host"]
    assert "load_syringe" in sent and "prime" not in sent


def test_human_status_and_info_show_user_units_the_clock_and_the_steps(tmp_path: Path) -> None:
    """status without --json shows mm, mL, shots/s and seconds, says the device time is on the gun's clock, and
    shows no wire units; info shows each range's step."""
    db = tmp_path / "r.sqlite"
    status = mesogun("--device", "sim://", "status", db=db)
    assert status.returncode == 0, status.stderr
    lines = dict(line.split(None, 1) for line in status.stdout.splitlines() if not line.startswith("device time"))
    assert lines["depth"].startswith("2.0 mm") and lines["dose"] == "0.010 mL per shot"
    assert lines["rate"] == "2.0 shots/s" and lines["syringe"] == "none loaded"
    assert "s since the gun powered on (the gun's clock" in status.stdout
    for wire in ("_um", "_nl", "_mhz", "reservoir_nl"):
        assert wire not in status.stdout
    info = mesogun("--device", "sim://", "info", db=db)
    assert "1.0–4.0 mm, in steps of 0.1 mm" in info.stdout
    assert "0.001–0.200 mL, in steps of 0.001 mL" in info.stdout and "in steps of 0.1 shots/s" in info.stdout
    steps = json.loads(mesogun("--device", "sim://", "info", "--json", db=db).stdout)
    assert (steps["depth_step_mm"], steps["dose_step_ml"], steps["rate_step_hz"]) == (0.1, 0.001, 0.1)


@pytest.fixture
def memory_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory-backed storage (/dev/shm) where the machine has one, else ``tmp_path``."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="mesogun-test-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_fire_on_a_lossy_line_prints_the_device_count_and_the_shots_read_back(memory_folder: Path) -> None:
    """Shot events lost on the line: the summary counts what the device fired, says how many shots' details
    were read back from its log, and every shot is printed once; exit 0.

    The line is this test's subject, not the disk: its record is in memory-backed storage where the machine has
    it (/dev/shm), so a disk stalled by the rest of the suite's fsyncs (which the record rightly answers by
    stopping the gun after 0.5 s: tests/mesogun/record/test_record_failures.py) does not stop this burst."""
    db = memory_folder / "r.sqlite"
    args = ("--tcp", "127.0.0.1:0", "--serial", "LOSSY01", "--drop", "0.004", "--seed", "11")
    with spawn_simulator(*args) as sim:
        make_ready(sim.address, db, mode="burst")
        fired = mesogun("--device", sim.address, "fire", "--count", "40", "--json", db=db)
        assert fired.returncode == 0, fired.stderr
        lines = [json.loads(line) for line in fired.stdout.splitlines()]
        status = json.loads(mesogun("--device", sim.address, "status", "--json", db=db).stdout)
    shots = [line for line in lines if line["event"] == "shot"]
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["fired"] == 40 == status["shots_lifetime"]
    assert summary["unreceived"] == 0 and len(shots) == 40
    assert summary["recovered"] == sum(shot["recovered"] for shot in shots) > 0
    assert sorted(shot["index"] for shot in shots) == list(range(1, 41))
    assert "Traceback" not in fired.stderr and "ShotsNotReceived" not in fired.stderr


def _device_state(url: str, fingerprint: int) -> str:
    """The state a device reports to a bare client speaking its own core fingerprint."""
    import serial

    from firmware_protocol import Flag, Message, StreamDecoder, decode_message, to_wire

    port = serial.serial_for_url(url, timeout=0.2)
    decoder = StreamDecoder()

    def request(command: Message) -> Message:
        port.write(to_wire(command))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for frame in decoder.feed(port.read(256)):
                message = decode_message(frame)
                if message.flags & Flag.REPLY and message.seq == command.seq:
                    return message
        raise AssertionError(f"no reply to {command.name}")

    try:
        request(make("hello", seq=1, fingerprint=fingerprint))
        return str(request(make("get_status", seq=2))["state"].json_name)
    finally:
        port.close()


def test_estop_and_stop_reach_a_gun_of_another_core_catalog_and_nothing_else_does(tmp_path: Path) -> None:
    """A gun whose core fingerprint differs: estop and stop are sent and obeyed (the device latches emergency
    stop); every other command is refused in one line naming both fingerprints (exit 3)."""
    from firmware_protocol import FINGERPRINT

    db = tmp_path / "r.sqlite"
    with spawn_simulator("--tcp", "127.0.0.1:0", "--fingerprint", "0x12345678") as gun:
        stopped = mesogun("--device", gun.address, "estop", db=db)
        assert stopped.returncode == 0, stopped.stderr
        assert "estop: sent" in stopped.stdout and "0x12345678" in stopped.stdout
        assert f"0x{FINGERPRINT:08X}" in stopped.stdout
        assert _device_state(gun.address, 0x12345678) == "emergency_stop"
        assert mesogun("--device", gun.address, "stop", db=db).returncode == 0
        for command in (("disarm",), ("clear",), ("status",), ("load", "--capacity", "3")):
            refused = mesogun("--device", gun.address, *command, db=db)
            assert_one_line_error(refused, 3, "0x12345678", f"0x{FINGERPRINT:08X}")
        assert _device_state(gun.address, 0x12345678) == "emergency_stop"
