"""Calibration through the service (issue 16): a run and its certificate saved by a technician who re-authenticated
(a practitioner refused naming the role, a stale sign-in naming the PIN, bad input naming the field, nothing
saved), in the record's audit log and the service's audit trail; a gun's history and certificate read back; the
warning at the start of a visit or treatment session when the gun's calibration is overdue or was never done.
The device's constants and the measurement moves need :mod:`mesogun.calibration.device` (their tests skip without
it)."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesogun.record import TreatmentRecord
from mesogun.transports.sim import SimTransport
from mesogun_service.accounts import Accounts, Role
from tests.mesogun_service.api.clinic_support import prepare, refused, start_body
from tests.mesogun_service.conftest import PIN, USER, Running, add_user

PDF = b"%PDF-1.7\n% the certificate\n%%EOF\n"
HAS_DEVICE = importlib.util.find_spec("mesogun.calibration") is not None and (
    importlib.util.find_spec("mesogun.calibration.device") is not None
)
needs_device = pytest.mark.skipif(not HAS_DEVICE, reason="mesogun.calibration.device is not in this build yet")


def run_body(run_id: str = "R1", **changes: Any) -> dict[str, Any]:
    """A passed volume run of the service's gun, due a year on, with its certificate."""
    return {
        "run_id": run_id,
        "device_serial": "SIM0001",
        "kind": "volume",
        "syringe_brand": "BD",
        "outcome": "passed",
        "started_at": "2026-03-02T09:00:00+00:00",
        "finished_at": "2026-03-02T09:40:00+00:00",
        "calibration_id": 1,
        "certificate_id": f"C-{run_id}",
        "due_at": (datetime.now(UTC) + timedelta(days=365)).isoformat(),
        "run": {"run_id": run_id, "as_found": [], "as_left": []},
        "certificate_pdf_base64": base64.b64encode(PDF).decode(),
        "reason": "annual calibration",
        **changes,
    }


async def fresh(svc: Running) -> None:
    """Re-authenticate the test's technician (PIN again): technician writes are allowed for the next minutes."""
    await svc.ok("POST", "/auth/reauth", json={"pin": PIN})


async def signed_in(svc: Running, user: str, pin: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=svc.service.url, timeout=10)
    token = (await client.post("/auth/login", json={"user": user, "pin": pin})).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def record_audit(record: Path) -> list[tuple[str, str, str]]:
    with TreatmentRecord(record, create=False) as opened:
        return [(str(a), str(b), str(c)) for a, b, c in opened.rows("SELECT actor, action, entity_id FROM audit_log")]


