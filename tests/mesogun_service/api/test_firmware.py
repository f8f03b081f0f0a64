"""Firmware update through the service, on a simulated gun whose bootloader pins a development key (the service
pins it too, ``$MESOGUN_FIRMWARE_KEYS``): a technician reads the slots; a re-authenticated one hands an image over
and uploads it, tests it (the gun resets into it, the service's identity of the gun says the new version),
confirms and rolls back; a stale sign-in is refused; a bad image is refused before a byte is sent; an armed gun
refuses (409) with its reason; every attempt and result is in the record's audit log, and the log verifies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mesogun.record import TreatmentRecord
from mesogun.record.audit_verify import verify_chain
from tests.mesogun.firmware.sim_images import FACTORY_VERSION, Signer, make_signer
from tests.mesogun_service.api.clinic_support import refused
from tests.mesogun_service.conftest import PIN, Running


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return make_signer(tmp_path_factory.mktemp("firmware"))


@pytest.fixture
def gun_url(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MESOGUN_FIRMWARE_KEYS", str(signer.key.public_path))
    return f"sim://?serial=SIM0001&{signer.query()}"


def firmware_audit(record: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with TreatmentRecord(record, create=False) as opened:
        rows = opened.rows("SELECT action, actor, new_value FROM audit_log ORDER BY seq")
    return [(str(a), str(b), json.loads(str(c))) for a, b, c in rows if str(a).startswith("firmware.")]


async def hand_over(svc: Running, image: bytes) -> str:
    reply = await svc.client.post(
        "/firmware/images", content=image, headers={"content-type": "application/octet-stream"}
    )
    assert reply.status_code == 200, reply.text
    digest: str = reply.json()["image"]
    return digest


def test_a_fresh_technician_updates_a_gun_and_the_audit_log_holds_each_step(
    real: Any, running_service: Any, signer: Signer, gun_url: str
) -> None:
    async def scenario() -> Path:
        async with running_service(devices=(gun_url,)) as svc:
            slots = await svc.ok("GET", svc.gun("/firmware"))
            assert slots["running_version"] == FACTORY_VERSION
            image = signer.image("1.1.0")
            stale = await svc.client.post(
                "/firmware/images", content=image, headers={"content-type": "application/octet-stream"}
            )
            assert stale.status_code == 403 and "pin" in stale.text
            await svc.ok("POST", "/auth/reauth", json={"pin": PIN})
            digest = await hand_over(svc, image)
            result = await svc.ok("POST", svc.gun("/firmware/upload"), json={"image": digest, "reason": "1.1.0 fix"})
            assert result["image"]["version"] == "1.1.0" and result["size"] == len(image)
            assert await svc.ok("GET", svc.gun("/firmware/progress")) == {}
            tested = await svc.ok("POST", svc.gun("/firmware/test"), json={"reset": True})
            assert tested["running_version"] == "1.1.0"
            assert (await svc.ok("GET", svc.gun()))["firmware_version"] == "1.1.0"  # the service's gun identity
            confirmed = await svc.ok("POST", svc.gun("/firmware/confirm"), json={})
            assert confirmed["slots"][0]["confirmed"]
            back = await svc.ok("POST", svc.gun("/firmware/rollback"), json={"reason": "regression"})
            assert back["running_version"] == FACTORY_VERSION
            await svc.ok("POST", svc.gun("/firmware/confirm"), json={})

            older = signer.image("0.0.9")
            digest = await hand_over(svc, older)
            refusal = await refused(svc, "POST", svc.gun("/firmware/upload"), 422, json={"image": digest})
            assert "--allow-downgrade" in refusal["message"] and "0.0.9" in refusal["message"]
            body = {"image": digest, "allow_downgrade": True, "reason": "field rollback"}
            assert (await svc.ok("POST", svc.gun("/firmware/upload"), json=body))["image"]["version"] == "0.0.9"

            await svc.ready_to_treat()
            await svc.ok("POST", svc.gun("/arm"), json={})
            refusal = await refused(svc, "POST", svc.gun("/firmware/upload"), 409, json=body)
            assert refusal["message"] == "device refused image upload (SMP EBUSY): the gun is armed; disarm it first"
            await svc.ok("POST", svc.gun("/disarm"), json={})
            return svc.record

    record = real(scenario)
    steps = [(action, new["outcome"]) for action, _, new in firmware_audit(record)]
    assert steps == [
        ("firmware.upload", "started"),
        ("firmware.upload", "done"),
        ("firmware.test", "started"),
        ("firmware.test", "done"),
        ("firmware.confirm", "started"),
        ("firmware.confirm", "done"),
        ("firmware.rollback", "started"),
        ("firmware.rollback", "done"),
        ("firmware.confirm", "started"),
        ("firmware.confirm", "done"),
        ("firmware.upload", "started"),
        ("firmware.upload", "refused"),
        ("firmware.upload", "started"),
        ("firmware.upload", "done"),
        ("firmware.upload", "started"),
        ("firmware.upload", "refused"),
    ]
    entries = firmware_audit(record)
    assert entries[12][2]["allow_downgrade"] is True and entries[13][2]["image"]["downgrade"] is True
    assert {actor for _, actor, _ in entries} == {"alice"}
    with TreatmentRecord(record, create=False) as opened:
        assert verify_chain(opened).intact


def test_an_unknown_image_is_refused_naming_the_field(real: Any, running_service: Any, gun_url: str) -> None:
    async def scenario() -> None:
        async with running_service(devices=(gun_url,)) as svc:
            await svc.ok("POST", "/auth/reauth", json={"pin": PIN})
            refusal = await refused(svc, "POST", svc.gun("/firmware/upload"), 422, json={"image": "ab" * 32})
            assert refusal["field"] == "image"
            assert (await svc.ok("GET", svc.gun("/firmware")))["slots"][1:] == []

    real(scenario)
