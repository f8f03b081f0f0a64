"""The live view in a real Chromium against a real ``mesogun serve``: trigger-fired shots counted on two tablets as
the device counts them, an alarm shown by priority and acknowledged, a lost service said at once."""

from __future__ import annotations

import time
from typing import Any

from tests.mesogun_service.tablet.conftest import (
    LANDSCAPE,
    SERIAL,
    TabletService,
    new_tablet,
    screenshot,
    sign_in,
)

LIVE_VIEW = f"/tablet/guns/{SERIAL}/live-view"


def ready_to_treat(service: TabletService, *, mode: str = "continuous") -> str:
    """Syringe loaded, primed, set, attended and armed through the API; the attendance id (keep it beating)."""
    service.ok("POST", f"/guns/{SERIAL}/syringe", json={"capacity_ml": 10})
    service.ok("POST", f"/guns/{SERIAL}/prime", json={"volume_ml": 0.05})
    service.ok("POST", f"/guns/{SERIAL}/configure", json={"rate_hz": 10.0, "mode": mode, "dose_ml": 0.001})
    attendance: str = service.ok("POST", f"/guns/{SERIAL}/attendance", json={"client": "test"})["id"]
    assert service.ok("POST", f"/guns/{SERIAL}/arm")["state"] == "armed"
    return attendance


def fire_with_trigger(service: TabletService, attendance: str, shots: int) -> None:
    """Hold the handpiece trigger (continuous mode) until the device has fired at least ``shots`` more shots."""
    start = service.device()["shots_session"]
    service.control("press", source="trigger")
    deadline = time.monotonic() + 20
    while service.device()["shots_session"] < start + shots and time.monotonic() < deadline:
        service.ok("POST", f"/attendance/{attendance}/heartbeat")
        time.sleep(0.1)
    service.control("release")


def reading(page: Any, label: str) -> str:
    """A live value by its label (the reading macro's output is a status named by its label)."""
    text: str = page.get_by_role("status", name=label, exact=True).inner_text()
    return text


def wait_for_shots(page: Any, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelector('#counters .counters')?.dataset.shots === String(n)", arg=count, timeout=3000
    )


def live_tablet(browser: Any, service: TabletService, **options: Any) -> Any:
    page = new_tablet(browser, service, **options)
    sign_in(page)
    page.goto(LIVE_VIEW)
    page.locator("#gun-state .state").wait_for()
    return page


def test_trigger_shots_count_on_two_tablets_as_the_device_counts_them(browser: Any, service: TabletService) -> None:
    first = live_tablet(browser, service)
    second = live_tablet(browser, service, viewport=LANDSCAPE)
    try:
        attendance = ready_to_treat(service)
        first.get_by_text("Armed").first.wait_for()
        fire_with_trigger(service, attendance, 8)
        time.sleep(0.3)  # the last shots of the stroke in progress when the trigger was let go
        device = service.device()
        for page in (first, second):
            wait_for_shots(page, device["shots_session"])
            assert int(reading(page, "Shots")) == device["shots_session"]
            reservoir = reading(page, "Reservoir (mL)")
            assert float(reservoir) == round(device["reservoir_nl"] / 1e6, 2)
            assert float(reading(page, "Volume (mL)")) > 0
        screenshot(first, "live-view-portrait")
        screenshot(second, "live-view-landscape")
    finally:
        first.context.close()
        second.context.close()


def test_an_alarm_mid_series_shows_at_once_high_priority_and_acknowledge_stops_the_flashing(
    browser: Any, service: TabletService
) -> None:
    page = live_tablet(browser, service)
    try:
        attendance = ready_to_treat(service)
        service.control("press", source="trigger")
        deadline = time.monotonic() + 10
        while service.device()["state"] != "firing" and time.monotonic() < deadline:
            time.sleep(0.05)
        service.ok("POST", f"/attendance/{attendance}/heartbeat")
        service.control("fault", name="occlusion")
        alarm = page.locator("#alarms .alarm.high[data-alarm=occlusion]")
        alarm.wait_for(timeout=1000)  # within one second
        assert "High priority" in alarm.inner_text() and "!!!" in alarm.inner_text()
        assert "blocked" in alarm.inner_text()  # the cause, and what to do
        assert alarm.evaluate("e => getComputedStyle(e).animationName") == "alarm-flash"
        device = service.device()
        assert device["state"] == "alarm" and "occlusion" in device["active_alarms"]
        fired = device["shots_session"]
        time.sleep(0.3)
        assert service.device()["shots_session"] == fired  # firing stopped
        screenshot(page, "live-view-alarm")
        page.get_by_role("button", name="Acknowledge").click()
        page.locator("#alarms .alarm.high.acknowledged").wait_for()
        assert alarm.evaluate("e => getComputedStyle(e).animationName") == "none"
        assert page.get_by_text("Acknowledged by alice").is_visible()  # stays until cleared
        assert page.get_by_role("button", name="Acknowledge").count() == 0
        service.control("release")
        page.get_by_role("button", name="Clear alarm").click()  # the occlusion dealt with: cleared from the page
        alarm.wait_for(state="detached")
        assert "occlusion" not in service.device()["active_alarms"]
    finally:
        page.context.close()


def test_a_tablet_says_at_once_that_the_service_is_gone(browser: Any, service: TabletService) -> None:
    page = live_tablet(browser, service)
    try:
        banner = page.get_by_text("Connection to the gun service lost")
        time.sleep(3.5)  # pings keep it hidden while the service answers
        assert not banner.is_visible()
        service.process.kill()
        banner.wait_for(state="visible", timeout=3000)
        screenshot(page, "live-view-connection-lost")
    finally:
        page.context.close()
