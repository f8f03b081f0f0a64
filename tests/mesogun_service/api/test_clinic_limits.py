"""Soft limits in the service (issue 14 item 2) on a gun with an open treatment session (preset tiny: 0.1 mL per
zone, five shots of 0.02 mL): a fire whose planned volume would pass the zone's limit is refused, then overridden
with a reason kept beside the values; trigger-fired shots (pressed on the sim:// gun inside the service) are
stopped at the zone's limit, the gun disarmed, the event stream and the record told, and arming again there needs
an override."""

from __future__ import annotations

import asyncio

import pytest

from mesogun_service.hosted import HostedGun
from tests.mesogun_service.api.clinic_support import prepare, refused, start
from tests.mesogun_service.conftest import USER


def test_fire_and_trigger_shots_past_the_zones_volume(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ready_to_treat()
            visit = await start(svc, await prepare(svc))
            await svc.ok("POST", svc.gun("/configure"), json={"dose_ml": 0.02, "mode": "burst", "depth_mm": 1.5})
            await svc.ok("POST", svc.gun("/arm"))
            lifetime = (await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"}))["shots_lifetime"]
            error = await refused(svc, "POST", svc.gun("/fire"), 409, json={"count": 6})
            assert error["code"] == "MG707" and error["field"] == "volume_ml" and error["value"] == pytest.approx(0.12)
            assert error["message"].startswith("soft limit preset.tiny.max_volume_per_zone_ml: zone face.forehead ")
            assert error["message"].endswith("; nothing was sent") and "--yes" not in error["message"]
            assert error["hint"] == (
                "send override_reason with the request to go ahead anyway; the override and its reason are entered "
                "in the treatment record"
            )  # said once, in an HTTP client's words
            status = await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"})
            assert status["shots_lifetime"] == lifetime  # nothing fired
            blank = await refused(svc, "POST", svc.gun("/fire"), 422, json={"count": 6, "override_reason": ""})
            assert blank["field"] == "override_reason"
            why = "the forehead needs the full dose"
            fired = await svc.ok("POST", svc.gun("/fire"), json={"count": 6, "override_reason": why})
            assert fired["fired"] == 6
            await svc.ok("POST", svc.gun("/disarm"))  # the override ends with the arming it was given for
            error = await refused(svc, "POST", svc.gun("/arm"), 409)
            assert error["field"] == "volume_ml" and "face.forehead" in error["message"]
            summary = await svc.ok("GET", f"/treatments/{visit}/summary")
            assert [(o["limit"], o["reason"], o["by"]) for o in summary["overrides"]] == [
                ("preset.tiny.max_volume_per_zone_ml", why, USER)
            ]
            assert summary["zones"][0]["volume_ml"] == pytest.approx(0.12)

            # trigger-fired shots in another zone (room again): stopped at its limit, pressed on the sim:// gun
            await svc.ok("POST", f"/treatments/{visit}/zone", json={"zone": "face.chin"})
            await svc.ok("POST", svc.gun("/configure"), json={"mode": "continuous", "rate_hz": 10.0})
            hosted: HostedGun = svc.service.app.state.registry.get(svc.serial)
            device = hosted.transport.sim.device  # type: ignore[attr-defined]
            events = hosted.subscribe(1024)
            try:
                await svc.ok("POST", svc.gun("/arm"))
                assert device.press_trigger() is None
                async with asyncio.timeout(10):
                    while (event := await events.get())[0] != "soft_limit":
                        pass
            finally:
                events.close()
                device.release_trigger()
            said = event[1]
            assert said["action"] == "disarmed" and said["zone"] == "face.chin" and said["visit"] == visit
            assert said["volume_ml"] == pytest.approx(0.1) and said["limit"] == "preset.tiny.max_volume_per_zone_ml"
            status = await svc.ok("GET", svc.gun("/status"), params={"refresh": "true"})
            assert status["state"] == "ready"  # stopped and disarmed
            error = await refused(svc, "POST", svc.gun("/arm"), 409)
            assert error["code"] == "MG707" and "override_reason" in error["hint"]
            again = "last pass over the chin"
            await svc.ok("POST", svc.gun("/arm"), json={"override_reason": again})
            await svc.ok("POST", svc.gun("/disarm"))
            summary = await svc.ok("GET", f"/treatments/{visit}/summary")
            chin = next(z for z in summary["zones"] if z["zone"] == "face.chin")
            assert chin["shots"] in (5, 6)  # stopped after the fifth: a stroke already under way completes
            assert any("stopped and disarmed by the service" in note for note in summary["notes"])
            assert [o["reason"] for o in summary["overrides"]] == [why, again]

    real(scenario)
