"""Attended clients: ``POST /guns/{serial}/attendance`` to watch a gun, heartbeats, leaving."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mesogun_service.api.bodies import AttendBody
from mesogun_service.api.deps import Guns, Hosted
from mesogun_service.errors import NotFound

router = APIRouter(tags=["attendance"])


@router.post("/guns/{serial}/attendance")
async def attend(hosted: Hosted, body: AttendBody) -> dict[str, Any]:
    """Watch the gun: while it is armed, the service needs one attending client heard from within the grace."""
    attendance = hosted.attendance
    return {"id": attendance.join(body.client), "grace_s": attendance.grace_s, "heartbeat_s": attendance.heartbeat_s}


def _owner(guns: Guns, attendee_id: str) -> Any:
    for hosted in guns:
        if attendee_id in hosted.attendance:
            return hosted
    raise NotFound(f"no attendance {attendee_id!r} (it left, or was silent longer than the grace period: join again)")


@router.post("/attendance/{attendee_id}/heartbeat")
async def heartbeat(guns: Guns, attendee_id: str) -> dict[str, Any]:
    """Still watching."""
    hosted = _owner(guns, attendee_id)
    hosted.attendance.beat(attendee_id)
    return {"expires_in_s": hosted.attendance.grace_s}


@router.delete("/attendance/{attendee_id}")
async def leave(guns: Guns, attendee_id: str) -> dict[str, Any]:
    """Stop watching (an armed gun nobody watches is disarmed after the grace period)."""
    _owner(guns, attendee_id).attendance.leave(attendee_id)
    return {}
