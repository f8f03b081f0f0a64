"""The simulated gun's shot log (``sims.logs``, ``sims.nvm.ShotLogRing``): pages, the window, bad input, NVM."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol import NakCode, ShotSource
from firmware_protocol.catalog import SHOT_LOG_PAGE_MAX
from sims.nvm import LoggedShot, ShotLogRing


async def _fire(host: Any, count: int) -> None:
    """Fire ``count`` shots from an armed gun and wait until the device is armed again."""
    before = len(host.events("shot"))
    await host.request("fire", count=count)
    await host.wait_for(lambda m: m.name == "shot" and len(host.events("shot")) >= before + count)
    await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed", start=len(host.messages))


def test_a_page_holds_the_shots_as_their_events_reported_them(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        await _fire(host, 5)
        reply = await host.request("get_shot_log", from_index=2, count=3)
        assert reply.name == "shot_log"
        assert (reply["oldest_index"], reply["newest_index"]) == (1, 5)
        events = {m["shot_index"]: m for m in host.events("shot")}
        assert [e["shot_index"] for e in reply["entries"]] == [2, 3, 4]
        for entry in reply["entries"]:
            event = events[entry["shot_index"]]
            for name in ("fire_seq", "depth_um", "dose_nl", "device_time_ms"):
                assert entry[name] == event[name], name
            assert entry["source"] is ShotSource.REMOTE
            assert entry["partial"] is False and entry["delivered_nl"] == entry["dose_nl"]

    sim_run(main)


def test_a_page_ends_at_the_newest_shot(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        await _fire(host, 3)
        reply = await host.request("get_shot_log", from_index=2, count=SHOT_LOG_PAGE_MAX)
        assert [e["shot_index"] for e in reply["entries"]] == [2, 3]

    sim_run(main)


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"from_index": 1, "count": 0}, "count=0 below min 1 shot"),
        (
            {"from_index": 1, "count": SHOT_LOG_PAGE_MAX + 1},
            f"count={SHOT_LOG_PAGE_MAX + 1} above max {SHOT_LOG_PAGE_MAX} shots per page",
        ),
        ({"from_index": 1, "count": 0xFFFF}, f"count=65535 above max {SHOT_LOG_PAGE_MAX}"),
        ({"from_index": 4, "count": 1}, "from_index=4 past the newest shot 3"),
        # modulo 2**32 the half of the range after the newest shot is past it (the other half is older)
        ({"from_index": 2**31 + 2, "count": 1}, "from_index=2147483650 past the newest shot 3"),
    ],
)
def test_bad_pages_are_refused_out_of_range_and_change_nothing(
    sim_run: Any, fields: dict[str, int], detail: str
) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        await _fire(host, 3)
        before = sim.device.snapshot()
        reply = await host.request("get_shot_log", **fields)
        assert reply.name == "nak" and reply["code"] is NakCode.OUT_OF_RANGE
        assert detail in reply["detail"]
        after = sim.device.snapshot()
        assert (after.state, after.shots_lifetime, after.reservoir_nl) == (
            before.state,
            before.shots_lifetime,
            before.reservoir_nl,
        )
        assert len(sim.device.nvm.shot_log) == 3

    sim_run(main)


def test_an_empty_log_refuses_any_index_and_says_it_is_empty(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.request("hello")
        reply = await host.request("get_shot_log", from_index=1, count=1)
        assert reply.name == "nak" and "the log is empty" in reply["detail"]
        empty = await host.request("get_shot_log", from_index=0, count=1)
        assert (empty.name, empty["oldest_index"], empty["newest_index"], empty["entries"]) == ("shot_log", 0, 0, [])

    sim_run(main)


def test_an_index_older_than_the_window_is_answered_from_the_oldest_shot_held(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        await _fire(host, 8)
        reply = await host.request("get_shot_log", from_index=1, count=3)
        assert (reply["oldest_index"], reply["newest_index"]) == (4, 8)
        assert [e["shot_index"] for e in reply["entries"]] == [4, 5, 6]

    sim_run(main, "shot_log_capacity=5")


def test_the_log_is_read_in_every_state_and_changes_nothing(sim_run: Any) -> None:
    """Allowed in alarm too (a technician reads the log of a stopped gun); a read is never cached."""

    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        await _fire(host, 2)
        sim.device.inject("occlusion", at_s=0.0)
        await asyncio.sleep(0.1)
        assert sim.device.state.json_name == "alarm"
        first = await host.request("get_shot_log", seq=500, from_index=1, count=2)
        again = await host.request("get_shot_log", seq=500, from_index=1, count=2)
        assert first.name == again.name == "shot_log"
        assert sim.device.snapshot().duplicates == 0, "a read is answered afresh, not from the reply cache"
        assert sim.device.state.json_name == "alarm"

    sim_run(main)


def test_the_log_survives_a_brownout_and_a_restart_of_the_simulator(sim_run: Any, tmp_path: Any) -> None:
    nvm = tmp_path / "gun.json"

    async def fire(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        await _fire(host, 3)
        sim.device.brownout()
        reply = await host.request("get_shot_log", from_index=1, count=10)
        assert [e["shot_index"] for e in reply["entries"]] == [1, 2, 3]

    sim_run(fire, f"nvm={nvm}")

    async def read(sim: Any, host: Any) -> None:
        await host.request("hello")
        reply = await host.request("get_shot_log", from_index=1, count=10)
        assert [e["shot_index"] for e in reply["entries"]] == [1, 2, 3]

    sim_run(read, f"nvm={nvm}")


def _shot(index: int) -> LoggedShot:
    return LoggedShot(index, 7, 2000, 10_000, index * 500, delivered_nl=10_000)


def test_a_line_cut_short_by_a_killed_simulator_is_ignored(tmp_path: Any) -> None:
    path = tmp_path / "gun.json.shots.jsonl"
    ring = ShotLogRing(10, path)
    for index in (1, 2, 3):
        ring.append(_shot(index))
    with path.open("a", encoding="utf-8") as f:
        f.write("[4, 7, 20")  # the kill came mid-line
    reopened = ShotLogRing(10, path)
    assert [s.shot_index for s in reopened] == [1, 2, 3]
    reopened.append(_shot(4))
    assert [s.shot_index for s in ShotLogRing(10, path)] == [1, 2, 3, 4]


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 30),
    shots=st.integers(0, 90),
    from_index=st.integers(0, 100),
    count=st.integers(1, SHOT_LOG_PAGE_MAX),
)
def test_a_ring_page_is_the_window_slice_from_the_asked_index(
    capacity: int, shots: int, from_index: int, count: int
) -> None:
    ring = ShotLogRing(capacity)
    for index in range(1, shots + 1):
        ring.append(_shot(index))
    held = list(range(max(1, shots - capacity + 1), shots + 1))
    assert [s.shot_index for s in ring] == held
    assert (ring.oldest_index, ring.newest_index) == ((held[0], held[-1]) if held else (0, 0))
    expected = [i for i in held if i >= from_index][:count]
    assert [s.shot_index for s in ring.page(from_index, count)] == expected


def test_the_file_is_compacted_to_the_ring_when_it_has_grown_to_twice_its_size(tmp_path: Any) -> None:
    path = tmp_path / "log.jsonl"
    ring = ShotLogRing(5, path)
    for index in range(1, 11):
        ring.append(_shot(index))
    assert len(path.read_text().splitlines()) == 5
    assert [s.shot_index for s in ShotLogRing(5, path)] == [6, 7, 8, 9, 10]


def test_every_shot_and_its_log_entry_carry_the_host_id_of_the_session_open_when_it_was_fired(sim_run: Any) -> None:
    """A remote shot carries its sender's hello host_id, a trigger shot the session open then (after another
    host's hello: that one's), so a host tells its own shots from another workstation's."""

    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire(mode="single")
        host.start_heartbeat()
        assert (await host.request("hello", host_id=0xA11CE)).name == "identity"
        await _fire(host, 1)
        assert (await host.request("hello", host_id=0xB0B)).name == "identity"  # another host's session now
        assert sim.device.press_trigger() is None
        await host.wait_for(lambda m: m.name == "shot" and m["source"] is ShotSource.TRIGGER)
        shots = host.events("shot")
        assert [(m["shot_index"], m["host_id"]) for m in shots] == [(1, 0xA11CE), (2, 0xB0B)]
        reply = await host.request("get_shot_log", from_index=1, count=2)
        assert [(e["shot_index"], e["host_id"]) for e in reply["entries"]] == [(1, 0xA11CE), (2, 0xB0B)]

    sim_run(main)