def test_a_fresh_technician_saves_a_run_and_everyone_reads_it_back(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            stale = await refused(svc, "POST", "/calibrations", 403, json=run_body())
            assert stale["field"] == "pin" and "re-authentication" in stale["message"]
            await fresh(svc)
            saved = await svc.ok("POST", "/calibrations", json=run_body())
            assert (saved["run_id"], saved["technician"], saved["has_certificate"]) == ("R1", USER, True)
            history = await svc.ok("GET", "/calibrations", params={"device": "SIM0001"})
            assert [run["run_id"] for run in history["runs"]] == ["R1"]
            volume = [k for k in history["due"]["kinds"] if k["kind"] == "volume"]
            (bd,) = volume
            assert (bd["syringe_brand"], bd["state"], bd["run_id"], bd["calibration_id"]) == ("BD", "in_force", "R1", 1)
            assert "depth and rate never calibrated" in history["due"]["warning"]  # a volume run is not a depth one
            one = await svc.ok("GET", "/calibrations/R1")
            assert one["run"] == {"run_id": "R1", "as_found": [], "as_left": []}
            pdf = await svc.client.get("/calibrations/R1/certificate")
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content == PDF
            missing = await refused(svc, "GET", "/calibrations/R9/certificate", 404)
            assert missing["field"] == "run_id" and "R9" in missing["message"]
            twice = await refused(svc, "POST", "/calibrations", 409, json=run_body())
            assert twice["field"] == "run_id"
            await asyncio.sleep(0.3)  # the service's audit trail is entered after the reply, from a worker thread
        assert record_audit(svc.record) == [(USER, "calibration.save", "R1")]
        with Accounts(svc.record.parent / "accounts.sqlite") as accounts:
            trail = [(e.actor, e.action, e.outcome) for e in accounts.audit_trail()]
        assert (USER, "POST /calibrations", "ok") in trail and (USER, "POST /calibrations", "refused (403)") in trail

    real(scenario)


def test_a_practitioner_may_read_but_not_calibrate(real, running_service, tmp_path) -> None:
    async def scenario() -> None:
        add_user(tmp_path / "accounts.sqlite", "bob", "1357", (Role.PRACTITIONER,))
        async with running_service() as svc:
            bob = await signed_in(svc, "bob", "1357")
            try:
                assert (await bob.post("/auth/reauth", json={"pin": "1357"})).status_code == 200
                for method, path, body in (
                    ("POST", "/calibrations", run_body()),
                    ("PUT", svc.gun("/calibration"), {"volume_gain_by_brand": {}, "depth_offset_um": 0,
                                                      "depth_gain": 1.0, "rate_gain": 1.0}),
                    ("POST", svc.gun("/calibration/hold-depth"), {"depth_mm": 1.0}),
                    ("POST", svc.gun("/calibration/release-depth"), None),
                    ("POST", svc.gun("/calibration/deliver"), {"count": 1, "dose_ml": 0.02, "rate_hz": 1.0}),
                    ("POST", svc.gun("/calibration/syringe-brand"), {"brand": "BD"}),
                ):  # fmt: skip
                    reply = await bob.request(method, path, json=body)
                    assert reply.status_code == 403, (path, reply.text)
                    assert reply.json()["error"]["field"] == "role" and "technician" in reply.json()["error"]["message"]
                history = await bob.get("/calibrations", params={"device": "SIM0001"})
                assert history.status_code == 200 and history.json()["runs"] == []
            finally:
                await bob.aclose()
        assert record_audit(svc.record) == []

    real(scenario)


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"kind": "speed"}, 422, "kind"),
        ({"outcome": "ok"}, 422, "outcome"),
        ({"technician": "mallory"}, 422, "technician"),
        ({"started_at": "yesterday"}, 422, "started_at"),
        ({"certificate_pdf_base64": "not base64!"}, 422, "certificate_pdf_base64"),
        ({"certificate_pdf_base64": base64.b64encode(b"<html>").decode()}, 422, "certificate_pdf"),
        ({"calibration_id": "1"}, 422, "calibration_id"),
        ({"run": "[]"}, 422, "run"),
    ],
)
def test_a_bad_run_is_refused_naming_the_field_and_nothing_is_saved(
    real, running_service, changes: dict[str, Any], status: int, field: str
) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await fresh(svc)
            error = await refused(svc, "POST", "/calibrations", status, json=run_body(**changes))
            assert error["field"] == field, error
            assert (await svc.ok("GET", "/calibrations", params={"device": "SIM0001"}))["runs"] == []
        assert record_audit(svc.record) == []

    real(scenario)


