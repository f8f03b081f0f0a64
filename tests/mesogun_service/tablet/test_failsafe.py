"""The tablet attends the gun it armed: its heartbeats keep the service's fail-safe from disarming it while the
page is open, and when the tablet goes (closed, out of the room's network) the service stops and disarms the gun
by itself after its grace period: what the *device* saw."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.mesogun_service.tablet.conftest import SERIAL, new_tablet, open_session, serving, sign_in
from tests.mesogun_service.tablet.test_treat import TREAT, ready_gun

GRACE_S = 2.0


def test_a_tablet_that_goes_away_leaves_its_gun_disarmed_by_the_service(browser: Any, tmp_path: Path) -> None:
    with serving(tmp_path, "--grace", str(GRACE_S)) as service:
        open_session(service)
        ready_gun(service)
        page = new_tablet(browser, service)
        sign_in(page)
        page.goto(TREAT)
        with page.expect_response(lambda reply: reply.url.endswith("/treat/arm")):
            page.get_by_role("button", name="Arm", exact=True).click()
        page.get_by_role("button", name="Disarm").wait_for()
        time.sleep(2 * GRACE_S)  # two grace periods: the page's heartbeats keep the gun armed
        assert service.device()["state"] == "armed"
        page.context.close()  # the tablet is gone: no more heartbeats
        deadline = time.monotonic() + 10 * GRACE_S
        while service.device()["state"] != "ready":
            assert time.monotonic() < deadline, f"the gun nobody attends is still {service.device()['state']}"
            time.sleep(0.1)
        # the service's own view of the gun follows with the gun's next status report
        while service.ok("GET", f"/guns/{SERIAL}/status")["state"] != "ready":
            assert time.monotonic() < deadline, "the service still shows the disarmed gun armed"
            time.sleep(0.1)