def test_a_shot_log_file_written_before_host_ids_loads_with_host_id_0(tmp_path: Any) -> None:
    path = tmp_path / "shots.jsonl"
    path.write_text("[1, 4, 2000, 10000, 5, 2, 0, 10000]\n", encoding="utf-8")
    assert [shot.host_id for shot in ShotLogRing(path=path)] == [0]


def test_the_lifetime_counter_wraps_at_2_32_and_the_log_pages_across_the_wrap(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        await _fire(host, 4)
        assert [m["shot_index"] for m in host.events("shot")] == [2**32 - 1, 0, 1, 2]
        status = await host.request("get_status")
        assert status["shots_lifetime"] == 2
        across = await host.request("get_shot_log", from_index=2**32 - 1, count=4)
        assert [e["shot_index"] for e in across["entries"]] == [2**32 - 1, 0, 1, 2]
        assert (across["oldest_index"], across["newest_index"]) == (2**32 - 1, 2)
        after = await host.request("get_shot_log", from_index=0, count=4)
        assert [e["shot_index"] for e in after["entries"]] == [0, 1, 2]
        older = await host.request("get_shot_log", from_index=2**32 - 100, count=2)
        assert [e["shot_index"] for e in older["entries"]] == [2**32 - 1, 0], "from the oldest held"
        past = await host.request("get_shot_log", from_index=3, count=1)
        assert past.name == "nak" and past["code"] is NakCode.OUT_OF_RANGE

    sim_run(main, f"lifetime_shots={2**32 - 2}")
