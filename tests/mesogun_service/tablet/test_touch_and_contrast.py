"""Made for touch and bright light (issue 15, item 4), checked in Chromium on every page of a session at both
tablet sizes: every control is at least 48 × 48 CSS px, and every piece of text meets WCAG AA contrast against
what is behind it (4.5:1; 3:1 for large text), an alarm on screen included; values carry their units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.mesogun_service.tablet.conftest import (
    LANDSCAPE,
    PORTRAIT,
    SERIAL,
    TabletService,
    new_tablet,
    open_session,
    sign_in,
)
from tests.mesogun_service.tablet.test_treat import ready_gun

MIN_TARGET_PX = 48

AUDIT = (Path(__file__).parent / "audit.js").read_text(encoding="utf-8")
"""The page audit: controls under 48 px and texts under their contrast, computed in the browser."""


def _audit(page: Any, where: str) -> list[str]:
    found = page.evaluate(AUDIT)
    small = [f"{where}: target {item}" for item in found["small"]]
    return small + [f"{where}: contrast {item}" for item in found["poor"]]


def test_every_control_is_big_enough_and_every_text_readable(browser: Any, service: TabletService) -> None:
    visit = open_session(service)
    ready_gun(service)
    page = new_tablet(browser, service, viewport=PORTRAIT)
    problems: list[str] = []

    def audit(where: str) -> None:
        for size in (PORTRAIT, LANDSCAPE):  # both tablet sizes, the page laid out again for each
            page.set_viewport_size(size)
            problems.extend(_audit(page, f"{where} at {size['width']}x{size['height']}"))

    try:
        page.goto("/tablet/sign-in")
        audit("sign-in")
        sign_in(page)
        for path in ("/tablet/guns", f"/tablet/guns/{SERIAL}/session", f"/tablet/guns/{SERIAL}/treat"):
            page.goto(path)
            audit(path)
        service.ok("POST", f"/guns/{SERIAL}/attendance", json={"client": "test"})
        service.ok("POST", f"/guns/{SERIAL}/arm")
        service.control("fault", name="occlusion")  # a high-priority alarm on screen, flashing
        page.locator(".alarm.high").wait_for()
        audit("treat with an alarm")
        page.evaluate("document.querySelectorAll('.alarm.high').forEach(a => a.style.animation = 'none')")
        audit("treat with an alarm (the other phase of its flashing)")
        page.goto(f"/tablet/treatments/{visit}/close")
        audit("close")
        assert problems == []
    finally:
        page.context.close()
