"""The treatment page in a real Chromium against a real ``mesogun serve`` on a simulator: a session opened with the
API first, then loading, priming and the settings (a hard limit refused at the field, a soft limit asking for a
reason), the zone map, arming (the trigger then fires), the disarm asked during a series, and a stale page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.mesogun_service.tablet.conftest import (
    LANDSCAPE,
    SERIAL,
    TabletService,
    new_tablet,
    open_session,
    screenshot,
    sign_in,
)

TREAT = f"/tablet/guns/{SERIAL}/treat"


def ready_gun(service: TabletService) -> None:
    """The gun loaded and primed through the API (ready to arm)."""
    service.ok("POST", f"/guns/{SERIAL}/syringe", json={"capacity_ml": 5.0})
    service.ok("POST", f"/guns/{SERIAL}/prime", json={"volume_ml": 0.1})


def state(page: Any) -> str:
    return str(page.locator("#gun-state .state").inner_text())


def submit(page: Any, name: str, path: str) -> None:
    """Press the button ``name`` and wait for the reply of ``path``."""
    with page.expect_response(lambda reply: reply.url.endswith(path) and reply.request.method == "POST"):
        page.get_by_role("button", name=name, exact=True).click()


def test_load_prime_and_settings_within_the_hard_and_soft_limits(tablet: Any, service: TabletService) -> None:
    open_session(service)
    sign_in(tablet)
    tablet.goto(TREAT)
    assert state(tablet) == "idle"
    screenshot(tablet, "treat-portrait-idle")

    tablet.get_by_label("Syringe (mL)").select_option("5")
    submit(tablet, "Load syringe", "/treat/syringe")
    tablet.get_by_text("Syringe loaded: 5.0 mL").wait_for()
    assert service.device()["syringe_brand"] == "BD"  # the session's brand, declared with the load

    tablet.get_by_label("Prime volume (mL)").fill("0.1")
    with tablet.expect_navigation():  # primed, the gun is ready: the page is drawn again for its new state
        submit(tablet, "Prime", "/treat/prime")
    tablet.locator("#gun-state .state.ready").wait_for()

    depth = tablet.get_by_label("Depth (mm)", exact=True)
    limits = [depth.get_attribute(name) for name in ("min", "max", "step")]
    assert limits == ["1.0", "4.0", "0.1"]
    before = service.device()
    depth.fill("9")
    tablet.get_by_label("Dose (mL)", exact=True).fill("0.02")
    tablet.get_by_label("Rate (shots/s)", exact=True).fill("5")
    tablet.get_by_label("Mode", exact=True).select_option("burst")
    submit(tablet, "Apply settings", "/treat/settings")
    error = tablet.locator("#e-depth_mm")
    assert "outside the device's range 1.0–4.0 mm" in error.inner_text()
    assert tablet.get_by_label("Depth (mm)", exact=True).get_attribute("aria-invalid") == "true"
    after = service.device()
    assert (after["depth_um"], after["dose_nl"], after["rate_mhz"]) == (
        before["depth_um"],
        before["dose_nl"],
        before["rate_mhz"],
    )  # nothing sent

    tablet.get_by_label("Depth (mm)", exact=True).fill("3.0")  # past the session preset's soft limit, 2.0 mm
    submit(tablet, "Apply settings", "/treat/settings")
    reason = tablet.get_by_label("Reason")
    reason.wait_for()
    assert "soft limit of 2 mm" in tablet.locator("#h-override_reason").inner_text()
    assert service.device()["depth_um"] == before["depth_um"]
    screenshot(tablet, "treat-portrait-soft-limit")
    reason.fill("thick skin on the forehead")
    submit(tablet, "Apply settings", "/treat/settings")
    tablet.get_by_text("Settings applied").wait_for()
    device = service.device()
    assert (device["depth_um"], device["dose_nl"], device["rate_mhz"]) == (3000, 20_000, 5000)


def test_zone_arm_fire_and_a_disarm_during_the_series_asks_first(tablet: Any, service: TabletService) -> None:
    visit = open_session(service)
    ready_gun(service)
    sign_in(tablet)
    tablet.goto(TREAT)

    chin = tablet.get_by_role("button", name="Chin", exact=True)
    assert chin.bounding_box()["height"] >= 48
    submit(tablet, "Chin", "/treat/zone")
    tablet.locator("button.zone[aria-pressed=true]", has_text="Chin").wait_for()
    assert service.ok("GET", f"/treatments/{visit}")["zone"] == "face.chin"

    submit(tablet, "Arm", "/treat/arm")
    tablet.get_by_role("button", name="Disarm").wait_for()
    assert tablet.locator("body").get_attribute("data-attendance")
    assert service.device()["state"] == "armed"
    shots = service.device()["shots_session"]
    for _ in range(2):
        service.control("press", source="trigger")  # single mode: one shot a press
        tablet.wait_for_timeout(200)
        service.control("release")
    assert service.device()["shots_session"] == shots + 2
    screenshot(tablet, "treat-portrait-armed")

    tablet.get_by_role("button", name="Disarm").click()  # the page was drawn before the shots: it asks now
    dialog = tablet.locator("dialog#confirm")
    dialog.wait_for()
    assert "series" in tablet.locator("#confirm-question").inner_text()
    assert service.device()["state"] == "armed"  # nothing done before the answer
    with tablet.expect_response(lambda reply: reply.url.endswith("/treat/disarm")):
        dialog.get_by_role("button", name="Confirm").click()
    tablet.get_by_role("button", name="Arm", exact=True).wait_for()
    assert service.device()["state"] == "ready"
    assert tablet.get_by_role("link", name="Finish").get_attribute("href") == f"/tablet/treatments/{visit}/close"


def test_a_stale_page_is_told_and_nothing_is_done_twice(tablet: Any, service: TabletService) -> None:
    open_session(service)
    ready_gun(service)
    sign_in(tablet)
    tablet.route(re.compile(r".*/tablet/live.*"), lambda route: route.abort())  # a page that hears no updates
    tablet.goto(TREAT)
    assert state(tablet) == "ready"

    service.ok("POST", f"/guns/{SERIAL}/attendance", json={"client": "another tablet"})
    service.ok("POST", f"/guns/{SERIAL}/arm")
    arms = service.device()["executed"].get("arm", 0)
    attended = service.ok("GET", "/guns")[0]["attended_by"]

    submit(tablet, "Arm", "/treat/arm")
    tablet.get_by_text("The gun is now armed: this page was out of date. Nothing was done.").wait_for()
    tablet.get_by_role("button", name="Disarm").wait_for()  # the refreshed controls
    assert service.device()["executed"].get("arm", 0) == arms
    assert service.ok("GET", "/guns")[0]["attended_by"] == attended


@pytest.mark.parametrize("language", ["fr"])
def test_landscape_two_columns(browser: Any, service: TabletService, language: str) -> None:
    open_session(service)
    page = new_tablet(browser, service, viewport=LANDSCAPE, language=language)
    try:
        sign_in(page)
        page.goto(TREAT)
        columns = page.locator(".treat .column")
        left, right = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
        assert left["x"] + left["width"] <= right["x"]  # side by side
        screenshot(page, f"treat-landscape-{language}")
    finally:
        page.context.close()


def test_a_disarm_confirmed_while_the_gun_fires_disarms_it(tablet: Any, service: TabletService) -> None:
    open_session(service)
    ready_gun(service)
    service.ok("POST", f"/guns/{SERIAL}/configure", json={"mode": "single", "rate_hz": 10.0, "dose_ml": 0.001})
    sign_in(tablet)
    tablet.goto(TREAT)
    submit(tablet, "Arm", "/treat/arm")
    tablet.get_by_role("button", name="Disarm").wait_for()
    service.control("hold", ms=50, source="trigger")
    tablet.wait_for_function("document.querySelector('#live-shots').textContent.trim() !== '0'")
    tablet.get_by_role("button", name="Disarm").click()
    dialog = tablet.locator("dialog#confirm")
    dialog.wait_for()
    for _ in range(4):  # the series goes on under the question: the gun goes armed → firing → armed each shot
        service.control("hold", ms=50, source="trigger")
        tablet.wait_for_timeout(250)
    assert service.device()["state"] in ("armed", "firing")
    with tablet.expect_response(lambda reply: reply.url.endswith("/treat/disarm")):
        dialog.get_by_role("button", name="Confirm").click()
    tablet.get_by_role("button", name="Arm", exact=True).wait_for()
    assert service.device()["state"] == "ready"
