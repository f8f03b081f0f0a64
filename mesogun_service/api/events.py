"""``GET /guns/{serial}/events``: the live event stream (Server-Sent Events) of one gun, for any number of clients.

Each client has its own bounded buffer: one that reads too slowly (or not at all) loses its oldest events and is
told how many with a ``missed`` event; the gun and the other clients never wait for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from mesogun.json_forms import status_fields
from mesogun_service.api.deps import Hosted

router = APIRouter(tags=["events"])

CLIENT_BUFFER = 256
"""Events a client may fall behind by before it misses some."""


@router.get("/guns/{serial}/events", response_class=EventSourceResponse)
async def events(
    hosted: Hosted, buffer: int = Query(default=CLIENT_BUFFER, ge=1, le=4096, description="events kept for you")
) -> AsyncIterator[ServerSentEvent]:
    """Status, shot, alarm, trigger, connection and fail-safe events as they happen (``missed``: you fell behind)."""
    subscription = hosted.subscribe(buffer)
    try:
        if hosted.connected.is_set() and hosted.last_gun is not None:  # where things stand, before what changes
            yield ServerSentEvent(event="status", data=status_fields(hosted.last_gun.status))
        else:
            yield ServerSentEvent(event="connection", data={"connected": False, "reason": hosted.last_error})
        while True:
            missed = subscription.take_missed()
            if missed:
                yield ServerSentEvent(event="missed", data={"count": missed})
            try:
                kind, data = await subscription.get()
            except StopAsyncIteration:
                return
            yield ServerSentEvent(event=kind, data=data)
    finally:
        subscription.close()