def test_a_visit_and_a_treatment_session_warn_when_the_calibration_is_overdue_or_never_done(
    real, running_service
) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            never = (await svc.ok("POST", svc.gun("/visits"), json={}))["warnings"]
            assert never == ["gun SIM0001 has never been calibrated: its doses and depths are uncorrected"]
            await svc.ok("POST", f"/visits/{(await svc.ok('GET', svc.gun('/visit')))['id']}/close")
            await fresh(svc)
            overdue_at = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
            await svc.ok("POST", "/calibrations", json=run_body("R-OLD", due_at=overdue_at.isoformat()))
            prepared = await prepare(svc)
            started = await svc.ok("POST", svc.gun("/treatments"), json=start_body(prepared))
            assert started["open"]  # a warning, never a refusal
            (warning,) = started["warnings"]
            assert f"due on {overdue_at.date().isoformat()}" in warning and "R-OLD" in warning
            assert "overdue" in warning
            await svc.ok("POST", f"/treatments/{started['visit_id']}/sign-off", json={})
            await svc.ok("POST", "/calibrations", json=run_body("R-NEW", started_at="2026-06-01T09:00:00+00:00",
                                                                finished_at="2026-06-01T10:00:00+00:00"))  # fmt: skip
            (partial,) = (await svc.ok("POST", svc.gun("/visits"), json={}))["warnings"]
            assert "depth and rate never calibrated" in partial and "volume" not in partial  # volume in force now
            await svc.ok("POST", f"/visits/{(await svc.ok('GET', svc.gun('/visit')))['id']}/close")
            for kind in ("depth", "rate"):
                await svc.ok("POST", "/calibrations", json=run_body(f"R-{kind}", kind=kind, syringe_brand=""))
            assert (await svc.ok("POST", svc.gun("/visits"), json={}))["warnings"] == []

    real(scenario)


def test_a_calibration_run_with_a_large_certificate_is_accepted(real, running_service) -> None:
    """The body limit of a gun command (64 kB) is not a certificate's: a run with a 1 MB PDF is saved whole."""
    large = PDF + b"%" + b"x" * 1_000_000 + b"\n%%EOF\n"

    async def scenario() -> None:
        async with running_service() as svc:
            await fresh(svc)
            body = run_body(certificate_pdf_base64=base64.b64encode(large).decode())
            await svc.ok("POST", "/calibrations", json=body)
            assert (await svc.client.get("/calibrations/R1/certificate")).content == large
            assert (await svc.client.post(svc.gun("/notes"), content=b"x" * 70_000)).status_code == 413

    real(scenario)


