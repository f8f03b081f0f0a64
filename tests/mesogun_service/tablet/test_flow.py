"""The practitioner's whole flow on the tablet, in a real Chromium against a real ``mesogun serve`` on a simulator,
through the pages only (issue 15, item 2): sign in with a PIN, pick the gun, open a session (patient added, course
opened, lot entered, syringe and needle, consent and the checklist), load and prime, set depth, dose, rate and mode,
choose the zone on the map, arm, treat with the handpiece trigger (pressed through the simulator's control
channel) while the counters follow the *device's* count, stop, disarm (asked, during a series), close the session
with its summary and sign-off, and the aftercare sheet to print or download.

One view by default (portrait, English); ``MESOGUN_TABLET_VIEWS=all`` runs it at both tablet sizes in both
languages, and with ``MESOGUN_SCREENSHOTS=DIR`` it keeps a picture of every page (docs/tablet.md's)."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import pytest

from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun_service.tablet.i18n import gettext
from tests.mesogun_service.tablet.conftest import (
    LANDSCAPE,
    PORTRAIT,
    PRACTITIONER,
    PRACTITIONER_PIN,
    SERIAL,
    TabletService,
    new_tablet,
    screenshot,
)

VIEWS = [("portrait", "en"), ("landscape", "fr"), ("portrait", "fr"), ("landscape", "en")]
SHOWN = VIEWS if os.environ.get("MESOGUN_TABLET_VIEWS") == "all" else VIEWS[:1]
TRIGGER_PRESSES = 4


@pytest.mark.parametrize(("view", "language"), SHOWN, ids=[f"{v}-{lang}" for v, lang in SHOWN])
def test_the_whole_treatment_on_the_tablet(browser: Any, service: TabletService, view: str, language: str) -> None:
    def t(message: str) -> str:
        return gettext(language, message)

    page = new_tablet(browser, service, viewport=PORTRAIT if view == "portrait" else LANDSCAPE, language=language)

    def shot(name: str) -> None:
        screenshot(page, f"{view}-{language}-{name}")

    def submit(name: str) -> None:
        with page.expect_response(lambda reply: reply.request.method == "POST"):
            page.get_by_role("button", name=name, exact=True).click()

    try:
        # ---- sign in, pick the gun
        page.goto("/")
        shot("01-sign-in")
        page.get_by_label(t("User")).fill(PRACTITIONER)
        page.get_by_label(t("PIN")).fill(PRACTITIONER_PIN)
        page.get_by_role("button", name=t("Sign in")).click()
        page.wait_for_url("**/tablet/guns")
        card = page.locator(".gun-card").filter(has_text=SERIAL)
        card.get_by_text(t("Connected")).wait_for()
        shot("02-guns")
        card.get_by_role("button", name=t("Use this gun")).click()
        page.wait_for_url(f"**/tablet/guns/{SERIAL}/session")

        # ---- the session: patient, course, lot, syringe, needle, consent, checklist
        page.get_by_text(t("Add a patient")).click()
        page.get_by_label(t("Pseudonym"), exact=True).fill("P-0042")
        page.get_by_role("button", name=t("Add patient")).click()
        page.get_by_text(t("Open a new course")).click()
        page.get_by_label(t("Indication")).fill("skin rejuvenation")
        page.get_by_label(t("Sessions planned")).fill("4")
        page.get_by_label(t("Interval (days)")).fill("14")
        page.get_by_role("button", name=t("Open course")).click()
        page.get_by_text("✔ skin rejuvenation").wait_for()
        if not page.locator("#lot-form").is_visible():
            page.get_by_text(t("Enter a new lot")).click()
        page.get_by_label(t("Product"), exact=True).fill("NCTF 135 HA")
        page.get_by_label(t("Lot number")).fill("L2403")
        page.get_by_label(t("Expiry date")).fill((date.today() + timedelta(days=300)).isoformat())
        page.get_by_role("button", name=t("Enter lot")).click()
        page.wait_for_url("**lot=*")
        page.get_by_label(t("First zone")).select_option("face.forehead")
        page.get_by_label(t("Syringe brand")).fill("BD")
        page.get_by_label(t("Syringe size (mL)")).fill("5")
        page.get_by_label(t("Needle gauge (G)")).fill("32")
        page.get_by_label(t("Needle length (mm)")).fill("4")
        page.get_by_label(t("Consent given by")).fill("signed form v3")
        for item in DEFAULT_ITEMS:
            page.get_by_role("group", name=t(item.question)).get_by_label(t("No")).check()
        shot("03-session")
        page.get_by_role("button", name=t("Start session")).click()
        page.wait_for_url(f"**/tablet/guns/{SERIAL}/treat")
        visit = int(service.ok("GET", f"/guns/{SERIAL}/treatment")["visit_id"])

        # ---- load, prime, settings, zone, arm
        page.get_by_label(t("Syringe (mL)")).select_option("5")
        submit(t("Load syringe"))
        page.get_by_label(t("Prime volume (mL)")).fill("0.05")
        with page.expect_navigation():  # primed, the gun is ready: the page is drawn again for its new state
            submit(t("Prime"))
        page.locator("#gun-state .state.ready").wait_for()
        page.get_by_label(t("Depth (mm)"), exact=True).fill("1.5")
        page.get_by_label(t("Dose (mL)"), exact=True).fill("0.02")
        page.get_by_label(t("Rate (shots/s)"), exact=True).fill("5")
        page.get_by_label(t("Mode"), exact=True).select_option("single")
        submit(t("Apply settings"))
        applied = t("Settings applied: {depth} mm, {dose} mL, {rate} shots/s, {mode}.").split(":")[0]
        page.get_by_text(applied).wait_for()
        submit(gettext(language, "Chin"))
        page.locator("button.zone[aria-pressed=true]").filter(has_text=t("Chin")).wait_for()
        submit(t("Arm"))
        page.get_by_role("button", name=t("Disarm")).wait_for()
        device = service.device()
        assert (device["state"], device["depth_um"], device["dose_nl"]) == ("armed", 1500, 20_000)
        shot("04-treat-armed")

        # ---- treat with the handpiece trigger: the page shows the device's count
        for _ in range(TRIGGER_PRESSES):
            service.control("hold", ms=50, source="trigger")
            page.wait_for_timeout(250)
        shots = page.get_by_role("status", name=t("Shots"), exact=True)
        device = service.device()
        page.wait_for_function(
            "n => document.querySelector('#live-shots').textContent.trim() === String(n)", arg=device["shots_session"]
        )
        assert device["shots_session"] == TRIGGER_PRESSES and shots.inner_text().strip() == str(TRIGGER_PRESSES)
        reservoir = page.get_by_role("status", name=t("Reservoir (mL)"), exact=True).inner_text()
        assert float(reservoir.replace(",", ".")) == pytest.approx(device["reservoir_nl"] / 1e6, abs=0.01)
        shot("05-treat-shots")

        # ---- stop, disarm (during a series: asked), finish
        submit(t("Stop"))
        page.get_by_role("button", name=t("Disarm")).click()
        page.locator("dialog#confirm").wait_for()
        shot("06-disarm-confirm")
        with page.expect_response(lambda reply: reply.url.endswith("/treat/disarm")):
            page.locator("dialog#confirm").get_by_role("button", name=t("Confirm")).click()
        page.get_by_role("button", name=t("Arm"), exact=True).wait_for()
        assert service.device()["state"] == "ready"
        page.get_by_role("link", name=t("Finish")).click()
        page.wait_for_url(f"**/tablet/treatments/{visit}/close")

        # ---- close: the summary (the device's count), sign-off, aftercare
        assert page.get_by_role("status", name=t("Shots"), exact=True).inner_text().strip() == str(TRIGGER_PRESSES)
        shot("07-close")
        page.get_by_role("button", name=t("Close session")).click()
        page.wait_for_url(f"**/tablet/treatments/{visit}/aftercare")
        assert service.ok("GET", f"/treatments/{visit}")["signoff"]["by"] == PRACTITIONER
        assert page.get_by_role("button", name=t("Print")).is_visible()
        sheet = page.locator("#aftercare-sheet")  # the sheet in the tablet's language, its PDF too
        assert sheet.get_attribute("lang") == language and sheet.get_by_text(t("What to do"), exact=True).is_visible()
        link = page.get_by_role("link", name=t("Download PDF")).get_attribute("href")
        assert link.endswith(f"/aftercare.pdf?language={language}")
        pdf = page.request.get(link)
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        shot("08-aftercare")
    except Exception:
        page.screenshot(path=f"/tmp/flow-fail-{view}-{language}.png", full_page=True)
        raise
    finally:
        page.context.close()
