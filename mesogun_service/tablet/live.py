"""``GET /tablet/live``: each page's one live stream (Server-Sent Events read by htmx's SSE extension). It sends a
``ping`` every second, so a page that hears nothing for a few seconds says at once that its connection to the
service is lost; with a gun and a signed-in user, the gun's live fragments (:mod:`.feed` renders them) too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

router = APIRouter(prefix="/tablet", include_in_schema=False)

PING_INTERVAL_S = 1.0
"""Between two pings: a page that misses three says its connection is lost (``tablet.js``)."""


@router.get("/live", response_class=EventSourceResponse)
async def live(
    request: Request, gun: str = Query(default="", max_length=128, description="the gun's serial number")
) -> AsyncIterator[ServerSentEvent]:
    """Pings every second (the gun's fragments: to come, :mod:`.feed`)."""
    yield ServerSentEvent(event="ping", raw_data="", retry=1000)
    while True:
        await asyncio.sleep(PING_INTERVAL_S)
        if await request.is_disconnected():
            return
        yield ServerSentEvent(event="ping", raw_data="")
