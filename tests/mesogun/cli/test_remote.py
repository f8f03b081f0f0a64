"""The CLI through a running gun service (mesogun/cli/remote.py): a real ``mesogun serve`` process owning a simulator
served in another process, the CLI pointed at it with ``--service unix://…`` (or finding it on the well-known
socket). What the *device* saw is read from the simulator's control channel, never from the service."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from mesogun_service.accounts import Accounts
from tests.mesogun.conftest import MESOGUN, ServedGun, serve_gun

pytestmark = [pytest.mark.realio, pytest.mark.slow]

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv)``: the CLI in this process; its exit code, stdout and stderr."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``mesogun ARGS`` in a child process, as a second terminal would run it."""
    return subprocess.Popen(
        [*MESOGUN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or dict(os.environ)
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ready_to_fire(run: Run, served: ServedGun, mode: str = "continuous") -> None:
    """Through the service: nothing latched, a primed syringe with enough left, 10 shots/s of 1 µL in ``mode``."""
    s = ("--service", served.url)
    device = served.snapshot()
    if device["state"] != "ready" or device["reservoir_nl"] < 1_000_000:
        for args in (("clear",), ("load", "--capacity", "10"), ("prime", "--volume", "0.02")):
            code, _, err = run(*s, *args)
            assert code == 0, err
    if (device["mode"], device["rate_mhz"], device["dose_nl"]) != (mode, 10_000, 1000):
        code, _, err = run(*s, "set", "--rate", "10", "--dose", "0.001", "--mode", mode)
        assert code == 0, err


@pytest.fixture(scope="module")
def tcp_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGun]:
    """A service owning a simulator served over TCP (serial number SRVT0001)."""
    with serve_gun(tmp_path_factory.mktemp("service"), "SRVT0001", "--tcp", "127.0.0.1:0") as served:
        yield served


@pytest.mark.parametrize("served_by", ["pty_service", "tcp_service"], ids=["pty", "tcp"])
def test_estop_from_a_second_cli_stops_a_fire_another_cli_runs_through_the_service(
    run: Run, served_by: str, request: pytest.FixtureRequest
) -> None:
    """A fires until stopped through the service; B's estop exits 0; A ends with the device's count and the exit
    code of an emergency stop without a service (5: DeviceAlarm); the device latched the stop and fired no shot
    after it. Over a pty (a serial line: one owner) as over TCP (a new connection would take over)."""
    served: ServedGun = request.getfixturevalue(served_by)
    ready_to_fire(run, served)
    before = served.snapshot()["shots_lifetime"]
    a = cli("--service", served.url, "fire", "--count", "0", "--json")
    try:
        wait_for(lambda: served.snapshot()["shots_lifetime"] >= before + 3, "A's shots")
        b_code, b_out, b_err = run("--service", served.url, "estop")  # B in this process; A is the child firing
        assert b_code == 0, b_err
        assert b_out.strip() == "estop: done, gun emergency_stop"
        stopped = served.snapshot()
        assert stopped["state"] == "emergency_stop" and stopped["last_emergency_stop"] is not None
        a_out, a_err = a.communicate(timeout=30)
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
    assert a.returncode == 5, a_err
    assert "firing stopped by emergency_stop after" in a_err and "Traceback" not in a_err
    summary = json.loads(a_out.splitlines()[-1])
    assert summary["event"] == "summary"
    assert summary["fired"] == stopped["shots_lifetime"] - before  # the device's count
    assert sum(1 for line in a_out.splitlines() if '"event": "shot"' in line) == summary["fired"]
    time.sleep(0.5)
    after = served.snapshot()
    assert after["shots_lifetime"] == stopped["shots_lifetime"]  # no shot after the emergency stop
    assert after["executed"].get("fire") == stopped["executed"].get("fire")  # and no fire executed since
    assert after["state"] == "emergency_stop"  # latched until clear; A left it, disarmed, as it was
    code, _, err = run("--service", served.url, "clear")
    assert code == 0, err
    assert served.snapshot()["state"] in ("idle", "ready")


def test_a_refused_fire_from_a_second_cli_leaves_the_first_firing_and_stop_from_a_third_ends_it(
    run: Run, pty_service: ServedGun
) -> None:
    """Only the command that armed the gun makes it safe on its way out: a second fire, refused because the gun is
    firing, exits 3 and the first goes on; ``stop`` from a third ends it (exit 0, the device's count)."""
    ready_to_fire(run, pty_service)
    before = pty_service.snapshot()["shots_lifetime"]
    a = cli("--service", pty_service.url, "fire", "--count", "0", "--json")
    try:
        wait_for(lambda: pty_service.snapshot()["shots_lifetime"] >= before + 2, "A's shots")
        code, _, err = run("--service", pty_service.url, "fire", "--count", "1")
        assert code == 3 and "cannot fire: the gun is firing" in err and "run 'mesogun stop'" in err, err
        now = pty_service.snapshot()["shots_lifetime"]
        wait_for(lambda: pty_service.snapshot()["shots_lifetime"] >= now + 2, "A firing on")
        code, out, err = run("--service", pty_service.url, "stop")
        assert code == 0 and out.startswith("stop: done"), err
        a_out, a_err = a.communicate(timeout=30)
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
    assert a.returncode == 0, a_err
    device = pty_service.snapshot()
    assert device["state"] == "ready"  # A disarmed it on its way out
    assert json.loads(a_out.splitlines()[-1])["fired"] == device["shots_lifetime"] - before


def test_status_through_the_service_has_the_fields_and_values_of_status_direct(run: Run, pty_service) -> None:
    """status --json through the service: the same fields as without one, the device's own values."""
    code, remote, err = run("--service", pty_service.url, "status", "--json")
    assert code == 0, err
    code, direct, err = run("--no-service", "--device", "sim://", "status", "--json")
    assert code == 0, err
    through, directly = json.loads(remote), json.loads(direct)
    assert list(through) == list(directly)
    device = pty_service.snapshot()
    assert through["state"] == device["state"]
    assert through["shots_lifetime"] == device["shots_lifetime"]
    assert through["reservoir_nl"] == device["reservoir_nl"]
    code, text, _ = run("--service", pty_service.url, "status")
    assert code == 0 and text.splitlines()[0].split() == ["state", device["state"]]
    for command in ("info", "diagnostics"):
        code, remote, err = run("--service", pty_service.url, command, "--json")
        assert code == 0, err
        assert list(json.loads(remote)) == list(json.loads(run("--device", "sim://", command, "--json")[1]))


def test_a_bad_value_or_a_refusal_through_the_service_says_what_the_direct_path_says(run: Run, pty_service) -> None:
    """A depth out of range exits 2, a fire on a gun with no primed line exits 3, each with the same one line
    as without a service (the hint in the CLI's words, not the service's routes)."""
    s = ("--service", pty_service.url)
    assert run(*s, "clear")[0] == 0
    assert run(*s, "load", "--capacity", "3")[0] == 0  # a new syringe: the line must be primed again (idle)
    for args, code in ((("set", "--depth", "9"), 2), (("fire", "--count", "1"), 3)):
        through = run(*s, *args)
        direct = run("--no-service", "--device", "sim://", *args)
        assert through[0] == direct[0] == code, (through, direct)
        assert through[2] == direct[2], (through, direct)
    assert "cannot fire: the gun is idle" in direct[2] and "run 'mesogun load" in direct[2]


def test_a_fire_through_the_service_shows_every_shot_as_the_direct_path_does(run: Run, pty_service) -> None:
    """Plain lines and JSON lines, from the service's events; the gun is disarmed afterwards; the shots are in the
    service's record."""
    ready_to_fire(run, pty_service, mode="burst")
    code, out, err = run("--service", pty_service.url, "fire", "--count", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split("]")[0] for line in lines[:3]] == ["[1/3", "[2/3", "[3/3"]
    assert lines[-1] == "fired 3 shots, 0.003 mL"
    code, out, err = run("--service", pty_service.url, "fire", "--count", "2", "--json")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["shot", "shot", "summary"]
    assert events[1]["done"] == 2 and events[1]["count"] == 2 and events[1]["source"] == "remote"
    assert events[-1]["fired"] == 2 and events[-1]["reservoir_ml"] is not None
    assert pty_service.snapshot()["state"] == "ready"  # disarmed on the way out
    with TreatmentRecord(pty_service.record, create=False) as record:
        assert sum(s.shots_recorded for s in record.sessions()) >= 5


def test_sigint_mid_burst_stops_the_gun_through_the_service_and_leaves_it_disarmed(run: Run, pty_service) -> None:
    ready_to_fire(run, pty_service, mode="burst")
    before = pty_service.snapshot()["shots_lifetime"]
    a = cli("--service", pty_service.url, "fire", "--count", "40")
    try:
        wait_for(lambda: pty_service.snapshot()["shots_lifetime"] >= before + 2, "the first shots")
        a.send_signal(signal.SIGINT)
        _, err = a.communicate(timeout=30)
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
    assert a.returncode == 130, err
    device = pty_service.snapshot()
    assert device["state"] == "ready" and device["last_stop"] is not None  # stopped and disarmed
    assert device["shots_lifetime"] - before < 40


def test_ctrl_c_while_priming_through_the_service_sends_stop_and_exits_at_once(
    run: Run, pty_service: ServedGun
) -> None:
    """A prime of 0.5 mL takes the gun 10 s: Ctrl-C sends stop (what the direct path does on its way out; this
    device finishes a prime it started) and exits without waiting for the priming to end."""
    s = ("--service", pty_service.url)
    assert run(*s, "clear")[0] == 0 and run(*s, "load", "--capacity", "10")[0] == 0
    priming = cli(*s, "prime", "--volume", "0.5")
    try:
        wait_for(lambda: pty_service.snapshot()["state"] == "priming", "priming")
        began = pty_service.snapshot()["device_time_ms"]
        priming.send_signal(signal.SIGINT)
        _, err = priming.communicate(timeout=30)
    finally:
        if priming.poll() is None:
            priming.kill()
            priming.communicate()
    assert priming.returncode == 130, err
    device = pty_service.snapshot()
    assert device["last_stop"]["device_time_ms"] >= began and device["state"] == "priming"  # exited at once
    assert run(*s, "estop")[0] == 0 and run(*s, "clear")[0] == 0  # the next test need not wait for the priming


def test_sigterm_ends_a_fire_until_stopped_with_its_summary(run: Run, pty_service) -> None:
    ready_to_fire(run, pty_service)
    before = pty_service.snapshot()["shots_lifetime"]
    a = cli("--service", pty_service.url, "fire", "--count", "0")
    try:
        wait_for(lambda: pty_service.snapshot()["shots_lifetime"] >= before + 2, "the first shots")
        a.send_signal(signal.SIGTERM)
        out, err = a.communicate(timeout=30)
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
    assert a.returncode == 0, err
    device = pty_service.snapshot()
    assert device["state"] == "ready"
    assert out.splitlines()[-1].startswith(f"fired {device['shots_lifetime'] - before} shots")


def test_watch_through_the_service_shows_what_another_client_fires(run: Run, pty_service) -> None:
    """watch --json from one terminal sees the shots another fires; it never stops them (an observer)."""
    ready_to_fire(run, pty_service, mode="burst")
    watcher = cli("--service", pty_service.url, "watch", "--json")
    try:
        assert watcher.stdout is not None
        first = json.loads(watcher.stdout.readline())  # watching: the first snapshot is out
        assert first["event"] == "status" and first["state"] == "ready"
        assert run("--service", pty_service.url, "fire", "--count", "2")[0] == 0
        time.sleep(0.5)
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    kinds = [json.loads(line)["event"] for line in out.splitlines()]
    assert kinds.count("shot") == 2 and "status" in kinds


def test_a_soft_limit_override_through_the_service_is_entered_in_its_record(run: Run, pty_service) -> None:
    s = ("--service", pty_service.url)
    code, out, err = run(*s, "set", "--mode", "nappage", "--depth", "2.5", "--yes", "--reason", "thick skin", "--json")
    assert code == 0, err
    assert json.loads(out)["depth_mm"] == 2.5 and "override entered in the treatment record" in err
    with TreatmentRecord(pty_service.record, create=False) as record:
        notes = [n for s in record.sessions() for n in record.notes(s.session)]
    assert any(n["reason"] == "thick skin" and n["kind"] == "soft_limit_override" for n in notes)
    code, out, err = run(*s, "set", "--mode", "burst", "--rate", "9", "--json")  # what the device applied, at once
    applied = json.loads(out)
    assert code == 0 and (applied["depth_mm"], applied["rate_hz"], applied["mode"]) == (2.5, 9.0, "burst"), err


def test_device_names_the_gun_on_the_service_by_serial_or_url(run: Run, pty_service) -> None:
    s = ("--service", pty_service.url)
    for device in (pty_service.serial, pty_service.sim.address):
        code, out, err = run(*s, "--device", device, "info", "--json")
        assert code == 0, err
        assert json.loads(out)["serial_number"] == pty_service.serial
    code, _, err = run(*s, "--device", "NOPE01", "status")
    assert code == 2 and "NOPE01" in err and pty_service.serial in err and "--no-service" in err
    code, out, err = run("status", "--json", "--device", pty_service.serial, "--service", pty_service.url)
    assert code == 0 and json.loads(out)["state"], err  # the service options after the command too


def test_with_several_guns_on_the_service_device_chooses_one(run: Run, tmp_path: Path) -> None:
    """Two guns (simulated inside the service): no --device is a usage error listing both; --device picks one."""
    sock = tmp_path / "s.sock"
    command = [*MESOGUN, "serve", "--port", "0", "--socket", str(sock), "--db", str(tmp_path / "r.sqlite")]
    command += ["--accounts", str(tmp_path / "a.sqlite"), "--device", "sim://?serial=GUNA01"]
    command += ["--device", "sim://?serial=GUNB01"]
    service = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert service.stdout is not None and "http://" in service.stdout.readline()
        s = ("--service", f"unix://{sock}")
        code, _, err = run(*s, "status")
        assert code == 2 and "serves 2 guns" in err and "GUNA01" in err and "GUNB01" in err and "--device" in err
        wait_for(lambda: "not connected yet" not in run(*s, "status")[2], "both guns connected")  # a loaded machine
        code, out, err = run(*s, "--device", "GUNB01", "info", "--json")
        assert code == 0 and json.loads(out)["serial_number"] == "GUNB01", err
    finally:
        service.send_signal(signal.SIGTERM)
        service.communicate(timeout=15)


def test_visits_are_opened_shown_and_closed_through_the_service(run: Run, pty_service) -> None:
    s = ("--service", pty_service.url)
    code, out, err = run(*s, "visit", "open", "--note", "patient 12", "--json")
    assert code == 0, err
    visit = json.loads(out)
    assert visit["device_serial"] == pty_service.serial and visit["closed"] is None
    never = f"warning: gun {pty_service.serial} has never been calibrated"  # a warning on stderr, never a refusal
    assert err.startswith(never) and visit["warnings"][0] in err
    code, out, _ = run(*s, "visit", "show")
    assert code == 0 and f"visit        {visit['id']}" in out and "patient 12" in out
    code, out, err = run(*s, "visit", "close", "--json")
    assert code == 0, err
    assert json.loads(out)["closed"] is not None
    code, out, _ = run(*s, "visit", "show", str(visit["id"]), "--json")
    assert code == 0 and json.loads(out)["id"] == visit["id"]
    code, _, err = run("--no-service", "visit", "show")
    assert code == 2 and "gun service" in err


def test_the_service_on_the_well_known_socket_is_used_without_being_named(
    run: Run, pty_service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(pty_service.runtime))
    code, out, err = run("info", "--json")  # no --service, no --device: the service's one gun
    assert code == 0, err
    assert json.loads(out)["serial_number"] == pty_service.serial
    code, _, err = run("--trace", "status")
    assert code == 2 and "--no-service" in err  # link settings belong to a direct connection


def test_without_a_service_the_cli_opens_the_device_directly(run: Run, private_user_dirs: Path, tmp_path: Path) -> None:
    """No service answering (here a stale socket a dead service left at the well-known place): the direct path,
    the session in the CLI's own record."""
    stale = private_user_dirs / "run" / "mesogun" / "service.sock"
    stale.parent.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()  # the file stays; nobody listens
    db = tmp_path / "record.sqlite"
    code, out, err = run("--device", "sim://", "--db", str(db), "status", "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "idle"
    with TreatmentRecord(db, create=False) as record:
        assert len(record.sessions()) == 1


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_service_that_is_not_there_exits_4_naming_it(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    url = f"unix://{tmp_path / 'nobody.sock'}"
    args: tuple[str, ...] = ("--service", url) if how == "option" else ()
    if how == "environment":
        monkeypatch.setenv("MESOGUN_SERVICE", url)
    code, _, err = run(*args, "estop")
    assert code == 4
    said = "given with --service" if how == "option" else "from $MESOGUN_SERVICE"
    assert err.count("\n") == 1 and url in err and said in err and "--no-service" in err, err


def test_over_tcp_the_cli_signs_in_with_the_token_in_its_environment(
    run: Run, pty_service, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Accounts(pty_service.record.parent / "accounts.sqlite") as accounts:
        if "carol" not in {user.name for user in accounts.list_users()}:
            accounts.add_user("carol", ["practitioner"], "8642", actor="test")
    code, _, err = run("--service", pty_service.http, "status")
    assert code == 3 and "$MESOGUN_TOKEN" in err and err.count("\n") == 1, err
    token = httpx.post(f"{pty_service.http}/auth/login", json={"user": "carol", "pin": "8642"}).json()["token"]
    monkeypatch.setenv("MESOGUN_TOKEN", token)
    code, out, err = run("--service", pty_service.http, "status", "--json")
    assert code == 0 and json.loads(out)["state"], err
