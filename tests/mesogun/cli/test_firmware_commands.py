"""``mesogun firmware`` as a technician runs it, against a simulated gun that outlives each command (served on
loopback TCP and on a pty): sign, verify, upload (``--json`` progress lines), test --reset, confirm, rollback, each
attempt and result in the record's audit log (which ``record verify`` still finds intact); the same upload over the
gun's standard SMP serial endpoint; every refusal in one line naming what is wrong, with its exit code."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from mesogun.record.audit_verify import verify_chain
from mesogun.session.gun import connect
from mesogun.transports import transport_for_url
from sims.bootloader import build_factory_image
from tests.mesogun.cli.test_calibrate_service import PIN, TECHNICIAN, service_in_a_thread
from tests.mesogun.firmware.served_gun import ServedGun
from tests.mesogun.firmware.sim_images import FACTORY_VERSION, MODEL, REVISION, SLOT_SIZE, Signer, make_signer


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return make_signer(tmp_path_factory.mktemp("firmware"))


@pytest.fixture
def served(signer: Signer) -> Iterator[ServedGun]:
    with ServedGun(signer.query(serial="SIM0017")) as gun:
        yield gun


@pytest.fixture(autouse=True)
def pinned(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The technician's host pins the development key ($MESOGUN_FIRMWARE_KEYS)."""
    monkeypatch.setenv("MESOGUN_FIRMWARE_KEYS", str(signer.key.public_path))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-service", *args])
    out, err = capsys.readouterr()
    return code, out, err


def audit(db: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT action, entity_id, new_value FROM audit_log ORDER BY seq").fetchall()
    return [(action, entity, json.loads(new)) for action, entity, new in rows if action.startswith("firmware.")]


def test_sign_verify_upload_test_confirm_rollback_as_a_technician_runs_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, signer: Signer, served: ServedGun
) -> None:
    payload, image, db = tmp_path / "payload.bin", tmp_path / "app.signed.bin", tmp_path / "record.sqlite"
    from mesogun.firmware import simulated_payload

    payload.write_bytes(simulated_payload("1.1.0", size=20_000))
    code, out, err = run(
        capsys, "firmware", "sign", str(payload), "--key", str(signer.key.private_path), "--version", "1.1.0",
        "--model", MODEL, "--hardware-revision", REVISION, "--slot-size", str(SLOT_SIZE), "-o", str(image),
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"signed {image} (")
    code, out, err = run(capsys, "firmware", "verify", str(image), "--model", MODEL, "--hardware-revision", REVISION)
    assert code == 0, err
    assert "1.1.0" in out

    device = ("--device", served.url, "--db", str(db))
    code, out, err = run(capsys, "firmware", "upload", str(image), *device, "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    progress = [line for line in lines if line["event"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == len(image.read_bytes())
    assert {"rate_bps", "eta_s", "resumed_from"} <= progress[0].keys()
    assert lines[-1]["event"] == "summary" and lines[-1]["image"]["version"] == "1.1.0"

    code, out, err = run(capsys, "firmware", "test", "--reset", *device, "--json")
    assert code == 0, err
    assert json.loads(out)["running_version"] == "1.1.0"
    assert served.device.identity["firmware_version"] == "1.1.0"
    code, out, err = run(capsys, "firmware", "confirm", *device)
    assert code == 0, err
    assert "running                1.1.0" in out or "1.1.0" in out.splitlines()[1]
    assert "active, confirmed" in out
    code, out, err = run(capsys, "firmware", "info", *device, "--json")
    assert [s["version"] for s in json.loads(out)["slots"]] == ["1.1.0", FACTORY_VERSION]
    code, out, err = run(capsys, "firmware", "rollback", *device, "--reason", "regression", "--json")
    assert code == 0, err
    assert json.loads(out)["running_version"] == FACTORY_VERSION

    steps = [(action, new["outcome"]) for action, _, new in audit(db)]
    assert steps == [(f"firmware.{op}", outcome) for op in ("upload", "test", "confirm", "rollback")
                     for outcome in ("started", "done")]  # fmt: skip
    assert {serial for _, serial, _ in audit(db)} == {"SIM0017"}
    assert audit(db)[1][2]["image"]["version"] == "1.1.0"
    code, out, err = run(capsys, "record", "verify", "--db", str(db))
    assert code == 0, err


def test_upload_over_the_standard_smp_endpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, signer: Signer, served: ServedGun
) -> None:
    """A gun that offers only the standard endpoint: the model and hardware revision are the technician's to say."""
    image, db = signer.file("1.4.0"), tmp_path / "record.sqlite"
    endpoint = ("--endpoint", f"{served.smp_url}?baud=921600", "--db", str(db))
    code, out, err = run(capsys, "firmware", "upload", str(image), *endpoint, "--model", MODEL,
                         "--hardware-revision", REVISION)  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[-1].startswith("uploaded firmware 1.4.0 (")
    code, out, err = run(capsys, "firmware", "test", "--reset", *endpoint, "--json")
    assert code == 0, err
    assert json.loads(out)["running_version"] == "1.4.0"
    steps = [(a, e["outcome"]) for a, _, e in audit(db)]
    assert steps[:2] == [("firmware.upload", "started"), ("firmware.upload", "done")]