@needs_device
def test_the_device_constants_are_read_written_by_a_fresh_technician_and_audited(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            before = await svc.ok("GET", svc.gun("/calibration"))
            assert before["calibration_id"] == 0  # factory
            new = {
                "volume_gain_by_brand": {"BD": 1.03},
                "depth_offset_um": 80,
                "depth_gain": 1.0,
                "rate_gain": 1.0,
                "reason": "volume calibration",
            }
            stale = await refused(svc, "PUT", svc.gun("/calibration"), 403, json=new)
            assert stale["field"] == "pin"
            await fresh(svc)
            applied = await svc.ok("PUT", svc.gun("/calibration"), json=new)
            assert applied["calibration_id"] > 0 and applied["volume_gain_by_brand"] == {"BD": 1.03}
            assert applied["technician"] == USER
            assert (await svc.ok("GET", svc.gun("/calibration")))["calibration_id"] == applied["calibration_id"]
            out_of_bounds = await refused(svc, "PUT", svc.gun("/calibration"), 422, json={**new, "depth_gain": 1.5})
            assert out_of_bounds["field"] == "depth_gain"
        with TreatmentRecord(svc.record, create=False) as record:
            (entry,) = record.rows("SELECT action, entity_id, reason, old_value, new_value FROM audit_log")
        assert entry[:3] == ("calibration.write_device", "SIM0001", "volume calibration")
        assert json.loads(entry[3])["calibration_id"] == 0 and json.loads(entry[4])["depth_offset_um"] == 80

    real(scenario)


@needs_device
def test_the_measurement_moves_through_the_service(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ok("POST", svc.gun("/calibration/syringe-brand"), json={"brand": "Terumo"})
            await svc.ok("POST", svc.gun("/calibration/hold-depth"), json={"depth_mm": 1.5})
            await svc.ok("POST", svc.gun("/calibration/release-depth"))
            await svc.ready_to_treat()
            await svc.ok("POST", svc.gun("/arm"))
            delivered = await svc.ok(
                "POST", svc.gun("/calibration/deliver"), json={"count": 3, "dose_ml": 0.02, "rate_hz": 10.0}
            )
            assert delivered["fired"] == 3 and len(delivered["shots"]) == 3

    real(scenario)


def test_the_service_client_has_a_method_per_calibration_route(real, running_service, monkeypatch) -> None:
    """``mesogun.service_client``: what the wizard calls through a service; errors as the Python API's."""
    from mesogun.errors import AccessDenied
    from mesogun.record.calibrations import NoSuchCalibration
    from mesogun.service_client import TOKEN_ENV, FoundService, ServiceClient

    async def scenario() -> None:
        async with running_service() as svc:
            monkeypatch.setenv(TOKEN_ENV, svc.client.headers["Authorization"].removeprefix("Bearer "))
            with ServiceClient(FoundService(svc.service.url, "given with --service")) as client:
                fields = {k: v for k, v in run_body().items() if k not in ("run", "certificate_pdf_base64")}
                with pytest.raises(AccessDenied, match="re-authentication"):
                    await asyncio.to_thread(client.save_calibration, {"run_id": "R1"}, certificate_pdf=PDF, **fields)
                await fresh(svc)
                saved = await asyncio.to_thread(
                    client.save_calibration, {"run_id": "R1"}, certificate_pdf=PDF, **fields
                )
                assert saved["run_id"] == "R1"
                assert [r["run_id"] for r in (await asyncio.to_thread(client.calibrations, "SIM0001"))["runs"]] == [
                    "R1"
                ]
                assert (await asyncio.to_thread(client.calibration_run, "R1"))["run"] == {"run_id": "R1"}
                assert await asyncio.to_thread(client.certificate, "R1") == PDF
                with pytest.raises(NoSuchCalibration) as missing:
                    await asyncio.to_thread(client.certificate, "R9")
                assert missing.value.code == "MG606" and missing.value.exit_code == 2

    real(scenario)


def _device_brand(svc: Running) -> str:
    """The brand the simulated gun behind the service holds now (its own state, not the service's reply)."""
    (hosted,) = list(svc.service.guns)
    transport = hosted.transport
    assert isinstance(transport, SimTransport)
    return transport.sim.device.snapshot().syringe_brand


@needs_device
def test_a_load_declares_the_treatment_sessions_syringe_brand_and_warns_for_an_uncalibrated_one(
    real, running_service
) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await fresh(svc)
            bd = {"volume_gain_by_brand": {"BD": 1.03}, "depth_offset_um": 0, "depth_gain": 1.0, "rate_gain": 1.0}
            await svc.ok("PUT", svc.gun("/calibration"), json={**bd, "reason": "volume calibration"})
            prepared = await prepare(svc)
            await svc.ok("POST", svc.gun("/treatments"), json=start_body(prepared, syringe_brand="BD"))
            loaded = await svc.ok("POST", svc.gun("/syringe"), json={"capacity_ml": 5})
            assert loaded["brand"] == "BD" and loaded["warnings"] == []  # the session's brand, declared
            assert _device_brand(svc) == "BD"
            other = await svc.ok("POST", svc.gun("/syringe"), json={"capacity_ml": 5, "brand": "Terumo"})
            assert other["brand"] == "Terumo" and _device_brand(svc) == "Terumo"
            (warning,) = other["warnings"]
            assert "'Terumo' has no volume calibration" in warning and "calibrated for BD" in warning
            wrong_case = await refused(svc, "POST", svc.gun("/syringe"), 422, json={"capacity_ml": 5, "brand": "bd"})
            assert wrong_case["field"] == "brand" and "'BD'" in wrong_case["message"]
            assert _device_brand(svc) == "Terumo"  # refused before anything was sent

    real(scenario)
