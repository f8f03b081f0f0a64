"""Trigger-fired shots cannot be refused in advance: this watcher follows a gun's shots and, once the next shot
would take the treatment session's zone past its preset's volume per zone, stops and disarms the gun (making it
safe is always allowed), then enters why in the session's notes and says so on the event stream (``soft_limit``).
Arming again in that zone then needs an override with a reason (:meth:`SoftLimits.check_arm
<mesogun_service.soft_limits.SoftLimits.check_arm>`).

It only reads the gun's events (never holding them up) and sends nothing but the safe commands, so it never delays
a stop, an emergency stop or a disarm; the record is written after the gun is safe.
"""

from __future__ import annotations

import logging
from typing import Any

from mesogun.clinic.actors import Actor
from mesogun.errors import MesogunError
from mesogun.record.treatment import TreatmentBook
from mesogun_service.hosted import HostedGun
from mesogun_service.soft_limits import ARMED_STATES, SoftLimits, ZoneState

log = logging.getLogger(__name__)

SERVICE_ACTOR = Actor.of("mesogun serve")
"""Who the record names for what the service did by itself."""

EVENT_BUFFER = 1024
"""Events the watcher may fall behind by; missing some, it reads the zone's volume from the record again."""


async def watch_zone_volume(hosted: HostedGun, soft: SoftLimits) -> None:
    """Run for the service's lifetime (until the gun's event stream ends): stop ``hosted`` at its zone's limit."""
    events = hosted.subscribe(EVENT_BUFFER)
    try:
        async for kind, data in events:
            if events.take_missed() or kind == "connection":
                soft.forget()
            try:
                await on_event(hosted, soft, kind, data)
            except MesogunError as exc:  # the record or the gun went away meanwhile: its watchdog disarms it
                log.warning("gun %s: the zone-limit watcher failed: %s", hosted.url, exc)
    finally:
        events.close()


async def on_event(hosted: HostedGun, soft: SoftLimits, kind: str, data: dict[str, Any]) -> bool:
    """Follow one event: a shot counts into the session's zone; after a trigger or pedal shot, or with the gun
    armed and not firing (a remote fire filled the zone), make the gun safe if the next shot would pass the zone's
    limit and no override holds. True if it did."""
    if kind == "status":
        if data.get("state") != "armed" or soft.stale:
            return False
        state = soft.state
    elif kind == "shot":
        counted = not soft.stale
        state = await soft.current()  # read from the record when stale: this shot is in it already
        if state is not None and counted:
            state.delivered_ml += float(data.get("delivered_ml", data.get("dose_ml", 0.0)))
        if data.get("source") == "remote":
            return False  # a remote fire was checked before it was sent (refused, or overridden)
    else:
        return False
    gun = hosted.last_gun
    if state is None or state.overridden or state.stopped or gun is None or gun.state.value not in ARMED_STATES:
        return False
    found = state.next_shot_breaches(gun.status.settings.dose_ml)
    if not found:
        return False
    state.stopped = True
    await hosted.make_safe()
    await _tell(hosted, soft, state, found[0].message, found[0].limit)
    return True


async def _tell(hosted: HostedGun, soft: SoftLimits, state: ZoneState, breach: str, limit: str) -> None:
    """The event stream first (at once), then the record (a worker thread)."""
    detail = (
        f"stopped and disarmed by the service at the zone's soft limit: {breach}; arming again in zone "
        f"{state.zone} needs an override with a reason"
    )
    log.warning("gun %s: %s", hosted.url, detail)
    hosted.events.publish(
        (
            "soft_limit",
            {
                "action": "disarmed",
                "limit": limit,
                "zone": state.zone,
                "volume_ml": round(state.delivered_ml, 6),
                "visit": state.visit_id,
                "reason": detail,
            },
        )
    )
    visit = state.visit_id
    try:
        await soft.record.call(lambda r: TreatmentBook(r).note(visit, detail, actor=SERVICE_ACTOR))
    except MesogunError as exc:
        log.error("gun %s: the zone-limit stop could not be entered in the record: %s", hosted.url, exc)
