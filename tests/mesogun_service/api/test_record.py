"""Visits (a treatment session is a visit, not a process) and the record's queries through the API."""

from __future__ import annotations

from mesogun.record import TreatmentRecord
from tests.mesogun.record.conftest import postgres_cluster, postgres_url

__all__ = ["postgres_cluster", "postgres_url"]  # the record tests' throw-away PostgreSQL, for the clinic's case


def test_a_visit_holds_its_connection_and_shots_and_is_closed_explicitly(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ready_to_treat()
            visit = await svc.ok("POST", svc.gun("/visits"), json={"note": "forehead"})
            again = await svc.client.post(svc.gun("/visits"), json={})
            assert again.status_code == 409 and f"visit {visit['id']} open" in again.json()["error"]["message"]
            await svc.ok("POST", svc.gun("/arm"))
            await svc.ok("POST", svc.gun("/fire"), json={"count": 4})
            await svc.ok("POST", svc.gun("/disarm"))
            assert (await svc.ok("GET", svc.gun("/visit")))["id"] == visit["id"]
            closed = await svc.ok("POST", f"/visits/{visit['id']}/close")
            assert closed["closed"] is not None and closed["shots"] == 4 and closed["volume_ml"] > 0
            assert len(closed["sessions"]) == 1
            missing = await svc.client.get(svc.gun("/visit"))
            assert missing.status_code == 404
            unknown = await svc.client.post("/visits/999/close")
            assert unknown.status_code == 404 and "no open visit 999" in unknown.json()["error"]["message"]
            sessions = await svc.ok("GET", "/record/sessions")
            assert sum(s["shots_recorded"] for s in sessions) == 4
            shown = await svc.ok("GET", f"/record/sessions/{closed['sessions'][0]}")
            assert [s["shot_index"] for s in shown["shots"]] == [1, 2, 3, 4]
            assert (await svc.ok("GET", "/visits"))[0]["note"] == "forehead"

    real(scenario)


def test_a_visit_left_open_goes_on_recording_after_the_service_restarts(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            visit = await svc.ok("POST", svc.gun("/visits"), json={})
        async with running_service() as svc:  # the same record, a new service process's worth of state
            await svc.ready_to_treat()
            await svc.ok("POST", svc.gun("/arm"))
            await svc.ok("POST", svc.gun("/fire"), json={"count": 2})
            resumed = await svc.ok("GET", svc.gun("/visit"))
            assert resumed["id"] == visit["id"] and resumed["shots"] == 2 and len(resumed["sessions"]) == 2
        with TreatmentRecord(svc.record) as record:
            assert len(record.sessions()) == 3  # before the visit, the visit's first, the visit after the restart

    real(scenario)


def test_a_service_on_a_postgresql_record_keeps_its_visits_and_shots_there(real, running_service, postgres_url) -> None:
    """A clinic's several rooms share one record: ``mesogun serve --db postgresql://…``."""

    async def scenario() -> None:
        async with running_service(record=postgres_url) as svc:
            await svc.ready_to_treat()
            visit = await svc.ok("POST", svc.gun("/visits"), json={"note": "room 2"})
            await svc.ok("POST", svc.gun("/arm"))
            await svc.ok("POST", svc.gun("/fire"), json={"count": 3})
            await svc.ok("POST", svc.gun("/disarm"))
            closed = await svc.ok("POST", f"/visits/{visit['id']}/close")
            assert closed["shots"] == 3
        with TreatmentRecord(postgres_url) as record:
            assert sum(s.shots_recorded for s in record.sessions()) == 3

    real(scenario)
