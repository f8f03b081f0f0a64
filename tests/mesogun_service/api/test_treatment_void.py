"""Voiding a treatment session through the service (``POST /treatments/{id}/void``): an open one is closed and its
gun goes on outside it; the summary, the history and the report show it VOID; a practitioner voids an unsigned
session, only an admin a signed-off one; a blank reason is refused naming it; nothing changes on a refusal."""

from __future__ import annotations

from pathlib import Path

from mesogun_service.accounts import Role
from tests.mesogun_service.api.clinic_support import clinical_rows, prepare, refused, start
from tests.mesogun_service.api.test_clinic_refusals import ADMIN, ASSISTANT, PIN, signed_in
from tests.mesogun_service.conftest import USER, add_user


def test_a_session_opened_for_the_wrong_patient_is_voided_not_deleted(real, running_service, tmp_path: Path) -> None:
    add_user(tmp_path / "accounts.sqlite", ASSISTANT, PIN, (Role.ASSISTANT,))
    add_user(tmp_path / "accounts.sqlite", ADMIN, PIN, (Role.ADMIN,))

    async def scenario() -> None:
        async with running_service() as svc:
            prepared = await prepare(svc)
            wrong = await start(svc, prepared)
            before = clinical_rows(svc.record)
            error = await refused(svc, "POST", f"/treatments/{wrong}/void", 422, json={"reason": " "})
            assert error["field"] == "reason"
            sam = await signed_in(svc.service.url, ASSISTANT)
            try:
                denied = await sam.post(f"/treatments/{wrong}/void", json={"reason": "wrong patient"})
                assert denied.status_code == 403 and "practitioner" in denied.json()["error"]["message"]
            finally:
                await sam.aclose()
            assert clinical_rows(svc.record) == before

            voided = await svc.ok("POST", f"/treatments/{wrong}/void", json={"reason": "wrong patient"})
            assert not voided["open"] and voided["signoff"] is None
            assert (voided["void"]["by"], voided["void"]["reason"]) == (USER, "wrong patient")
            assert (await svc.client.get(svc.gun("/treatment"))).status_code == 404  # the gun goes on, outside
            summary = await svc.ok("GET", f"/treatments/{wrong}/summary")
            assert summary["void"]["reason"] == "wrong patient" and summary["session_number"] is None
            report = await svc.client.get(f"/treatments/{wrong}/report.html")
            assert report.status_code == 200 and "VOID" in report.text
            await refused(svc, "POST", f"/treatments/{wrong}/sign-off", 409, json={})
            await refused(svc, "POST", f"/treatments/{wrong}/void", 409, json={"reason": "again"})

            right = await start(svc, prepared)
            await svc.ok("POST", f"/treatments/{right}/sign-off", json={})
            history = await svc.ok("GET", f"/patients/{prepared.patient}/history")
            assert [(h["visit_id"], h["void"] is not None, h["session_number"]) for h in history] == [
                (wrong, True, None),
                (right, False, 1),
            ]
            error = await refused(svc, "POST", f"/treatments/{right}/void", 403, json={"reason": "wrong patient"})
            assert "admin" in error["message"]  # signed off: an admin's
            root = await signed_in(svc.service.url, ADMIN)
            try:
                reply = await root.post(f"/treatments/{right}/void", json={"reason": "signed for the wrong patient"})
                assert reply.status_code == 200 and reply.json()["void"]["by"] == ADMIN
            finally:
                await root.aclose()

    real(scenario)
