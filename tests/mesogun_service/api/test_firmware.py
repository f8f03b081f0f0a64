"""Firmware update through the service: a technician reads the slots; a re-authenticated one hands an image over
and uploads it, tests, confirms and rolls back; a stale sign-in is refused; a bad image is refused before a byte is
sent; a gun that refuses (armed) answers 409 with its reason; every attempt and result is in the record's audit log.

The SMP server is the stand-in (tests/mesogun/firmware/fake_smp.py) behind the hosted gun's family channel until
the simulator's own SMP server is on main."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mesogun.firmware.transfer as transfer
from mesogun.record import TreatmentRecord
from mesogun_service.api import firmware
from tests.mesogun.firmware.fake_smp import FakeSMPServer, fake_check, fake_image
from tests.mesogun_service.api.clinic_support import refused
from tests.mesogun_service.conftest import PIN, Running


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> FakeSMPServer:
    server = FakeSMPServer()

    async def family_command(self: Any, family: str, name: str, **fields: Any) -> dict[str, Any]:
        self._hosted.gun  # noqa: B018  (the gun must be connected, as for the real channel)
        return {"frame": server.process(bytes(fields["frame"]))}

    monkeypatch.setattr(firmware._HostedChannel, "family_command", family_command)
    monkeypatch.setattr(firmware, "_trusted_keys", lambda: (b"k" * 32,))
    monkeypatch.setattr(transfer, "verify_image", fake_check)
    return server


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
    real: Any, running_service: Any, device: FakeSMPServer
) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            model = (await svc.ok("GET", svc.gun()))["model"]
            slots = await svc.ok("GET", svc.gun("/firmware"))
            assert slots["running_version"] == "1.0.0"
            image = fake_image("1.1.0", model=model, size=12_000)
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
            confirmed = await svc.ok("POST", svc.gun("/firmware/confirm"), json={})
            assert confirmed["slots"][0]["confirmed"]
            back = await svc.ok("POST", svc.gun("/firmware/rollback"), json={"reason": "regression"})
            assert back["running_version"] == "1.0.0"

            older = fake_image("0.9.0", model=model)
            digest = await hand_over(svc, older)
            refusal = await refused(svc, "POST", svc.gun("/firmware/upload"), 422, json={"image": digest})
            assert "--allow-downgrade" in refusal["message"]
            body = {"image": digest, "allow_downgrade": True, "reason": "field rollback"}
            assert (await svc.ok("POST", svc.gun("/firmware/upload"), json=body))["image"]["version"] == "0.9.0"

            device.busy_reason = "the gun is armed"
            refusal = await refused(svc, "POST", svc.gun("/firmware/upload"), 409, json=body)
            assert "the gun is armed" in refusal["message"]
            svc_record = svc.record

        steps = [(action, new["outcome"]) for action, _, new in firmware_audit(svc_record)]
        assert steps == [
            ("firmware.upload", "started"),
            ("firmware.upload", "done"),
            ("firmware.test", "started"),
            ("firmware.test", "done"),
            ("firmware.confirm", "started"),
            ("firmware.confirm", "done"),
            ("firmware.rollback", "started"),
            ("firmware.rollback", "done"),
            ("firmware.upload", "started"),
            ("firmware.upload", "refused"),
            ("firmware.upload", "started"),
            ("firmware.upload", "done"),
            ("firmware.upload", "started"),
            ("firmware.upload", "refused"),
        ]
        entries = firmware_audit(svc_record)
        assert entries[10][2]["allow_downgrade"] is True and entries[11][2]["image"]["version"] == "0.9.0"
        assert {actor for _, actor, _ in entries} == {"alice"}

    real(scenario)


def test_an_unknown_image_is_refused_naming_the_field(real: Any, running_service: Any, device: FakeSMPServer) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ok("POST", "/auth/reauth", json={"pin": PIN})
            refusal = await refused(svc, "POST", svc.gun("/firmware/upload"), 422, json={"image": "ab" * 32})
            assert refusal["field"] == "image"

    real(scenario)
    assert device.upload_offsets == []
