"""Bad input to the clinical workflow through the API: each refusal names its field, has the status a client can
act on, and changes nothing (the record's clinical tables and its audit log are as they were). Roles: an assistant
prepares but neither starts, fires nor signs off; an erasure needs an admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from mesogun.record import TreatmentRecord
from mesogun_service.accounts import Role
from tests.mesogun.record.clinic_support import chain_verifies
from tests.mesogun_service.api.clinic_support import ALL_CLEAR, clinical_rows, prepare, refused, start, start_body
from tests.mesogun_service.conftest import add_user

ASSISTANT, ADMIN, PIN = "sam", "root", "1357"


async def signed_in(svc_url: str, user: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=svc_url, timeout=10)
    reply = await client.post("/auth/login", json={"user": user, "pin": PIN})
    assert reply.status_code == 200, reply.text
    client.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    return client


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(real, running_service, tmp_path: Path) -> None:
    add_user(tmp_path / "accounts.sqlite", ASSISTANT, PIN, (Role.ASSISTANT,))
    add_user(tmp_path / "accounts.sqlite", ADMIN, PIN, (Role.ADMIN,))

    async def scenario() -> None:
        async with running_service() as svc:
            prepared = await prepare(svc)
            before = clinical_rows(svc.record)
            good = start_body(prepared)
            unanswered = {k: v for k, v in ALL_CLEAR.items() if k != "allergy"}
            cases: list[tuple[dict[str, Any], int, str, str | None]] = [
                ({"patient_id": 999}, 404, "MG710", "patient"),
                ({"course_id": 999}, 404, "MG711", "course"),
                ({"lot_id": prepared.expired_lot}, 422, "MG705", "lot"),
                ({"checklist": unanswered}, 422, "MG703", "checklist.allergy"),
                ({"checklist": {**ALL_CLEAR, "tattoo": False}}, 422, "MG703", "checklist.tattoo"),
                ({"zone": "face.ear"}, 422, "MG701", "zone"),
                ({"consent": " "}, 422, "MG700", "consent"),
                ({"preset": "nope"}, 422, "MG702", "preset"),
                ({"checklist": {**ALL_CLEAR, "pregnancy": True}}, 409, "MG704", "checklist.pregnancy"),
                ({"checklist": {**ALL_CLEAR, "pregnancy": True}, "override_reason": " "}, 422, "MG706", None),
                ({"needle_gauge": 32, "needle_length_mm": None}, 422, "MG700", "needle_length_mm"),
            ]
            for change, status, code, field in cases:
                error = await refused(svc, "POST", svc.gun("/treatments"), status, json={**good, **change})
                assert error["code"] == code, (change, error)
                assert field is None or error["field"] == field, (change, error)
            error = await refused(svc, "POST", svc.gun("/treatments"), 422, json={**good, "zone": 7})
            assert error["field"] == "zone"  # the body's own types: pydantic's refusal names the field too
            error = await refused(
                svc,
                "POST",
                "/lots",
                409,
                json={"product": "NCTF 135 HA", "lot_number": "L2403", "expiry": "2099-01-01"},
            )
            assert error["code"] == "MG713" and error["field"] == "lot_number"
            await refused(svc, "POST", "/patients", 409, json={"pseudonym": "P-0001"})
            await refused(svc, "GET", "/patients/999", 404)
            await refused(svc, "GET", "/courses/999", 404)
            await refused(svc, "POST", "/patients/1/erase", 403, json={"reason": "asked"})  # a technician: no admin
            assert clinical_rows(svc.record) == before

            visit = await start(svc, prepared)
            before = clinical_rows(svc.record)
            error = await refused(svc, "POST", f"/treatments/{visit}/zone", 422, json={"zone": "face.nose"})
            assert error["field"] == "zone" and "the face zones: face.forehead" in error["message"]
            assert error["hint"] == "GET /zones to see every zone"
            error = await refused(svc, "POST", f"/treatments/{visit}/lot", 422, json={"lot_id": prepared.expired_lot})
            assert error["code"] == "MG705"
            error = await refused(
                svc, "POST", f"/treatments/{visit}/adverse-events", 422, json={"kind": "pain", "severity": "awful"}
            )
            assert error["field"] == "severity"
            error = await refused(
                svc, "POST", svc.gun("/configure"), 422, json={"depth_mm": 2.5, "override_reason": "  "}
            )
            assert error["code"] == "MG706" and error["field"] == "override_reason"
            error = await refused(
                svc, "POST", svc.gun("/configure"), 422, json={"depth_mm": 9.0, "override_reason": "x"}
            )
            assert error["code"] == "MG100" and "device's range" in error["message"]  # hard limits: never overridden
            await refused(svc, "POST", "/treatments/999/notes", 404, json={"text": "who?"})
            error = await refused(svc, "GET", "/treatments/999/report.pdf", 404)
            assert error["message"] == "no visit 999 in the service's treatment record"  # not the server's path
            error = await refused(svc, "GET", "/patients?pseudonym=P-NOBODY", 404)
            assert error["message"] == "no patient 'P-NOBODY' in the service's treatment record", error

            sam = await signed_in(svc.service.url, ASSISTANT)
            try:
                error = await refused_as(sam, "POST", f"/treatments/{visit}/sign-off", 403, json={})
                assert error["code"] == "MG720" and error["field"] == "actor.roles"
                assert "practitioner" in error["message"] and ASSISTANT in error["message"]
                error = await refused_as(sam, "POST", svc.gun("/arm"), 403)
                assert "practitioner" in error["message"]
                assert clinical_rows(svc.record) == before

                # what an assistant may do: prepare, enter, read
                assert (await sam.post("/patients", json={"pseudonym": "P-0002"})).status_code == 200
                assert (await sam.post(f"/treatments/{visit}/notes", json={"text": "patient arrived"})).is_success
                assert (await sam.get(f"/treatments/{visit}/summary")).is_success
                listed = await sam.get("/guns")  # to find the session open on a gun (the CLI's default)
                assert listed.is_success and listed.json()[0]["serial"] == svc.serial
                assert (await sam.get(svc.gun("/treatment"))).json()["visit_id"] == visit
                assert (await sam.get(svc.gun("/status"))).status_code == 403  # the gun itself: a practitioner's
                error = await refused_as(sam, "POST", svc.gun("/treatments"), 403, json=start_body(prepared))
                assert error["code"] == "MG720"
            finally:
                await sam.aclose()
            await svc.ok("POST", f"/treatments/{visit}/sign-off", json={})
            error = await refused(svc, "POST", f"/treatments/{visit}/sign-off", 409, json={})
            assert error["field"] == "visit" and "signed off" in error["message"]

            root = await signed_in(svc.service.url, ADMIN)  # the right to erasure: an admin, with a reason
            try:
                path = f"/patients/{prepared.patient}/erase"
                error = await refused_as(root, "POST", path, 422, json={"reason": " "})
                assert error["field"] == "reason"
                erased = (await root.post(path, json={"reason": "the patient asked"})).json()
                assert erased["erased"] and erased["pseudonym"] == "P-0001"
            finally:
                await root.aclose()
            shown = await svc.ok("GET", f"/patients/{prepared.patient}", params={"identified": "true"})
            assert shown["identity"] is None and shown["courses"]
            assert (await svc.ok("GET", f"/treatments/{visit}/summary"))["patient"] == "P-0001"
        with TreatmentRecord(svc.record, create=False) as record:
            assert chain_verifies(record)
            assert ("P-0001", None, None) in record.rows(
                "SELECT pseudonym, name, salt FROM patients JOIN patient_identities ON patient_id = patients.id"
            )

    real(scenario)


async def refused_as(client: httpx.AsyncClient, method: str, path: str, status: int, **kwargs: object) -> dict:
    reply = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert reply.status_code == status, reply.text
    error: dict = reply.json()["error"]
    return error
