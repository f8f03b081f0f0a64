"""The blocking facade: same methods, each call blocks; events as a blocking iterator; no thread left behind."""

from __future__ import annotations

import threading

import pytest

import mesogun
import mesogun.sync
from mesogun import HostState


def test_sync_flow_blocks_per_call_and_leaves_no_thread() -> None:
    before = threading.active_count()
    with mesogun.sync.connect("sim://?serial=SIM0100") as gun:
        assert gun.info.serial_number == "SIM0100"
        gun.load_syringe(capacity_ml=3)
        gun.prime(volume_ml=0.01)
        assert gun.state is HostState.READY
        applied = gun.configure(depth_mm=2.0, dose_ml=0.005, rate_hz=10, mode="burst")
        assert applied.rate_hz == 10.0
        gun.arm()
        events = gun.events(timeout=5)
        shots = gun.fire(count=10)
        assert [s.index for s in shots] == list(range(1, 11))
        seen = []
        for event in events:
            if isinstance(event, mesogun.ShotEvent):
                seen.append(event.shot.index)
            if len(seen) == 10:
                break
        assert seen == [s.index for s in shots]
        gun.stop()
        gun.disarm()
        assert gun.state is HostState.READY
        with pytest.raises(mesogun.StateError, match="fire needs the gun armed; it is ready"):
            gun.fire(count=1)
        with pytest.raises(mesogun.ParameterError, match="depth_mm=9 is outside"):
            gun.configure(depth_mm=9)
    assert threading.active_count() == before


def test_sync_fire_until_stop_from_another_thread() -> None:
    with mesogun.sync.connect("sim://") as gun:
        gun.load_syringe(capacity_ml=3)
        gun.prime(volume_ml=0.01)
        gun.configure(rate_hz=10, mode="continuous", dose_ml=0.005)
        gun.arm()
        timer = threading.Timer(0.5, gun.stop)
        timer.start()
        shots = gun.fire(count=0)
        timer.join()
        fired = gun.gun.transport.sim.device.shots_session  # type: ignore[attr-defined]
        assert len(shots) == fired > 0  # every shot the device fired before the stop, none lost
        assert [s.index for s in shots] == list(range(1, fired + 1))
        assert gun.state is HostState.ARMED


def test_sync_connect_failure_raises_and_leaves_no_thread() -> None:
    before = threading.active_count()
    with pytest.raises(mesogun.IncompatibleDevice), mesogun.sync.connect("sim://?fingerprint=0x12345678"):
        pass
    assert threading.active_count() == before


def test_sync_events_end_when_the_gun_closes() -> None:
    with mesogun.sync.connect("sim://") as gun:
        events = gun.events(timeout=5)
        first = next(events)
        assert isinstance(first, mesogun.StatusEvent)
    rest = list(events)  # the gun closed: the iterator ends (it neither hangs nor raises)
    assert all(isinstance(e, mesogun.StatusEvent) for e in rest)  # what was queued: statuses, never fired
    assert next(events, None) is None  # and it stays ended
    with pytest.raises(mesogun.ConnectionLost, match="closed"):
        gun.arm()


def test_blocking_view_runs_the_callers_virtual_loop_only_during_calls() -> None:
    """mesogun.sync.blocking on a virtual-time loop: no thread; each call runs the loop until it is done, so a
    20-shot burst at 2 shots/s advances the device's clock (the loop's) by 9.5 s and time stands still between
    calls; once the owner closed the loop, a call says the gun is closed."""
    from sims.clock import new_virtual_loop

    before = threading.active_count()
    loop = new_virtual_loop()
    manager = mesogun.connect("sim://")
    gun = mesogun.sync.blocking(loop.run_until_complete(manager.__aenter__()), loop)
    assert threading.active_count() == before
    gun.load_syringe(capacity_ml=3)
    gun.prime(volume_ml=0.01)
    gun.configure(dose_ml=0.005, rate_hz=2, mode="burst")
    gun.arm()
    device_before, loop_before = gun.refresh_status().device_time, loop.time()
    assert [s.index for s in gun.fire(count=20)] == list(range(1, 21))
    assert gun.refresh_status().device_time - device_before >= 9.5
    assert (paused := loop.time()) - loop_before >= 9.5
    assert loop.time() == paused  # between calls the loop does not run
    statuses = (e for e in gun.events(timeout=5) if isinstance(e, mesogun.StatusEvent))
    assert next(statuses).status.shots_session == 20  # waits in virtual time too
    loop.run_until_complete(manager.__aexit__(None, None, None))
    loop.close()
    with pytest.raises(mesogun.ConnectionLost, match="closed"):
        gun.arm()
