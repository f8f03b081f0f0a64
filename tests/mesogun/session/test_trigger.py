"""The handpiece trigger and the foot pedal seen from the host: trigger events on ``gun.events()``, shots with
their source, both in the treatment record; ``set_burst_count``; remote fire refused by a device that says
so in its identity. Through the real Gun, record and in-process simulator in virtual time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import mesogun
from firmware_protocol import NakCode, ShotSource
from mesogun.record import TreatmentRecord
from sims.inprocess import start_inprocess
from tests.mesogun.session.test_shot_log import gun_on, make_ready


async def _collect(stream: mesogun.EventStream, until: int) -> list[mesogun.Event]:
    """Trigger and shot events until ``until`` of them came (statuses skipped)."""
    seen: list[mesogun.Event] = []
    async for event in stream:
        if isinstance(event, mesogun.TriggerEvent | mesogun.ShotEvent):
            seen.append(event)
            if len(seen) == until:
                return seen
    return seen


def test_trigger_events_and_trigger_shots_reach_the_events_and_the_record(virtual: Any, tmp_path: Path) -> None:
    db = tmp_path / "record.sqlite"

    async def main() -> tuple[list[mesogun.Event], list[Any], int]:
        sim = await start_inprocess()
        try:
            async with gun_on(sim, db) as gun:
                await make_ready(gun)
                assert await gun.set_burst_count(2) == 2
                async with gun.events() as stream:
                    assert sim.device.press_trigger("pedal") is None
                    await asyncio.sleep(1.0)
                    assert sim.device.release_trigger() is None
                    seen = await asyncio.wait_for(_collect(stream, 4), 5)
                remote = await gun.fire(1)
                return seen, list(remote), sim.device.shots_lifetime
        finally:
            await sim.close()

    seen, remote, lifetime = virtual(main)
    assert lifetime == 3
    pedal = ShotSource.PEDAL
    assert [(type(e).__name__, getattr(e, "pressed", None)) for e in seen] == [
        ("TriggerEvent", True),
        ("ShotEvent", None),
        ("ShotEvent", None),
        ("TriggerEvent", False),
    ]
    assert all(e.shot.source is pedal and e.shot.fire_seq == 0 for e in seen if isinstance(e, mesogun.ShotEvent))
    assert [s.source for s in remote] == [ShotSource.REMOTE]
    with TreatmentRecord(db, create=False) as record:
        (session,) = [s.session for s in record.sessions()]
        assert [(r.shot_index, r.source) for r in record.shots(session)] == [(1, "pedal"), (2, "pedal"), (3, "remote")]
        triggers = [(e["source"], e["pressed"]) for e in record.events(session) if e["type"] == "trigger"]
        assert triggers == [("pedal", True), ("pedal", False)]


def test_remote_fire_on_a_device_that_refuses_it(virtual: Any) -> None:
    async def main() -> None:
        sim = await start_inprocess("remote_fire=0")
        try:
            async with gun_on(sim) as gun:
                assert gun.info.remote_fire is False
                await make_ready(gun)
                with pytest.raises(mesogun.DeviceRefused) as refused:
                    await gun.fire(1)
                assert refused.value.nak_code is NakCode.REMOTE_FIRE_DISABLED
                assert "fires from its trigger and pedal only" in str(refused.value)
                assert sim.device.shots_lifetime == 0
                with pytest.raises(mesogun.ParameterError, match="burst_count=21 is outside 1–20 shots"):
                    await gun.set_burst_count(21)
        finally:
            await sim.close()

    virtual(main)
