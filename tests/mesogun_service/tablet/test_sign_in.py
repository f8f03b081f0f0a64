"""Signing in on the tablet with a PIN, in a real Chromium against a real ``mesogun serve``."""

from __future__ import annotations

from typing import Any

from tests.mesogun_service.tablet.conftest import PRACTITIONER, TabletService, screenshot, sign_in


def test_a_page_asks_to_sign_in_first_and_comes_back_after(tablet: Any, service: TabletService) -> None:
    tablet.goto("/")
    assert "/tablet/sign-in" in tablet.url
    screenshot(tablet, "sign-in")
    sign_in(tablet)
    assert tablet.url.endswith("/tablet/guns")
    assert tablet.get_by_role("button", name="Emergency stop").is_visible()
    assert tablet.get_by_text(PRACTITIONER).first.is_visible()


def test_a_wrong_pin_is_said_at_the_pin_field_and_five_lock_the_user_out(tablet: Any, service: TabletService) -> None:
    tablet.goto("/tablet/sign-in")
    tablet.get_by_label("User").fill(PRACTITIONER)
    for attempt in range(5):
        tablet.get_by_label("PIN").fill("0000")
        with tablet.expect_response("**/tablet/sign-in"):
            tablet.get_by_role("button", name="Sign in").click()
        expected = "try again in 5 min" if attempt == 4 else "Wrong user name or PIN"
        tablet.locator("#e-pin").filter(has_text=expected).wait_for()
        assert tablet.get_by_label("PIN").get_attribute("aria-invalid") == "true"
    tablet.get_by_label("PIN").fill("2468")  # the right PIN, but locked out: still refused
    with tablet.expect_response("**/tablet/sign-in"):
        tablet.get_by_role("button", name="Sign in").click()
    tablet.locator("#e-pin").filter(has_text="try again in 5 min").wait_for()
    assert "/tablet/sign-in" in tablet.url
