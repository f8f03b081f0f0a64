"""The clinical workflow through the service's HTTP API, end to end on a real service and a sim:// gun: a patient,
a course and a lot entered; a treatment session started on the gun with its checklist; shots fired in two zones;
an adverse event, aftercare, the sign-off; the summary and the patient's history as the record holds them."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests.mesogun_service.api.clinic_support import ALL_CLEAR, TINY, prepare, refused, start
from tests.mesogun_service.conftest import USER


def test_a_treatment_session_from_patient_to_sign_off(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service(clinic_name="Clinique des Alpes", clinic_phone="+33 4 50 00 00 00") as svc:
            await svc.ready_to_treat()
            prepared = await prepare(svc)
            assert [p["pseudonym"] for p in await svc.ok("GET", "/patients")] == ["P-0001"]
            shown = await svc.ok("GET", f"/patients/{prepared.patient}", params={"identified": "true"})
            assert shown["identity"]["name"] == "Ada Byron" and shown["courses"][0]["preset"] == "tiny"
            assert (await svc.ok("GET", f"/patients/{prepared.patient}"))["identity"] is None
            assert {p["name"] for p in await svc.ok("GET", "/presets")} >= {"face", "scalp", "tiny"}
            assert len(await svc.ok("GET", "/lots")) == 2
            assert {i["id"] for i in await svc.ok("GET", "/checklist")} == set(ALL_CLEAR)

            visit = await start(svc, prepared)
            current = await svc.ok("GET", svc.gun("/treatment"))
            assert (current["visit_id"], current["preset"], current["zone"]) == (visit, "tiny", "face.forehead")

            # a depth past the preset's soft limit: refused naming the limit and how to override, then overridden
            deep = {"depth_mm": 2.2, "dose_ml": 0.02, "mode": "burst"}
            error = await refused(svc, "POST", svc.gun("/configure"), 409, json=deep)
            assert error["code"] == "MG707" and error["field"] == "depth_mm" and error["value"] == 2.2
            assert "preset.tiny.max_depth_mm" in error["message"] and "override_reason" in error["hint"]
            why = "thick skin on the forehead"
            applied = await svc.ok("POST", svc.gun("/configure"), json={**deep, "override_reason": why})
            assert applied["depth_mm"] == 2.2

            await svc.ok("POST", svc.gun("/arm"))
            assert (await svc.ok("POST", svc.gun("/fire"), json={"count": 3}))["fired"] == 3
            moved = await svc.ok("POST", f"/treatments/{visit}/zone", json={"zone": "face.chin"})
            assert moved["zone"] == "face.chin"
            assert (await svc.ok("POST", svc.gun("/fire"), json={"count": 2}))["fired"] == 2
            await svc.ok("POST", svc.gun("/disarm"))

            event = {"kind": "bruising", "severity": "mild", "detail": "small, on the chin"}
            await svc.ok("POST", f"/treatments/{visit}/adverse-events", json=event)
            await svc.ok("POST", f"/treatments/{visit}/notes", json={"text": "tolerated well"})
            advice = (await svc.ok("POST", f"/treatments/{visit}/aftercare", json={}))["aftercare"]
            assert any("SPF 30" in line for line in advice)
            signed = await svc.ok("POST", f"/treatments/{visit}/sign-off", json={})
            assert signed["signoff"]["by"] == USER and signed["signoff"]["meaning"] and not signed["open"]
            assert (await svc.client.get(svc.gun("/treatment"))).status_code == 404  # the gun goes on, outside

            summary = await svc.ok("GET", f"/treatments/{visit}/summary")
            zones = [(z["zone"], z["shots"], z["volume_ml"]) for z in summary["zones"]]
            assert zones == [("face.forehead", 3, pytest.approx(0.06)), ("face.chin", 2, pytest.approx(0.04))]
            assert summary["shots"] == 5 and summary["volume_ml"] == pytest.approx(0.1)
            assert summary["depth_mm"] == [2.2, 2.2] and summary["practitioner"] == USER
            assert [(lot["lot"], lot["expiry"]) for lot in summary["lots"]] == [("L2403", "2099-12-31")]
            assert summary["patient"] == "P-0001" and summary["patient_name"] is None
            assert summary["devices"] == [svc.serial] and summary["preset"] == "tiny"
            assert [(c["item"], c["present"]) for c in summary["checklist"]] == [(i, False) for i in ALL_CLEAR]
            overrides = [(o["limit"], o["reason"], o["by"]) for o in summary["overrides"]]
            assert overrides == [("preset.tiny.max_depth_mm", why, USER)]
            assert [(e["kind"], e["severity"]) for e in summary["adverse_events"]] == [("bruising", "mild")]
            assert summary["aftercare"] == advice and "tolerated well" in summary["notes"]
            assert summary["signoff"] == signed["signoff"] and summary["session_number"] == 1
            assert summary["consent"] == "signed form v3"
            assert summary["next_session"] is not None  # 14 days on: session 2 of 4

            named = await svc.ok("GET", f"/treatments/{visit}/summary", params={"identified": "true"})
            assert named["patient_name"] == "Ada Byron"
            history = await svc.ok("GET", f"/patients/{prepared.patient}/history")
            assert [h["visit_id"] for h in history] == [visit]
            assert (await svc.ok("GET", f"/courses/{prepared.course}"))["sessions"] == [visit]
            assert TINY["name"] == summary["preset"]

            pdf = await svc.client.get(f"/treatments/{visit}/report.pdf", params={"clinic": "Clinique du Lac"})
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            assert (
                pdf.headers["cache-control"] == "no-store"
                and f"report-{visit}.pdf" in pdf.headers["content-disposition"]
            )
            text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
            assert "Clinique du Lac" in text and "PSEUDONYMISED" in text and "Ada" not in text and USER in text
            sheet = await svc.client.get(f"/treatments/{visit}/aftercare.html", params={"identified": "true"})
            assert sheet.status_code == 200 and "Ada Byron" in sheet.text and advice[0] in sheet.text
            french = await svc.client.get(f"/treatments/{visit}/aftercare.pdf", params={"language": "fr"})
            assert french.status_code == 200 and french.headers["content-type"] == "application/pdf"
            text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(french.content)).pages)
            assert "Conseils après votre traitement" in text and "(front et menton)" in text
            assert "Clinique des Alpes" in text and "Téléphone +33 4 50 00 00 00" in text  # the service's clinic
            report = await svc.client.get(f"/treatments/{visit}/report.html", params={"language": "fr"})
            assert '<html lang="fr">' in report.text and "Zones traitées" in report.text and "0,060" in report.text
            unknown = await svc.client.get("/treatments/999/report.html")
            assert unknown.status_code == 404
            assert (await svc.client.get(f"/treatments/{visit}/report.docx")).status_code == 422

    real(scenario)
