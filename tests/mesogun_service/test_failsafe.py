"""Fail safe when the operator's view is lost: an armed gun nobody attends is disarmed after the grace period,
and why is in the record; a gun whose attended client keeps its heartbeat stays armed."""

from __future__ import annotations

import asyncio

from mesogun.record import TreatmentRecord
from mesogun_service.failsafe import UNATTENDED


def test_an_armed_gun_whose_last_attended_client_went_silent_is_disarmed_and_the_reason_recorded(
    real, running_service
) -> None:
    async def scenario() -> None:
        async with running_service(attended_grace_s=0.5) as svc:
            await svc.ready_to_treat()
            assert (await svc.ok("POST", svc.gun("/arm")))["state"] == "armed"
            for _ in range(6):  # heartbeats for 1.2 s: more than twice the grace, still armed
                await asyncio.sleep(0.2)
                await svc.ok("POST", f"/attendance/{svc.attendance[0]}/heartbeat")
            status = await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"})
            assert status["state"] == "armed"
            await asyncio.sleep(1.2)  # the client went silent
            status = await svc.ok("GET", svc.gun("/status"))  # the service's view, not asked anew: already safe
            assert status["state"] == "ready"
            status = await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"})
            assert status["state"] == "ready"
            gone = await svc.client.post(f"/attendance/{svc.attendance[0]}/heartbeat")
            assert gone.status_code == 404 and "join again" in gone.json()["error"]["message"]
        with TreatmentRecord(svc.record) as record:
            notes = [n for s in record.sessions() for n in record.notes(s.session)]
        assert [n["kind"] for n in notes] == [UNATTENDED]
        assert "no attended client for" in notes[0]["detail"]
        assert notes[0]["detail"].endswith("while the gun was armed")

    real(scenario)


def test_a_client_that_leaves_lets_the_service_disarm_at_once_after_the_grace(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service(attended_grace_s=0.5) as svc:
            await svc.ready_to_treat()
            await svc.ok("POST", svc.gun("/arm"))
            await svc.ok("DELETE", f"/attendance/{svc.attendance[0]}")
            await asyncio.sleep(1.0)
            assert (await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"}))["state"] == "ready"

    real(scenario)
