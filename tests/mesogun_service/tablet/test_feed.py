"""The live feed and the alarm board in-process: the gun's events in, the snapshot every tablet renders out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from firmware_protocol import AlarmCode, AlarmPriority
from mesogun.session.fanout import FanOut, Subscription
from mesogun_service.hosted import ServiceEvent
from mesogun_service.tablet.alarms import AlarmBoard
from mesogun_service.tablet.feed import LiveSnapshot, TabletFeed, Tally
from mesogun_service.tablet.live import fragment


class FakeHosted:
    """What the feed reads of a hosted gun: its events, connection and serial."""

    url = "tcp://sim"
    serial = "SIM0001"
    last_gun = None

    def __init__(self) -> None:
        self.events: FanOut[ServiceEvent] = FanOut()
        self.connected = asyncio.Event()

    def subscribe(self, maxsize: int = 256) -> Subscription[ServiceEvent]:
        return self.events.subscribe(maxsize)


def status(state: str = "armed", shots: int = 0, alarms: tuple[str, ...] = ()) -> ServiceEvent:
    fields = {"state": state, "shots_session": shots, "reservoir_ml": 9.5, "depth_mm": 1.5, "needle_depth_mm": 1.5}
    return "status", {**fields, "active_alarms": list(alarms)}


def shot(index: int, delivered_ml: float = 0.002) -> ServiceEvent:
    return "shot", {"index": index, "dose_ml": 0.002, "delivered_ml": delivered_ml, "source": "trigger"}


def alarm(code: str, priority: str, raised: bool = True) -> ServiceEvent:
    return "alarm", {"code": code, "priority": priority, "raised": raised, "device_time": 1.0}


async def settled(feed: TabletFeed) -> LiveSnapshot:
    for _ in range(20):
        await asyncio.sleep(0)
    return feed.snapshot()


def run(test: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
    """``test`` on its own event loop, in a thread: a worker's Playwright (sync API) keeps a loop running in this
    one once a browser test ran."""
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, test(*args)).result()


def test_without_a_treatment_session_the_counters_follow_the_device() -> None:
    async def scenario() -> None:
        hosted = FakeHosted()
        feed = TabletFeed(hosted)
        feed.start()
        seen = feed.subscribe()
        await settled(feed)
        for event in (status(shots=4), shot(100), shot(101, delivered_ml=0.001)):
            hosted.events.publish(event)
        now = await settled(feed)
        assert (now.session_shots, round(now.session_ml, 6), now.last_shot) == (6, 0.003, 101)
        assert now.zone_shots is None and now.needle_left is None and now.reservoir_ml == 9.5
        assert seen.get_nowait() is not None  # each change republished to every tablet
        hosted.events.publish(status(shots=6))
        assert (await settled(feed)).session_shots == 6

    run(scenario)


def test_a_treatment_session_counts_from_the_record_then_per_shot_and_rereads_on_a_zone_change() -> None:
    async def scenario() -> None:
        hosted = FakeHosted()
        where: list[tuple[int | None, str | None]] = [(7, "face.forehead")]
        reads: list[tuple[int, str | None]] = []

        async def load(visit: int) -> Tally:
            zone = where[0][1]
            reads.append((visit, zone))
            zone_shots = 10 if zone == "face.forehead" else 0
            return Tally(visit, zone, 30, 0.06, zone_shots, zone_shots * 0.002, 495)

        feed = TabletFeed(hosted, load=load, where=lambda: where[0])
        feed.start()
        await settled(feed)
        hosted.events.publish(shot(1))
        now = await settled(feed)
        assert (now.session_shots, now.zone_shots, now.zone_label, now.needle_left) == (31, 11, "Forehead", 4)
        assert round(now.zone_ml or 0, 6) == 0.022
        where[0] = (7, "face.cheek.left")
        hosted.events.publish(status())
        now = await settled(feed)
        assert reads[-1] == (7, "face.cheek.left") and (now.session_shots, now.zone_shots) == (30, 0)
        hosted.events.publish(shot(2))
        assert (await settled(feed)).needle_left == 4
        for index in range(3, 8):
            hosted.events.publish(shot(index))
        assert (await settled(feed)).needle_left == 0

    run(scenario)


def test_a_shot_the_record_already_holds_is_not_counted_again() -> None:
    async def scenario() -> None:
        hosted = FakeHosted()

        async def load(visit: int) -> Tally:  # the record holds the session's shots up to the device's index 40
            return Tally(visit, "face.chin", 12, 0.024, 12, 0.024, 12, last_index=40)

        feed = TabletFeed(hosted, load=load, where=lambda: (7, "face.chin"))
        feed.start()
        await settled(feed)
        hosted.events.publish(shot(40))  # re-sent after a reload or a reconnect: on record already
        hosted.events.publish(shot(41))  # a new one
        now = await settled(feed)
        assert (now.session_shots, now.zone_shots, now.last_shot) == (13, 13, 41)

    run(scenario)


def test_alarms_show_by_priority_stay_acknowledged_until_cleared() -> None:
    async def scenario() -> None:
        hosted = FakeHosted()
        feed = TabletFeed(hosted)
        feed.start()
        await settled(feed)
        hosted.events.publish(alarm("reservoir_low", "low"))
        hosted.events.publish(alarm("occlusion", "high"))
        now = await settled(feed)
        assert [a.name for a in now.alarms] == ["occlusion", "reservoir_low"] and now.flashing
        assert feed.acknowledge(AlarmCode.OCCLUSION, "carol")
        now = feed.snapshot()
        assert now.alarms[0].acknowledged and now.alarms[0].acknowledged_by == "carol" and not now.flashing
        hosted.events.publish(status(state="alarm", alarms=("occlusion", "reservoir_low")))
        assert (await settled(feed)).alarms[0].acknowledged  # a status listing it keeps its acknowledgement
        hosted.events.publish(alarm("occlusion", "high", raised=False))
        assert [a.name for a in (await settled(feed)).alarms] == ["reservoir_low"]
        assert not feed.acknowledge(AlarmCode.OCCLUSION, "carol")  # gone: nothing to acknowledge

    run(scenario)


def test_a_status_brings_in_alarms_the_board_missed_and_drops_cleared_ones() -> None:
    board = AlarmBoard()
    board.raised(AlarmCode.RESERVOIR_LOW, AlarmPriority.LOW)
    assert board.sync((AlarmCode.EMERGENCY_STOP,))
    assert [(a.code, a.priority) for a in board.alarms()] == [(AlarmCode.EMERGENCY_STOP, AlarmPriority.HIGH)]
    assert not board.sync((AlarmCode.EMERGENCY_STOP,))


def test_the_lost_gun_is_said_and_fragments_render_in_each_language() -> None:
    async def scenario() -> None:
        hosted = FakeHosted()
        feed = TabletFeed(hosted)
        feed.start()
        hosted.events.publish(status())
        hosted.events.publish(alarm("occlusion", "high"))
        hosted.events.publish(("connection", {"connected": False, "reason": "unplugged"}))
        now = await settled(feed)
        assert not now.connected
        assert "Not connected" in fragment("_gun_state.html", "en", now)
        assert "lost the gun" in fragment("_connection.html", "en", now)
        alarms = fragment("_alarms.html", "en", now)
        assert "!!!" in alarms and "High priority" in alarms and "Acknowledge" in alarms
        assert "1,5" in fragment("_counters.html", "fr", now)  # the depth with a decimal comma
        hosted.events.close()
        await settled(feed)
        assert not feed.running

    run(scenario)
