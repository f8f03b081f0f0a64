"""``GET /tablet/live``: each page's one live stream (Server-Sent Events read by htmx's SSE extension). It sends a
``ping`` every second, so a page that hears nothing for a few seconds says at once that its connection to the
service is lost; with a gun and a signed-in user, the gun's live fragments too, in the tablet's language, each
when it changes: ``counters`` (``_counters.html``), ``alarms`` (``_alarms.html``), ``gun-state``
(``_gun_state.html``) and ``connection`` (``_connection.html``: the service lost the gun, or has it again).

Also the Acknowledge of an alarm (``POST /tablet/guns/{serial}/alarms/{code}/acknowledge``) and the read-only
``/tablet/guns/{serial}/live-view`` page (the counters, the gun's state and the alarms: a second tablet, the
assistant's screen)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from markupsafe import escape
from starlette.responses import HTMLResponse, Response

from mesogun.errors import MesogunError
from mesogun_service.accounts import Role
from mesogun_service.api import guns
from mesogun_service.registry import GunRegistry
from mesogun_service.tablet.alarms import alarm_code
from mesogun_service.tablet.feed import LiveSnapshot, TabletFeed, feed_for
from mesogun_service.tablet.i18n import N_, gettext, language_of
from mesogun_service.tablet.page import SignInRequired, layout, page_user
from mesogun_service.tablet.refusals import say
from mesogun_service.tablet.templating import NO_STORE, environment, render

router = APIRouter(prefix="/tablet", include_in_schema=False)

PING_INTERVAL_S = 1.0
"""Between two pings: a page that misses three says its connection is lost (``tablet.js``)."""

FRAGMENTS = (
    ("counters", "_counters.html"),
    ("alarms", "_alarms.html"),
    ("gun-state", "_gun_state.html"),
    ("connection", "_connection.html"),
)
"""Each live event and the template that renders its HTML from a :class:`LiveSnapshot`."""


@functools.lru_cache(maxsize=512)
def fragment(template: str, language: str, snapshot: LiveSnapshot) -> str:
    """``template`` rendered for ``snapshot`` in ``language``: once per snapshot and language, however many
    tablets show it."""
    context = {"live": snapshot, "alarms": snapshot.alarms, "serial": snapshot.serial}
    return environment(language).get_template(template).render(context)


async def _feed(request: Request, gun: str) -> TabletFeed | None:
    """The feed of the gun a signed-in page names (``None``: no gun named, none such, or nobody signed in)."""
    if not gun:
        return None
    try:
        await page_user(request)
        hosted = _registry(request).get(gun)
    except (SignInRequired, MesogunError):
        return None
    return feed_for(request.app, hosted)


def _registry(request: Request) -> GunRegistry:
    registry: GunRegistry = request.app.state.registry
    return registry


@router.get("/live", response_class=EventSourceResponse)
async def live(
    request: Request, gun: str = Query(default="", max_length=128, description="the gun's serial number")
) -> AsyncIterator[ServerSentEvent]:
    """Pings every second; the gun's fragments, each when it changes (all of them first)."""
    yield ServerSentEvent(event="ping", raw_data="", retry=1000)
    feed = await _feed(request, gun)
    if feed is None:
        while True:
            await asyncio.sleep(PING_INTERVAL_S)
            if await request.is_disconnected():
                return
            yield ServerSentEvent(event="ping", raw_data="")
    language = language_of(request)
    subscription = feed.subscribe()
    sent: dict[str, str] = {}
    snapshot: LiveSnapshot | None = feed.snapshot()
    loop = asyncio.get_running_loop()
    next_ping = loop.time() + PING_INTERVAL_S
    try:
        while True:
            if snapshot is not None:
                for event, template in FRAGMENTS:
                    html = fragment(template, language, snapshot)
                    if sent.get(event) != html:
                        sent[event] = html
                        yield ServerSentEvent(event=event, raw_data=_one_line(html))
            try:
                snapshot = await asyncio.wait_for(subscription.get(), max(0.0, next_ping - loop.time()))
            except TimeoutError:
                snapshot = None
            except StopAsyncIteration:
                return
            if loop.time() >= next_ping:
                if await request.is_disconnected():
                    return
                next_ping = loop.time() + PING_INTERVAL_S
                yield ServerSentEvent(event="ping", raw_data="")
    finally:
        subscription.close()


def _one_line(html: str) -> str:
    """HTML as one SSE data line (the fragments' own line breaks are layout only)."""
    return " ".join(line.strip() for line in html.splitlines() if line.strip())


@router.post("/guns/{serial}/alarms/{code}/acknowledge")
async def acknowledge(request: Request, serial: str, code: str) -> Response:
    """A user acknowledged an active alarm: it stops flashing on every tablet and stays until the gun clears it;
    the alarms fragment comes back (an alarm already gone: the board as it is, said at the top)."""
    who = await page_user(request)
    feed = feed_for(request.app, _registry(request).get(serial))
    found = alarm_code(code)
    done = found is not None and feed.acknowledge(found, who.user)
    snapshot = feed.snapshot()
    html = fragment("_alarms.html", language_of(request), snapshot)
    if not done:
        note = gettext(language_of(request), N_("This alarm is no longer active: nothing to acknowledge."))
        html = f'<p class="form-error" role="alert">{escape(note)}</p>' + html
    return HTMLResponse(html, status_code=200 if done else 409, headers=NO_STORE)


@router.get("/guns/{serial}/live-view")
async def live_view(request: Request, serial: str) -> Response:
    """The gun's live values, state and alarms, read-only (a second tablet, the assistant's screen)."""
    who = await page_user(request)
    feed = feed_for(request.app, _registry(request).get(serial))
    await feed.refresh()
    snapshot = feed.snapshot()
    context: dict[str, Any] = layout(request, who, gun=serial, live=snapshot, alarms=snapshot.alarms, serial=serial)
    return render(request, "live_view.html", context)


@router.post("/guns/{serial}/alarms/clear")
async def clear(request: Request, serial: str) -> Response:
    """ "Clear alarm": once its cause is dealt with, the gun's latched alarms (an emergency stop too) are cleared
    through the API's own handler; one whose cause is still there stays, and the device's refusal is said."""
    await page_user(request, Role.PRACTITIONER)
    hosted = _registry(request).get(serial)
    feed = feed_for(request.app, hosted)
    language = language_of(request)
    problem: str | None = None
    try:
        await guns.clear(hosted)
    except MesogunError as exc:
        problem = gettext(language, N_("The alarm could not be cleared: {why}")).format(why=say(exc, language))
    await feed.refresh()
    snapshot = feed.snapshot()
    if problem is None and snapshot.alarms:
        problem = gettext(language, N_("The gun still reports an alarm: deal with its cause, then clear it again."))
    html = fragment("_alarms.html", language, snapshot)
    if problem is not None:
        html = f'<p class="form-error" role="alert">{escape(problem)}</p>' + html
    return HTMLResponse(html, status_code=200 if problem is None else 409, headers=NO_STORE)
