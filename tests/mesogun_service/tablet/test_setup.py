"""The gun picker and the session wizard in a real Chromium against a real ``mesogun serve``: a gun picked, a
patient added, a course opened, a lot entered, the checklist answered and "Start session" landing on the treat
page with the session open; an expired lot refused at its expiry; a form posted twice acting once."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from mesogun.clinic.checklist import DEFAULT_ITEMS
from tests.mesogun_service.tablet.conftest import (
    ASSISTANT,
    ASSISTANT_PIN,
    LANDSCAPE,
    SERIAL,
    TabletService,
    screenshot,
    sign_in,
)

SESSION = f"/tablet/guns/{SERIAL}/session"


def _pick_gun(page: Any) -> None:
    card = page.locator(".gun-card").filter(has_text=SERIAL)
    card.get_by_text("Connected").wait_for()
    assert card.get_by_text("Never calibrated").is_visible()
    card.get_by_role("button", name="Use this gun").click()
    page.wait_for_url(f"**{SESSION}")


def _enter_lot(page: Any, number: str, expiry: date) -> None:
    if not page.locator("#lot-form").is_visible():  # open by itself when no usable lot is on record
        page.get_by_text("Enter a new lot").click()
    page.get_by_label("Product", exact=True).fill("HA cocktail")
    page.get_by_label("Lot number").fill(number)
    page.get_by_label("Expiry date").fill(expiry.isoformat())
    page.get_by_role("button", name="Enter lot").click()


def test_the_wizard_starts_a_session_and_lands_on_the_treat_page(tablet: Any, service: TabletService) -> None:
    sign_in(tablet)
    screenshot(tablet, "guns")
    _pick_gun(tablet)
    assert any(c["name"] == "mesogun_gun" and c["value"] == SERIAL for c in tablet.context.cookies())
    tablet.get_by_text("Add a patient").click()
    tablet.get_by_label("Pseudonym", exact=True).fill("P-WIZ1")
    tablet.get_by_role("button", name="Add patient").click()
    tablet.get_by_text("Open a new course").click()
    tablet.get_by_label("Indication").fill("skin rejuvenation")
    tablet.get_by_label("Sessions planned").fill("4")
    tablet.get_by_label("Interval (days)").fill("14")
    tablet.get_by_role("button", name="Open course").click()
    tablet.get_by_text("✔ skin rejuvenation").wait_for()
    _enter_lot(tablet, "L-OK-1", date.today() + timedelta(days=400))
    tablet.wait_for_url(re.compile(r"lot=\d+"))
    tablet.get_by_label("First zone").select_option("face.forehead")
    tablet.get_by_label("Syringe brand").fill("BD")
    tablet.get_by_label("Syringe size (mL)").fill("5")
    tablet.get_by_label("Needle gauge (G)").fill("32")
    tablet.get_by_label("Needle length (mm)").fill("4")
    tablet.get_by_label("Consent given by").fill("signed form v3")
    first, *others = DEFAULT_ITEMS
    for item in others:  # one left unanswered: refused at it, nothing started
        tablet.get_by_role("group", name=item.question).get_by_label("No").check()
    tablet.get_by_role("button", name="Start session").click()
    tablet.locator(f"[id='e-checklist.{first.id}']").filter(has_text="Answer Yes or No").wait_for()
    assert service.api.get(f"/guns/{SERIAL}/treatment").status_code == 404
    screenshot(tablet, "session-refused")
    tablet.get_by_role("group", name=first.question).get_by_label("No").check()
    tablet.get_by_role("button", name="Start session").click()
    tablet.wait_for_url(f"**/tablet/guns/{SERIAL}/treat")
    treatment = service.ok("GET", f"/guns/{SERIAL}/treatment")
    assert treatment["open"] and treatment["zone"] == "face.forehead" and treatment["syringe_brand"] == "BD"
    tablet.goto(SESSION)  # the wizard again: the session open is offered to continue
    assert tablet.get_by_role("link", name="Continue session").is_visible()


def test_an_expired_lot_is_refused_at_its_expiry_and_an_assistant_may_not_start(
    tablet: Any, service: TabletService
) -> None:
    patient = service.ok("POST", "/patients", json={"pseudonym": "P-EXP"})
    sign_in(tablet, ASSISTANT, ASSISTANT_PIN)
    tablet.goto(f"{SESSION}?patient={patient['id']}")
    _enter_lot(tablet, "L-OLD", date.today() - timedelta(days=3))
    error = tablet.locator("#e-expiry")
    error.filter(has_text="expired on").wait_for()
    assert (date.today() - timedelta(days=3)).isoformat() in error.inner_text()
    assert tablet.get_by_label("Expiry date").get_attribute("aria-invalid") == "true"
    assert service.ok("GET", "/lots") == []
    tablet.set_viewport_size(LANDSCAPE)
    screenshot(tablet, "session-expired-lot-landscape")
    tablet.get_by_role("button", name="Start session").click()  # an assistant: refused, the role said
    tablet.locator("#start-form .form-error").filter(has_text="practitioner role").wait_for()


def test_a_form_posted_twice_acts_once(tablet: Any, service: TabletService) -> None:
    sign_in(tablet)
    tablet.goto(SESSION)
    form_id = tablet.locator("#patient-form input[name=form_id]").get_attribute("value")
    csrf = next(c["value"] for c in tablet.context.cookies() if c["name"] == "mesogun_csrf")
    post = {"form_id": form_id, "pseudonym": "P-TWICE"}
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    first = tablet.request.post(f"{SESSION}/patients", form=post, headers=headers)
    again = tablet.request.post(f"{SESSION}/patients", form=post, headers=headers)
    assert first.status == 200 and "HX-Redirect".lower() in first.headers
    assert again.status == 409 and "already sent" in again.text()
    assert [p["pseudonym"] for p in service.ok("GET", "/patients")] == ["P-TWICE"]