def test_an_upload_refused_by_the_armed_gun_is_one_line_with_its_reason_and_audited(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, signer: Signer, served: ServedGun
) -> None:
    image, db = signer.file("1.1.0"), tmp_path / "record.sqlite"
    held: list[Any] = []

    async def hold_armed() -> None:  # a practitioner's host holds the gun armed over our protocol's line
        gun = connect(transport_for_url(served.url))
        held.append(gun)
        opened = await gun.__aenter__()
        await opened.load_syringe(capacity_ml=5, fill_ml=5)
        await opened.prime(volume_ml=0.1)
        await opened.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=5, mode="burst")
        await opened.arm()

    async def let_go() -> None:
        await held[0].__aexit__(None, None, None)

    served.call(hold_armed)
    code, _, err = run(capsys, "firmware", "upload", str(image), "--endpoint", served.smp_url, "--model", MODEL,
                       "--hardware-revision", REVISION, "--db", str(db))  # fmt: skip
    assert code == 3
    assert err.strip() == "error: device refused image upload (SMP EBUSY): the gun is armed; disarm it first"
    assert [e["outcome"] for _, _, e in audit(db)] == ["started", "refused"]
    served.call(let_go)


REFUSALS = {
    "unsigned": "MG856",
    "tampered": "MG855",
    "another key": "MG857",
    "another model": "MG859",
    "a downgrade": "MG861",
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_image_is_refused_in_one_line_naming_what_is_wrong_before_a_byte_is_sent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, signer: Signer, case: str
) -> None:
    good = signer.image("1.1.0")
    images = {
        "unsigned": build_factory_image("1.1.0", model=MODEL, hardware_revision=REVISION, slot_size=SLOT_SIZE),
        "tampered": good[:200] + bytes([good[200] ^ 1]) + good[201:],
        "another key": make_signer(tmp_path).image("1.1.0"),
        "another model": signer.image("1.1.0", model="MG-2"),
        "a downgrade": signer.image("0.0.9"),
    }
    path = tmp_path / "bad.bin"
    path.write_bytes(images[case])
    db = tmp_path / "record.sqlite"
    code, out, err = run(capsys, "firmware", "upload", str(path), "--device", f"sim://?{signer.query()}",
                         "--db", str(db))  # fmt: skip
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    line = err.strip()
    expected = {
        "unsigned": "not signed",
        "tampered": "hash",
        "another key": "key",
        "another model": "MG-2",
        "a downgrade": "--allow-downgrade",
    }
    assert expected[case] in line, line
    assert [(e["outcome"], e.get("error")) for _, _, e in audit(db)] == [("started", None), ("refused", REFUSALS[case])]


def test_through_a_running_service_a_technician_re_authenticates_and_the_service_audits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mesogun firmware`` finds the gun service and goes through it: the PIN again ($MESOGUN_PIN, scripted)
    before each change, the service's own pinned keys, its record's audit log (which verifies afterwards)."""
    with service_in_a_thread(tmp_path, signer.query()) as served:
        monkeypatch.setenv("MESOGUN_TOKEN", served.token(TECHNICIAN))
        through = ("--service", served.url)
        image = signer.file("1.1.0")
        code, _, err = main_through(capsys, *through, "firmware", "upload", str(image), "--json")
        assert code == 2 and "$MESOGUN_PIN" in err and len(err.strip().splitlines()) == 1
        monkeypatch.setenv("MESOGUN_PIN", "0000")
        code, _, err = main_through(capsys, *through, "firmware", "upload", str(image), "--json")
        assert code != 0 and "pin" in err.lower() and len(err.strip().splitlines()) == 1
        monkeypatch.setenv("MESOGUN_PIN", PIN)
        code, out, err = main_through(capsys, *through, "firmware", "upload", str(image), "--json")
        assert code == 0, err
        assert json.loads(out.splitlines()[-1])["image"]["version"] == "1.1.0"
        code, out, err = main_through(capsys, *through, "firmware", "test", "--reset", "--json")
        assert code == 0, err
        assert json.loads(out)["running_version"] == "1.1.0"
        code, out, err = main_through(capsys, *through, "firmware", "confirm", "--reason", "works")
        assert code == 0, err
        assert "active, confirmed" in out
        record = served.record
    with TreatmentRecord(record, create=False) as opened:
        rows = opened.rows("SELECT actor, action, new_value FROM audit_log WHERE action LIKE 'firmware.%' ORDER BY seq")
        assert [(a, b, json.loads(str(c))["outcome"]) for a, b, c in rows] == [
            (TECHNICIAN, f"firmware.{op}", outcome)
            for op in ("upload", "test", "confirm")
            for outcome in ("started", "done")
        ]
        assert verify_chain(opened).intact


def main_through(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
