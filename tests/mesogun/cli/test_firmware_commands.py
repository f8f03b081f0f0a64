"""``mesogun firmware``: info and upload over a standard SMP serial endpoint (a pty served by the stand-in SMP
server) and over a gun's family channel, ``--json`` progress lines, refusals in one line with their exit code, and
every attempt and result in the record's audit log."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mesogun.firmware.transfer as transfer
from mesogun.cli import firmware_commands, main
from mesogun.firmware import generate_dev_key, load_trusted_keys, simulated_payload
from tests.mesogun.firmware.fake_smp import FakeGun, FakeSMPServer, PtyEndpoint, fake_check, fake_image


@pytest.fixture(autouse=True)
def stand_in_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in image format and keys until mesogun.firmware.image and keys are on main."""
    monkeypatch.setattr(transfer, "verify_image", fake_check)
    monkeypatch.setattr(firmware_commands, "_keys", lambda paths: (b"k" * 32,))


@pytest.fixture
def endpoint() -> Iterator[PtyEndpoint]:
    served = PtyEndpoint(FakeSMPServer(buf_size=2048))
    yield served
    served.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-service", *args])
    out, err = capsys.readouterr()
    return code, out, err


def audit(db: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT action, entity_id, new_value FROM audit_log ORDER BY seq").fetchall()
    return [(action, entity, json.loads(new)) for action, entity, new in rows if action.startswith("firmware.")]


def test_upload_over_the_standard_endpoint_with_json_progress_and_audit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: PtyEndpoint
) -> None:
    image, db = tmp_path / "app.bin", tmp_path / "r.sqlite"
    image.write_bytes(fake_image("1.1.0", size=9000))
    url = f"smp-serial://{endpoint.path}?baud=921600"
    code, out, err = run(
        capsys, "firmware", "upload", str(image), "--endpoint", url, "--model", "MG-1", "--hardware-revision", "B",
        "--json", "--db", str(db),
    )  # fmt: skip
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    progress = [line for line in lines if line["event"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 9000
    assert {"rate_bps", "eta_s"} <= progress[0].keys()
    assert lines[-1]["event"] == "summary" and lines[-1]["image"]["version"] == "1.1.0"
    entries = audit(db)
    assert [(a, e["outcome"]) for a, _, e in entries] == [("firmware.upload", "started"), ("firmware.upload", "done")]
    assert entries[0][1] == url and entries[1][2]["image"]["version"] == "1.1.0"

    code, out, err = run(capsys, "firmware", "info", "--endpoint", url, "--json")
    assert code == 0, err
    slots = json.loads(out)["slots"]
    assert [s["version"] for s in slots] == ["1.0.0", "1.1.0"]


def test_a_refused_upload_is_one_line_with_the_devices_reason_and_audited(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: PtyEndpoint
) -> None:
    endpoint.server.busy_reason = "the gun is armed"
    image, db = tmp_path / "app.bin", tmp_path / "r.sqlite"
    image.write_bytes(fake_image("1.1.0"))
    code, _, err = run(
        capsys, "firmware", "upload", str(image), "--endpoint", f"smp-serial://{endpoint.path}",
        "--model", "MG-1", "--hardware-revision", "B", "--db", str(db),
    )  # fmt: skip
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and "the gun is armed" in err and "Traceback" not in err
    assert [e["outcome"] for _, _, e in audit(db)] == ["started", "refused"]


def test_a_downgrade_needs_the_flag_and_is_recorded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gun = FakeGun()

    def on_fake_gun(url: str, db: Any, body: Any, **_: Any) -> Any:
        return asyncio.run(body(gun))

    monkeypatch.setattr(firmware_commands, "run_on_gun", on_fake_gun)
    image, db = tmp_path / "old.bin", tmp_path / "r.sqlite"
    image.write_bytes(fake_image("0.9.0"))
    args = ("firmware", "upload", str(image), "--device", "sim://", "--db", str(db))
    code, _, err = run(capsys, *args)
    assert code == 2 and "--allow-downgrade" in err
    assert gun.server.upload_offsets == []  # refused before a byte was sent
    code, out, err = run(capsys, *args, "--allow-downgrade", "--reason", "field rollback of 1.0.0")
    assert code == 0, err
    assert "uploaded firmware 0.9.0" in out
    entries = audit(db)
    assert entries[-2][2] == {"outcome": "started", "size": len(image.read_bytes()), "allow_downgrade": True}
    assert entries[-1][2]["outcome"] == "done" and entries[0][1] == "FAKE0001"

    code, out, err = run(capsys, "firmware", "test", "--reset", "--device", "sim://", "--db", str(db), "--json")
    assert code == 0, err
    assert json.loads(out)["running_version"] == "0.9.0"
    code, out, err = run(capsys, "firmware", "confirm", "--device", "sim://", "--db", str(db))
    assert code == 0, err
    assert "active, confirmed" in out
    code, out, err = run(capsys, "firmware", "rollback", "--device", "sim://", "--db", str(db), "--json")
    assert code == 0, err
    assert json.loads(out)["running_version"] == "1.0.0"
    assert [a for a, _, e in audit(db) if e["outcome"] == "done"][-3:] == [
        "firmware.test",
        "firmware.confirm",
        "firmware.rollback",
    ]


def test_sign_then_verify_and_a_wrong_key_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firmware_commands, "_keys", lambda paths: load_trusted_keys(list(paths)))
    key, other = generate_dev_key(tmp_path / "dev.pem"), generate_dev_key(tmp_path / "other.pem")
    payload, image = tmp_path / "payload.bin", tmp_path / "app.signed.bin"
    payload.write_bytes(simulated_payload("1.1.0", size=3000))
    code, out, err = run(
        capsys, "firmware", "sign", str(payload), "--key", str(key.private_path), "--version", "1.1.0",
        "--model", "MG-1", "--hardware-revision", "B", "--slot-size", "65536", "-o", str(image),
    )  # fmt: skip
    assert code == 0, err
    check = ("firmware", "verify", str(image), "--model", "MG-1", "--hardware-revision", "B", "--json")
    code, out, err = run(capsys, *check, "--trusted-key", str(key.public_path))
    assert code == 0, err
    assert json.loads(out)["version"] == "1.1.0"
    code, out, err = run(capsys, *check, "--trusted-key", str(other.public_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
