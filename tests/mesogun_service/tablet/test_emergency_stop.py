"""The Emergency stop on the tablet: on every page, one touch, no confirmation, no sign-in needed; the *device*
stops firing and latches its emergency stop."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import httpx

from tests.mesogun_service.tablet.conftest import SERIAL, TabletService, open_session, sign_in

GUN = f"/guns/{SERIAL}"


def _firing(service: TabletService) -> threading.Thread:
    """The gun loaded, primed, attended, armed and firing until stopped (a remote burst, count 0)."""
    service.ok("POST", f"{GUN}/syringe", json={"capacity_ml": 10})
    service.ok("POST", f"{GUN}/prime", json={"volume_ml": 0.05})
    service.ok("POST", f"{GUN}/configure", json={"rate_hz": 10.0, "mode": "continuous", "dose_ml": 0.001})
    service.ok("POST", f"{GUN}/attendance", json={"client": "test"})
    service.ok("POST", f"{GUN}/arm")

    def fire() -> None:
        with contextlib.suppress(httpx.HTTPError):
            service.api.post(f"{GUN}/fire", json={"count": 0}, timeout=30)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while service.device()["state"] != "firing":
        assert time.monotonic() < deadline, "the gun never started firing"
        time.sleep(0.05)
    return thread


def test_the_emergency_stop_on_the_sign_in_page_stops_the_firing_gun(tablet: Any, service: TabletService) -> None:
    tablet.goto("/tablet/sign-in")  # nobody signed in: the stop still works, for every gun of the service
    firing = _firing(service)
    tablet.get_by_role("button", name="Emergency stop").click()  # one touch: no dialog, nothing to confirm
    tablet.get_by_role("status").filter(has_text="Emergency stop sent").wait_for()
    device = service.device()
    assert device["state"] not in ("firing", "armed")
    assert "emergency_stop" in device["active_alarms"]
    shots = device["shots_lifetime"]
    time.sleep(0.3)
    assert service.device()["shots_lifetime"] == shots  # nothing fired after the stop
    firing.join(timeout=10)


def test_the_emergency_stop_is_on_every_page_and_always_in_view(tablet: Any, service: TabletService) -> None:
    sign_in(tablet)
    for path in ("/tablet/guns", "/tablet/sign-in"):
        tablet.goto(path)
        button = tablet.get_by_role("button", name="Emergency stop")
        assert button.is_visible()
        box = button.bounding_box()
        assert box is not None and box["height"] >= 48 and box["width"] >= 48
        tablet.mouse.wheel(0, 4000)  # scrolled to the end of a long page: still in view (docked)
        viewport = tablet.viewport_size
        box = button.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


def test_the_emergency_stop_stays_one_touch_away_while_a_confirmation_is_asked(
    tablet: Any, service: TabletService
) -> None:
    visit = open_session(service)
    sign_in(tablet)
    tablet.goto(f"/tablet/treatments/{visit}/close")
    tablet.get_by_label("Reason").fill("opened for the wrong patient")
    tablet.get_by_role("button", name="Discard session").click()
    tablet.get_by_role("dialog").wait_for()  # a confirmation is asked: the rest of the page is dimmed...
    tablet.get_by_role("button", name="Emergency stop").click(timeout=2000)  # ...but the stop is not covered
    tablet.get_by_role("status").filter(has_text="Emergency stop sent").wait_for()
    assert "emergency_stop" in service.device()["active_alarms"]
    assert service.ok("GET", f"/treatments/{visit}").get("void") is None  # the question was not answered for it


def test_the_emergency_stop_works_without_the_pages_script(browser: Any, service: TabletService) -> None:
    """Before tablet.js has loaded (or if it failed), the stop is a plain form: it stops the gun and says so."""
    context = browser.new_context(java_script_enabled=False, base_url=service.url)
    try:
        page = context.new_page()
        page.goto("/tablet/sign-in")
        _firing(service)
        page.get_by_role("button", name="Emergency stop").click()
        page.get_by_role("heading", name="Emergency stop sent").wait_for()
        assert SERIAL in page.get_by_role("alert").inner_text()
        assert "emergency_stop" in service.device()["active_alarms"]
    finally:
        context.close()
