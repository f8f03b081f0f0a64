"""Fail safe when the operator's view is lost: while a gun is armed (or firing) the service needs a live attended
client; when the last one has been silent for longer than the grace period, the gun is stopped and disarmed,
then the reason is entered in the treatment record (safety first: the record never delays the disarm)."""

from __future__ import annotations

import asyncio
import logging

from mesogun.errors import MesogunError
from mesogun.session.controller import HostState
from mesogun_service.hosted import HostedGun

log = logging.getLogger(__name__)

UNATTENDED = "attended_client_lost"
"""The record note's kind when the service disarmed a gun nobody was watching."""


async def watch_attendance(hosted: HostedGun) -> None:
    """Run for the service's lifetime: make ``hosted`` safe whenever it is armed and unattended too long."""
    period = min(0.25, hosted.attendance.grace_s / 4)
    while True:
        await asyncio.sleep(period)
        try:
            await check_once(hosted)
        except MesogunError as exc:  # the gun went away meanwhile: its own watchdog disarms it
            log.warning("gun %s: fail-safe disarm failed: %s", hosted.url, exc)


async def check_once(hosted: HostedGun) -> bool:
    """Disarm ``hosted`` if it is armed with no attended client for longer than the grace period; True if so."""
    gun = hosted.last_gun
    if gun is None or gun.state not in (HostState.ARMED, HostState.FIRING):
        return False
    silent = hosted.attendance.unattended_for()
    if silent <= hosted.attendance.grace_s:
        return False
    was = gun.state.name.lower()
    await gun.make_safe()
    detail = (
        f"disarmed by the service: no attended client for {silent:.1f} s "
        f"(grace period {hosted.attendance.grace_s:g} s) while the gun was {was}"
    )
    log.warning("gun %s: %s", hosted.url, detail)
    hosted.events.publish(("failsafe", {"action": "disarmed", "reason": detail}))
    try:  # the gun is safe: now every view of it (GET /status, the pages) says so, not the last period's "armed"
        await gun.refresh_status()
    except MesogunError as exc:
        log.warning("gun %s: no status after the fail-safe disarm: %s", hosted.url, exc)
    try:
        await gun.note(UNATTENDED, detail, "the operator's view of the gun was lost")
    except MesogunError as exc:
        log.error("gun %s: the fail-safe disarm could not be entered in the record: %s", hosted.url, exc)
    return True
