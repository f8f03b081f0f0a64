"""Arm, fire and disarm in one go, with live progress: the CLI never leaves a gun armed behind it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from mesogun.cli.session import CliGun
from mesogun.errors import DeviceAlarm
from mesogun.models import AlarmEvent, FiredShots, ShotEvent, ShotRecord

ShotCallback = Callable[[ShotRecord], None]
AlarmCallback = Callable[[AlarmEvent], None]


async def arm_fire_disarm(
    gun: CliGun,
    count: int,
    on_shot: ShotCallback,
    on_alarm: AlarmCallback | None = None,
    stop_request: asyncio.Event | None = None,
    on_ack: Callable[[int], None] | None = None,
) -> FiredShots:
    """Arm, fire ``count`` shots (0: until ``stop_request`` is set, then stop), disarm; report each shot.

    ``on_ack`` gets the count the device acknowledged (what the progress counts to) as soon as firing started.

    If anything fails the gun is still stopped and disarmed (by :meth:`Gun.close`) before the error
    reaches the caller.
    """
    events = gun.events()
    reported: set[int] = set()

    def report(shot: ShotRecord) -> None:
        if shot.index not in reported:
            reported.add(shot.index)
            on_shot(shot)

    async def watch() -> None:
        async for event in events:
            if isinstance(event, ShotEvent):
                report(event.shot)
            elif isinstance(event, AlarmEvent) and event.raised and on_alarm is not None:
                on_alarm(event)

    watcher = asyncio.create_task(watch())
    firing: asyncio.Task[FiredShots] | None = None
    try:
        await gun.arm()
        firing = asyncio.create_task(gun.fire(count, on_ack=on_ack))
        if count == 0:
            if stop_request is None:
                raise ValueError("count=0 needs a stop_request event to know when to stop")
            stopper = asyncio.create_task(stop_request.wait())
            await asyncio.wait({firing, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not firing.done():
                await gun.stop()
            stopper.cancel()
        try:
            shots = await firing
        except DeviceAlarm as alarm:  # its shots include those read back from the device's log: report them too
            for shot in alarm.shots:
                report(shot)
            raise
        for shot in shots:  # the burst's own list is authoritative: report any the watcher has not seen yet
            report(shot)
        await gun.disarm()
        return shots
    finally:
        if firing is not None and not firing.done():
            firing.cancel()  # interrupted: closing the gun (stop, disarm) follows; nobody waits for these shots
        events.close()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
