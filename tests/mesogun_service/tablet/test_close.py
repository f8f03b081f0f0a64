"""Closing a treatment session on the tablet, in a real Chromium against a real ``mesogun serve``: the summary shows
what the device fired, an adverse event entered appears in it, "Close session" signs it off (refused while the gun
is armed, and for an assistant), the aftercare sheet and its PDF, "Discard session" confirmed and voided with its
reason, and a form posted twice acting once."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from tests.mesogun_service.tablet.conftest import (
    ASSISTANT,
    ASSISTANT_PIN,
    LANDSCAPE,
    PRACTITIONER,
    SERIAL,
    Spares,
    TabletService,
    new_tablet,
    open_session,
    screenshot,
    sign_in,
)

GUN = f"/guns/{SERIAL}"


@pytest.fixture
def service(spares: Spares) -> Iterator[TabletService]:
    """The service with a long attendance grace: a gun armed through the API stays armed while the page acts."""
    running = spares.take("--grace", "120")
    try:
        yield running
    finally:
        spares.give_back(running)


def arm(service: TabletService) -> None:
    """Syringe loaded, line primed, burst mode at 10 shots/s, attended and armed through the API."""
    service.ok("POST", f"{GUN}/syringe", json={"capacity_ml": 5})
    service.ok("POST", f"{GUN}/prime", json={"volume_ml": 0.05})
    service.ok("POST", f"{GUN}/configure", json={"rate_hz": 10.0, "mode": "burst"})
    service.ok("POST", f"{GUN}/attendance", json={"client": "test"})
    service.ok("POST", f"{GUN}/arm")


def test_the_summary_shows_the_shots_and_close_session_signs_off_once_the_gun_is_safe(
    tablet: Any, service: TabletService
) -> None:
    visit = open_session(service, preset="face")
    arm(service)
    fired = service.ok("POST", f"{GUN}/fire", json={"count": 3})
    volume = sum(shot["delivered_ml"] or shot["dose_ml"] for shot in fired["shots"])
    shots = service.device()["shots_session"]
    assert fired["fired"] == 3 and shots == 3

    sign_in(tablet)
    tablet.goto(f"/tablet/treatments/{visit}/close")
    assert tablet.get_by_role("status", name="Shots").inner_text() == str(shots)
    assert tablet.get_by_role("status", name="Volume (mL)").inner_text() == f"{volume:.3f}"
    assert tablet.locator("#summary-zones").get_by_text("Forehead").is_visible()
    assert tablet.get_by_text("signed form v3").is_visible()

    tablet.get_by_label("Kind").fill("bruising")
    tablet.get_by_label("Severity").select_option("moderate")
    tablet.get_by_label("Detail").fill("small, above the left brow")
    tablet.get_by_role("button", name="Enter adverse event").click()
    adverse = tablet.locator("#summary-adverse")
    adverse.get_by_text("small, above the left brow").wait_for()
    assert adverse.get_by_text("moderate").is_visible()
    assert tablet.get_by_label("Kind").input_value() == ""  # the form emptied for the next one

    # the gun is still armed: Close session is refused, saying so, and nothing is signed
    tablet.get_by_role("button", name="Close session").click()
    tablet.locator("#close-form .form-error").filter(has_text="Disarm the gun first").wait_for()
    assert service.ok("GET", f"/treatments/{visit}")["signoff"] is None
    screenshot(tablet, "close-portrait")

    service.ok("POST", f"{GUN}/disarm")
    tablet.get_by_role("button", name="Remove line 6").click()  # the sixth standard line taken off
    tablet.get_by_label("Aftercare line 6").wait_for(state="detached")
    tablet.get_by_role("button", name="Add line").click()
    added = tablet.get_by_label("Aftercare line 6")
    added.fill("Come back if the bruise has not faded in a week.")
    tablet.get_by_role("button", name="Close session").click()
    tablet.wait_for_url(f"**/tablet/treatments/{visit}/aftercare")
    screenshot(tablet, "aftercare-portrait")

    signed = service.ok("GET", f"/treatments/{visit}")
    assert signed["signoff"]["by"] == PRACTITIONER and not signed["open"]
    sheet = tablet.locator("#aftercare-sheet")
    assert sheet.get_by_text("Come back if the bruise has not faded in a week.").is_visible()
    assert sheet.get_by_text("SPF 30").is_visible()
    assert sheet.get_by_text("Postpone other cosmetic procedures").count() == 0
    assert tablet.get_by_role("button", name="Print").is_visible()
    link = tablet.get_by_role("link", name="Download PDF").get_attribute("href")
    assert link == f"/treatments/{visit}/aftercare.pdf?language=en" and sheet.get_attribute("lang") == "en"
    pdf = tablet.request.get(link)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    french_sheet_and_pdf(tablet, visit)
    assert tablet.get_by_role("link", name="New session").get_attribute("href") == f"/tablet/guns/{SERIAL}/session"
    screenshot(tablet, "aftercare-portrait")
    tablet.set_viewport_size(LANDSCAPE)
    screenshot(tablet, "aftercare-landscape")
    tablet.emulate_media(media="print")
    assert not tablet.get_by_role("button", name="Print").is_visible()  # only the sheet prints
    assert not tablet.get_by_role("button", name="Emergency stop").is_visible()
    assert sheet.is_visible()


def french_sheet_and_pdf(tablet: Any, visit: int) -> None:
    """The aftercare page read by a French tablet (its Accept-Language; no language chosen): the sheet in French
    (the standard advice translated, the practitioner's own line as typed), its PDF link and PDF in French too."""
    page = tablet.request.get(f"/tablet/treatments/{visit}/aftercare", headers={"Accept-Language": "fr"})
    html = page.text()
    assert page.status == 200 and '<article id="aftercare-sheet" class="sheet" lang="fr">' in html
    for expected in (
        "Conseils après votre traitement",
        "Nos conseils",
        "Protégez la zone traitée avec une crème solaire",
        "Come back if the bruise has not faded in a week.",
        "En cas d&#39;inquiétude",
        f'href="/treatments/{visit}/aftercare.pdf?language=fr"',
    ):
        assert expected in html, expected
    pdf = tablet.request.get(f"/treatments/{visit}/aftercare.pdf?language=fr")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert "Nos conseils" in text and "(front)" in text and "What to do" not in text


def test_discard_asks_to_confirm_then_voids_the_session_with_its_reason(tablet: Any, service: TabletService) -> None:
    visit = open_session(service, preset="face")
    sign_in(tablet)
    tablet.goto(f"/tablet/treatments/{visit}/close")
    tablet.get_by_label("Reason").fill("opened for the wrong patient")
    tablet.get_by_role("button", name="Discard session").click()
    dialog = tablet.get_by_role("dialog")
    dialog.get_by_text("Discard this session?").wait_for()
    screenshot(tablet, "close-discard-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    assert service.ok("GET", f"/treatments/{visit}/summary")["void"] is None  # cancelled: nothing done

    tablet.get_by_role("button", name="Discard session").click()
    dialog.get_by_role("button", name="Confirm").click()
    tablet.locator(".void-banner").filter(has_text="opened for the wrong patient").wait_for()
    void = service.ok("GET", f"/treatments/{visit}/summary")["void"]
    assert void["reason"] == "opened for the wrong patient" and void["by"] == PRACTITIONER
    assert tablet.get_by_role("button", name="Close session").count() == 0
    assert tablet.get_by_role("link", name="New session").is_visible()
    screenshot(tablet, "close-void")


def test_a_form_posted_twice_acts_once_and_an_assistant_may_not_close(
    browser: Any, tablet: Any, service: TabletService
) -> None:
    visit = open_session(service, preset="face")
    sign_in(tablet)
    tablet.goto(f"/tablet/treatments/{visit}/close")
    form = {
        "form_id": tablet.locator("#adverse-form input[name=form_id]").input_value(),
        "kind": "erythema",
        "severity": "mild",
        "detail": "",
    }
    csrf = next(c["value"] for c in tablet.context.cookies() if c["name"] == "mesogun_csrf")
    path = f"/tablet/treatments/{visit}/adverse-events"
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    first = tablet.request.post(path, form=form, headers=headers)
    again = tablet.request.post(path, form=form, headers=headers)
    assert first.status == 200 and again.status == 409
    assert "This form was already sent; nothing was done again." in again.text()
    assert len(service.ok("GET", f"/treatments/{visit}/summary")["adverse_events"]) == 1

    assistant = new_tablet(browser, service, viewport=LANDSCAPE)
    try:
        sign_in(assistant, ASSISTANT, ASSISTANT_PIN)
        assistant.goto(f"/tablet/treatments/{visit}/close")
        assistant.get_by_role("button", name="Close session").click()
        refusal = assistant.locator("#close-form .form-error")
        refusal.filter(has_text=re.compile(f"{ASSISTANT} may not do this: it needs the practitioner role")).wait_for()
        assert service.ok("GET", f"/treatments/{visit}")["signoff"] is None
        screenshot(assistant, "close-landscape-assistant")
    finally:
        assistant.context.close()
