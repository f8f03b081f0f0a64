"""The service's reads of a patient's identifying details (``?identified=true`` on the patient, their history, a
session's summary, report and aftercare sheet) are entries in the record's audit log: who (the signed-in user),
through which route, why (``?reason=``), written in the read's own transaction; no entry, no details; an erased
patient's read enters nothing; a caller who is not signed in is refused and enters nothing; ``mesogun record
verify`` passes afterwards."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from mesogun.record.patients import READ_IDENTIFIED, PatientBook
from tests.mesogun.record.clinic_support import DR
from tests.mesogun_service.api.clinic_support import prepare, refused, start
from tests.mesogun_service.conftest import USER

IDENTIFIED = {"identified": "true"}


def reads(record: Path) -> list[tuple[str, str, str, str]]:
    """The record's identified-read entries, oldest first: (actor, patient, reason, via)."""
    with TreatmentRecord(record, create=False) as opened:
        rows = opened.rows(
            "SELECT actor, entity_id, reason, new_value FROM audit_log WHERE action = ? ORDER BY seq",
            (READ_IDENTIFIED,),
        )
    return [(actor, patient, reason, json.loads(new)["via"]) for actor, patient, reason, new in rows]


def test_every_identified_read_names_who_through_which_route_and_why(real, running_service, capsys) -> None:
    async def scenario() -> Path:
        async with running_service() as svc:
            prepared = await prepare(svc)
            visit = await start(svc, prepared)
            await svc.ok("POST", f"/treatments/{visit}/sign-off", json={})
            pid = prepared.patient

            # pseudonymous reads enter nothing
            assert (await svc.ok("GET", f"/patients/{pid}"))["identity"] is None
            assert (await svc.ok("GET", f"/treatments/{visit}/summary"))["patient_name"] is None
            assert [h["patient_name"] for h in await svc.ok("GET", f"/patients/{pid}/history")] == [None]
            assert (await svc.client.get(f"/treatments/{visit}/report.html")).status_code == 200
            assert reads(svc.record) == []

            # a language that does not ship: refused naming it, before the read is entered (nothing is)
            bad = {**IDENTIFIED, "language": "de"}
            error = await refused(svc, "GET", f"/treatments/{visit}/aftercare.pdf", 422, params=bad)
            assert (error["field"], error["value"]) == ("language", "de") and "en, fr" in error["message"], error
            assert "Ada" not in json.dumps(error) and reads(svc.record) == []

            why = {**IDENTIFIED, "reason": "patient on the phone"}
            shown = await svc.ok("GET", f"/patients/{pid}", params=why)
            assert shown["identity"]["name"] == "Ada Byron"
            named = await svc.ok("GET", f"/treatments/{visit}/summary", params=IDENTIFIED)
            assert named["patient_name"] == "Ada Byron"
            history = await svc.ok("GET", f"/patients/{pid}/history", params=IDENTIFIED)
            assert [h["patient_name"] for h in history] == ["Ada Byron"]
            for document in ("report.html", "aftercare.html"):
                reply = await svc.client.get(f"/treatments/{visit}/{document}", params=IDENTIFIED)
                assert reply.status_code == 200 and "Ada Byron" in reply.text
            assert reads(svc.record) == [
                (USER, str(pid), "patient on the phone", f"GET /patients/{pid}"),
                (USER, str(pid), "", f"GET /treatments/{visit}/summary"),
                (USER, str(pid), "", f"GET /patients/{pid}/history"),
                (USER, str(pid), "", f"GET /treatments/{visit}/report.html"),
                (USER, str(pid), "", f"GET /treatments/{visit}/aftercare.html"),
            ]

            # not signed in: refused, nothing shown, nothing entered
            async with httpx.AsyncClient(base_url=svc.service.url) as anonymous:
                for path in (f"/patients/{pid}", f"/treatments/{visit}/summary", f"/treatments/{visit}/report.pdf"):
                    reply = await anonymous.get(path, params=IDENTIFIED)
                    assert reply.status_code == 401 and "Ada" not in reply.text, (path, reply.text)
            assert len(reads(svc.record)) == 5
            return svc.record

    record = real(scenario)
    capsys.readouterr()
    assert main(["--db", str(record), "record", "verify"]) == 0, capsys.readouterr().err


def test_an_erased_patients_identified_read_shows_nothing_and_enters_nothing(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            prepared = await prepare(svc)
            visit = await start(svc, prepared)
            with TreatmentRecord(svc.record, create=False) as record:
                PatientBook(record).erase(prepared.patient, actor=DR, reason="right to erasure")
            shown = await svc.ok("GET", f"/patients/{prepared.patient}", params=IDENTIFIED)
            assert shown["erased"] and shown["identity"] is None
            assert (await svc.ok("GET", f"/treatments/{visit}/summary", params=IDENTIFIED))["patient_name"] is None
            assert (await svc.ok("GET", f"/patients/{prepared.patient}/history", params=IDENTIFIED))[0][
                "patient_name"
            ] is None
            sheet = await svc.client.get(f"/treatments/{visit}/aftercare.html", params=IDENTIFIED)
            assert sheet.status_code == 200 and "Ada" not in sheet.text
            assert reads(svc.record) == []

    real(scenario)


def test_details_whose_read_cannot_be_entered_are_not_sent(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            prepared = await prepare(svc)
            visit = await start(svc, prepared)
            full = sqlite3.connect(svc.record)
            with full:
                full.execute(
                    "CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log"
                    " BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
                )
            full.close()
            for path in (
                f"/patients/{prepared.patient}",
                f"/patients/{prepared.patient}/history",
                f"/treatments/{visit}/summary",
                f"/treatments/{visit}/report.pdf",
            ):
                error = await refused(svc, "GET", path, 503, params=IDENTIFIED)
                assert error["kind"] == "record_error" and "Ada" not in json.dumps(error), path
                assert "audit log could not enter who read them (disk is full)" in error["message"], error
            assert (await svc.ok("GET", f"/treatments/{visit}/summary"))["patient"] == "P-0001"  # pseudonymous: fine
            assert reads(svc.record) == []

    real(scenario)
