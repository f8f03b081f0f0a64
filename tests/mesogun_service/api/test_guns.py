"""The HTTP API for a gun: every operation, the Python API's validation and codes, and bad requests refused
with a clear 4xx naming the field — and changing nothing on the gun."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from mesogun.record import TreatmentRecord


def test_a_treatment_through_the_api_reaches_the_device_and_the_record(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            guns = await svc.ok("GET", "/guns")
            assert [g["serial"] for g in guns] == ["SIM0001"] and guns[0]["connected"]
            info = await svc.ok("GET", svc.gun())
            assert info["depth_range_mm"] == [1.0, 4.0] and info["connected"]
            await svc.ready_to_treat()
            assert (await svc.ok("POST", svc.gun("/arm")))["state"] == "armed"
            fired = await svc.ok("POST", svc.gun("/fire"), json={"count": 5})
            assert fired["fired"] == 5 and [s["index"] for s in fired["shots"]] == [1, 2, 3, 4, 5]
            status = await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"})
            assert status["shots_lifetime"] == 5  # the device's count
            assert (await svc.ok("POST", svc.gun("/disarm")))["state"] == "ready"
        with TreatmentRecord(svc.record) as record:
            assert sum(s.shots_recorded for s in record.sessions()) == 5

    real(scenario)


def test_bad_requests_get_a_4xx_naming_the_field_and_change_nothing(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            before = await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"})
            cases: list[tuple[str, dict[str, Any], int, str | None, str]] = [
                (svc.gun("/configure"), {"json": {"depth_mm": 9.0}}, 422, "depth_mm", "outside the device's range"),
                (svc.gun("/configure"), {"json": {"depth_mm": "2"}}, 422, "depth_mm", "valid number"),
                (svc.gun("/configure"), {"json": {"depth": 2.0}}, 422, "depth", "Extra inputs"),
                (
                    svc.gun("/configure"),
                    {"content": b"{not json", "headers": {"content-type": "application/json"}},
                    400,
                    None,
                    "not a JSON object",
                ),
                (svc.gun("/configure"), {"json": [1, 2]}, 400, None, "not a JSON object"),
                (svc.gun("/fire"), {"json": {"count": True}}, 422, "count", "valid integer"),
                (svc.gun("/notes"), {"content": b"x" * 70_000}, 413, None, "at most 65536 bytes"),
                ("/guns/NOPE/stop", {}, 404, None, "no gun 'NOPE'"),
                (svc.gun("/fire"), {"json": {"count": 1}}, 409, None, "fire needs the gun armed"),
                (svc.gun("/arm"), {}, 409, None, "needs a live attended client"),
            ]
            for path, kwargs, status, field, words in cases:
                reply = await svc.client.post(path, **kwargs)
                assert reply.status_code == status, (path, kwargs, reply.text)
                error = reply.json()["error"]
                assert words in error["message"], error
                assert error["field"] == field, error
            after = await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"})
            assert {k: after[k] for k in ("state", "depth_mm", "dose_ml", "rate_hz", "mode", "shots_lifetime")} == {
                k: before[k] for k in ("state", "depth_mm", "dose_ml", "rate_hz", "mode", "shots_lifetime")
            }

    real(scenario)


def test_wrong_state_errors_carry_the_python_api_code_and_a_route_hint(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ok("POST", svc.gun("/emergency-stop"))
            reply = await svc.client.post(svc.gun("/fire"), json={"count": 1})
            error = reply.json()["error"]
            assert reply.status_code == 409 and error["code"].startswith("MG2"), error
            assert error["hint"] == "POST /guns/SIM0001/clear to release the emergency stop"
            assert (await svc.ok("POST", svc.gun("/clear")))["state"] == "idle"

    real(scenario)


def test_an_emergency_stop_from_a_second_client_ends_another_clients_burst(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ready_to_treat()
            await svc.ok("POST", svc.gun("/configure"), json={"mode": "continuous"})
            await svc.ok("POST", svc.gun("/arm"))
            firing = asyncio.create_task(svc.client.post(svc.gun("/fire"), json={"count": 0}))
            await asyncio.sleep(0.5)
            async with httpx.AsyncClient(base_url=svc.service.url) as other:
                stopped = await other.post(svc.gun("/emergency-stop"))
            assert stopped.status_code == 200 and stopped.json()["state"] == "emergency_stop"
            reply = await asyncio.wait_for(firing, 5)
            assert reply.status_code in (200, 409), reply.text  # the burst ends: its shots or the alarm
            lifetime = (await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"}))["shots_lifetime"]
            await asyncio.sleep(0.3)
            again = (await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"}))["shots_lifetime"]
            assert again == lifetime > 0  # no shot after the stop

    real(scenario)


def test_the_openapi_schema_lists_every_gun_operation(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            paths = (await svc.ok("GET", "/openapi.json"))["paths"]
        for name in (
            "configure",
            "syringe",
            "prime",
            "arm",
            "disarm",
            "fire",
            "stop",
            "emergency-stop",
            "clear",
            "status",
            "diagnostics",
            "events",
            "attendance",
            "visits",
            "notes",
            "burst-count",
        ):
            assert f"/guns/{{serial}}/{name}" in paths, name
        assert "/record/sessions" in paths and "/visits/{visit_id}/close" in paths

    real(scenario)


def test_one_service_owns_several_guns_each_by_its_serial(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service(devices=("sim://?serial=SIMA", "sim://?serial=SIMB")) as svc:
            guns = await svc.ok("GET", "/guns")
            assert sorted(g["serial"] for g in guns) == ["SIMA", "SIMB"] and all(g["connected"] for g in guns)
            await svc.ok("POST", "/guns/SIMA/configure", json={"depth_mm": 1.2})
            assert (await svc.ok("GET", "/guns/SIMA/status"))["depth_mm"] == 1.2
            assert (await svc.ok("GET", "/guns/SIMB/status"))["depth_mm"] == 2.0  # the other gun is untouched

    real(scenario)
