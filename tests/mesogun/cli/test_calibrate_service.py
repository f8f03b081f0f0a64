"""``mesogun calibrate`` through a running gun service (issue 16 item 7): the run goes through the service's
calibration routes (measurement moves, the constants written by a technician re-authenticated with the PIN), and
the run and its certificate are kept in the service's record with their audit entries; a practitioner, or a wrong
PIN, is refused with the service's own message and the device keeps its calibration.

The service runs in this process (a thread of its own, on a real loop and a loopback socket) over a ``sim://`` gun,
so ``sim-gauge://?gun=SERIAL`` on the command's side reads that gun's true needle depth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from mesogun_service.accounts import Role
from mesogun_service.config import ServiceConfig
from mesogun_service.server import Service
from tests.mesogun_service.conftest import add_user

SERIAL = "SIMSVC01"
TECHNICIAN, PRACTITIONER, PIN = "tom", "carol", "1357"
ENVIRONMENT = ("--temperature", "20", "--pressure", "1013.25", "--humidity", "50")


@dataclass
class Served:
    url: str
    record: Path

    def token(self, user: str, pin: str = PIN) -> str:
        reply = httpx.post(f"{self.url}/auth/login", json={"user": user, "pin": pin}, timeout=10)
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["token"]
        return token

    def get(self, path: str, token: str) -> Any:
        reply = httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()


@contextlib.contextmanager
def service_in_a_thread(tmp_path: Path, query: str = "") -> Iterator[Served]:
    """``mesogun serve`` over ``sim://?serial=SIMSVC01`` (and ``query``'s options) in a thread of this process,
    until the block ends."""
    accounts, record = tmp_path / "accounts.sqlite", tmp_path / "record.sqlite"
    add_user(accounts, TECHNICIAN, PIN, (Role.TECHNICIAN,))
    add_user(accounts, PRACTITIONER, PIN, (Role.PRACTITIONER,))
    gun = f"sim://?serial={SERIAL}" + (f"&{query}" if query else "")
    settings = ServiceConfig(devices=(gun,), port=0, record=record, accounts=accounts, socket=None)
    service = Service(settings)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(service.run(signals=False),), daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(service.started.wait(), 15), loop).result(20)
        served = Served(service.url, record)
        token = served.token(TECHNICIAN)
        for _ in range(200):  # the gun connected
            if all(g["connected"] for g in served.get("/guns", token)):
                break
            threading.Event().wait(0.1)
        yield served
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(20)
        thread.join(20)
        loop.close()


@pytest.fixture
def served(tmp_path: Path, private_user_dirs: Path) -> Iterator[Served]:
    with service_in_a_thread(tmp_path) as running:
        yield running


def calibrate(capsys: pytest.CaptureFixture[str], served: Served, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["--service", served.url, "calibrate", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


DEPTH = ("depth", "--gauge", f"sim-gauge://?gun={SERIAL}", *ENVIRONMENT, "--yes", "--json")


def test_a_technician_calibrates_through_the_service_and_the_service_keeps_the_run(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = served.token(TECHNICIAN)
    monkeypatch.setenv("MESOGUN_TOKEN", token)
    monkeypatch.setenv("MESOGUN_PIN", PIN)
    pdf = tmp_path / "certificate.pdf"
    code, lines, err = calibrate(capsys, served, *DEPTH, "--certificate", str(pdf))
    assert code == 0, err
    run = lines[-1]
    assert run["event"] == "run" and run["outcome"] == "passed" and run["technician"] == TECHNICIAN
    assert pdf.read_bytes().startswith(b"%PDF-")

    device = served.get(f"/guns/{SERIAL}/calibration", token)  # what the device holds, through the service
    assert device["calibration_id"] == 1 and 70 <= device["depth_offset_um"] <= 90
    assert device["certificate_id"] == run["certificate_id"] and device["technician"] == TECHNICIAN
    history = served.get(f"/calibrations?device={SERIAL}", token)
    (kept,) = history["runs"]
    assert (kept["run_id"], kept["outcome"], kept["has_certificate"]) == (run["run_id"], "passed", True)
    kinds = {k["kind"]: k["state"] for k in history["due"]["kinds"]}
    assert kinds == {"depth": "in_force", "volume": "never_calibrated", "rate": "never_calibrated"}
    with TreatmentRecord(served.record, create=False) as record:
        actions = [(a, b) for a, b in record.rows("SELECT actor, action FROM audit_log WHERE action LIKE 'calib%'")]
    assert actions == [(TECHNICIAN, "calibration.write_device"), (TECHNICIAN, "calibration.save")]


def test_a_practitioner_is_refused_with_the_services_message_and_the_device_keeps_its_calibration(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESOGUN_TOKEN", served.token(PRACTITIONER))
    monkeypatch.setenv("MESOGUN_PIN", PIN)
    code, lines, err = calibrate(capsys, served, *DEPTH)
    assert code == 3, err
    assert "technician" in err and "could not be kept in the service's record" in err
    assert lines[-1]["outcome"] == "aborted"
    technician = served.token(TECHNICIAN)
    assert served.get(f"/guns/{SERIAL}/calibration", technician)["calibration_id"] == 0
    assert served.get(f"/calibrations?device={SERIAL}", technician)["runs"] == []


def test_a_wrong_pin_or_no_pin_is_refused_before_anything_moves(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESOGUN_TOKEN", served.token(TECHNICIAN))
    code, lines, err = calibrate(capsys, served, *DEPTH)
    assert code == 2 and "$MESOGUN_PIN" in err and lines == [], err
    monkeypatch.setenv("MESOGUN_PIN", "0000")
    code, lines, err = calibrate(capsys, served, *DEPTH)
    assert code == 3 and lines == [] and err.count("\n") == 1, err
    technician = served.token(TECHNICIAN)
    assert served.get(f"/guns/{SERIAL}/calibration", technician)["calibration_id"] == 0


def test_a_passed_run_the_service_will_not_keep_is_undone_and_kept_as_aborted(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save of the passed run refused (a re-authentication lapsed, say): the device's old constants are written
    back through the service and the run is kept aborted with that reason; one line, exit 6."""
    from mesogun.cli.calibrate_service import ServiceCalibrationTarget
    from mesogun.errors import ParameterError

    token = served.token(TECHNICIAN)
    monkeypatch.setenv("MESOGUN_TOKEN", token)
    monkeypatch.setenv("MESOGUN_PIN", PIN)
    save = ServiceCalibrationTarget.save

    async def lapsed(self: ServiceCalibrationTarget, run: Any, certificate_pdf: bytes) -> None:
        if run.outcome.value == "passed":
            raise ParameterError("re-authentication needed: sign in again with your PIN", field="pin")
        await save(self, run, certificate_pdf)

    monkeypatch.setattr(ServiceCalibrationTarget, "save", lapsed)
    code, lines, err = calibrate(capsys, served, *DEPTH)
    assert code == 6, err
    (line,) = err.splitlines()
    assert "could not be kept in the record" in line and "re-authentication" in line
    assert "old calibration was written back" in line and "the aborted run is in the record" in line
    device = served.get(f"/guns/{SERIAL}/calibration", token)
    assert device["calibration_id"] == 2 and device["depth_offset_um"] == 0  # written (1), then put back (2)
    (kept,) = served.get(f"/calibrations?device={SERIAL}", token)["runs"]
    assert kept["outcome"] == "aborted" and lines[-1]["reason"].startswith("aborted at save")
