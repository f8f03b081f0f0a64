"""What a practitioner reads every day on a French tablet, through the pages themselves (a service in this process,
forms posted as a tablet's browser posts them; no browser needed): a wrong PIN and the lock-out after five, a page
whose CSRF token is out of date, a lot near its expiry, a gun whose calibration is overdue, and a gun whose simulator
went away: each said in French, its values the French way, the core's own words quoted where they are another
party's."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from mesogun_service.accounts.auth import CSRF_HEADER, SESSION_COOKIE
from mesogun_service.tablet.i18n import LANGUAGE_COOKIE
from sims.factory import start_device
from sims.options import parse_query
from sims.serving import TcpServer
from tests.mesogun_service.conftest import PIN, USER
from tests.mesogun_service.tablet.test_refusals import said, state, tablet_of


def text_of(page: str, pattern: str) -> str:
    """The text (tags dropped, entities read) of the first match of ``pattern``'s group 1 in ``page``."""
    found = re.search(pattern, page, re.S)
    assert found is not None, page
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def test_a_wrong_pin_an_unknown_user_and_the_lockout_are_said_in_french_at_the_pin_field(
    real: Any, running_service: Any
) -> None:
    async def scenario() -> None:
        async with (
            running_service() as svc,
            httpx.AsyncClient(base_url=svc.service.url, cookies={LANGUAGE_COOKIE: "fr"}) as tablet,
        ):

            async def sign_in(user: str, pin: str, form_id: str) -> httpx.Response:
                return await tablet.post("/tablet/sign-in", data={"user": user, "pin": pin, "form_id": form_id})

            wrong = (
                "Nom d'utilisateur ou code PIN incorrect. Après 5 codes PIN erronés de suite, l'utilisateur est bloqué."
            )
            unknown = await sign_in("nobody", "0000", "f0")  # the same words: a refusal never tells a name exists
            assert unknown.status_code == 422 and said(unknown.text, "pin") == wrong
            for attempt in range(1, 5):
                refused = await sign_in(USER, "0000", f"f{attempt}")
                assert refused.status_code == 422 and said(refused.text, "pin") == wrong
            locked = await sign_in(USER, "0000", "f5")
            assert said(locked.text, "pin") == (
                f"{USER} est bloqué après trop de codes PIN erronés : réessayez dans 5 min, ou demandez à un "
                "administrateur."
            )
            still = await sign_in(USER, PIN, "f6")  # the right PIN, but locked out: refused all the same
            assert still.status_code == 422 and "réessayez dans 5 min" in said(still.text, "pin")

    real(scenario)


def test_an_ended_session_sends_the_tablet_to_sign_in_saying_so_in_french(real: Any, running_service: Any) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            tablet = await tablet_of(svc)
            try:
                ended = tablet.cookies[SESSION_COOKIE]
                await tablet.post("/tablet/sign-out")  # the session ends on the service (the cookie is taken back)
                tablet.cookies.set(SESSION_COOKIE, ended)  # a tablet still holding the ended session's cookie
                del tablet.headers["HX-Request"]  # the page opened anew, not a fragment
                page = await tablet.get(f"/tablet/guns/{svc.serial}/treat")
                assert page.status_code == 303
                assert page.headers["location"] == f"/tablet/sign-in?next=/tablet/guns/{svc.serial}/treat&ended=1"
                sign_in = await tablet.get(page.headers["location"])
                assert said(sign_in.text, "form") == (
                    "Votre session est terminée (inutilisée trop longtemps, ou déconnectée) : connectez-vous à nouveau."
                )
            finally:
                await tablet.aclose()

    real(scenario)


def test_a_page_whose_csrf_token_is_out_of_date_is_told_to_reload_in_french(real: Any, running_service: Any) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            tablet = await tablet_of(svc)
            try:
                tablet.headers[CSRF_HEADER] = "the token of an earlier sign-in"
                prime = await tablet.post(
                    f"/tablet/guns/{svc.serial}/treat/prime",
                    data={"form_id": "p1", "seen_state": await state(svc), "volume_ml": "0,05"},
                )
                assert prime.status_code == 403
                assert said(prime.text, "form") == (
                    "Non effectué Cette page n'est plus valable pour cette connexion (nouvelle connexion depuis, ou "
                    "envoi depuis un autre site) : rechargez la page, puis recommencez. Rien n'a été fait."
                )
            finally:
                await tablet.aclose()

    real(scenario)


def test_a_lot_near_its_expiry_is_warned_about_and_the_zones_named_in_french_in_the_wizard(
    real: Any, running_service: Any
) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            expiry = date.today() + timedelta(days=12)
            near = {"product": "NCTF 135 HA", "lot_number": "L2404", "expiry": expiry.isoformat()}
            api = await svc.ok("POST", "/lots", json=near)
            assert api["warning"] == f"lot L2404 of NCTF 135 HA expires in 12 days ({expiry.isoformat()})"  # the API's
            patient = await svc.ok("POST", "/patients", json={"pseudonym": "P-0002"})
            tablet = await tablet_of(svc)
            try:
                page = await tablet.get(f"/tablet/guns/{svc.serial}/session?patient={patient['id']}")
                assert text_of(page.text, r'<p class="warning">(.*?)</p>') == (
                    "⚠ Proche de la péremption : le lot L2404 de NCTF 135 HA expire dans 12 jours "
                    f"({expiry.isoformat()})"
                )
                assert '<option value="face.forehead">Front</option>' in page.text  # the first zone, in French too
            finally:
                await tablet.aclose()

    real(scenario)


def test_a_gun_whose_calibration_is_overdue_or_incomplete_says_so_on_its_card_in_french(
    real: Any, running_service: Any
) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            tablet = await tablet_of(svc)
            try:
                card = r'<dd class="not-ok">(.*?)</dd>'
                assert text_of((await tablet.get("/tablet/guns")).text, card) == "⚠ Jamais étalonné"
                await svc.ok("POST", "/auth/reauth", json={"pin": PIN})
                overdue = datetime.now(UTC) - timedelta(days=3)
                await svc.ok("POST", "/calibrations", json=passed_run("R-DEPTH", "depth", overdue))
                assert text_of((await tablet.get("/tablet/guns")).text, card) == (
                    f"⚠ Étalonnage échu depuis le {overdue.date().isoformat()}"
                )
                await svc.ok(
                    "POST", "/calibrations", json=passed_run("R-DEPTH2", "depth", overdue + timedelta(days=99))
                )
                assert text_of((await tablet.get("/tablet/guns")).text, card) == (
                    "⚠ Étalonnage incomplet : volume et cadence jamais étalonné(s)"
                )
            finally:
                await tablet.aclose()

    real(scenario)


def passed_run(run_id: str, kind: str, due: datetime) -> dict[str, Any]:
    """A passed calibration run of the service's gun (``kind``: depth or rate), due at ``due``."""
    return {
        "run_id": run_id,
        "device_serial": "SIM0001",
        "kind": kind,
        "syringe_brand": "",
        "outcome": "passed",
        "started_at": (due - timedelta(days=365)).isoformat(),
        "finished_at": (due - timedelta(days=365) + timedelta(minutes=40)).isoformat(),
        "calibration_id": 1,
        "certificate_id": f"C-{run_id}",
        "due_at": due.isoformat(),
        "run": {"run_id": run_id, "as_found": [], "as_left": []},
        "certificate_pdf_base64": base64.b64encode(b"%PDF-1.7\n%%EOF\n").decode(),
        "reason": "annual calibration",
    }


@contextlib.asynccontextmanager
async def simulator_on_tcp() -> AsyncIterator[tuple[str, TcpServer]]:
    """A simulated gun served over TCP in this process: its ``socket://`` URL and its server (closing it is the gun
    going away)."""
    options = parse_query("serial=SIM0001")
    device = await start_device(options)
    server = TcpServer(device, options)
    host, port = await server.start("127.0.0.1", 0)
    try:
        yield f"socket://{host}:{port}", server
    finally:
        await server.close()
        await device.close()


def test_a_gun_whose_simulator_went_away_is_said_not_connected_in_french(real: Any, running_service: Any) -> None:
    async def scenario() -> None:
        async with simulator_on_tcp() as (url, server), running_service(devices=(url,)) as svc:
            tablet = await tablet_of(svc)
            try:
                await server.close()  # the gun goes away; the service keeps trying to reconnect
                hosted = svc.service.app.state.registry.get(svc.serial)
                for _ in range(100):
                    if not hosted.connected.is_set() and str(hosted.last_error or "").startswith("gun "):
                        break
                    await asyncio.sleep(0.1)
                english = str(hosted.last_error)
                assert english.startswith(f"gun {svc.serial} did not come back after 1 attempts: cannot open {url}: ")
                card = text_of(
                    (await tablet.get("/tablet/guns")).text, r'<p class="form-error" id="why-[^"]*">(.*?)</p>'
                )
                assert card.startswith(
                    "Non connecté : allumez le pistolet et vérifiez son câble ou le réseau. Le pistolet "
                    f"{svc.serial} n'est pas revenu (tentatives : 1) : impossible d'ouvrir {url} : « "
                ), card
                assert card.endswith(" »")  # the OS's own words, quoted as given
                prime = await tablet.post(
                    f"/tablet/guns/{svc.serial}/treat/prime",
                    data={"form_id": "p1", "seen_state": await state(svc), "volume_ml": "0,05"},
                )
                assert prime.status_code == 503
                assert said(prime.text, "form").startswith(
                    f"le service n'est pas connecté au pistolet {url} pour le moment (il continue d'essayer) : le "
                    f"pistolet {svc.serial} n'est pas revenu (tentatives : 1) : impossible d'ouvrir {url} : « "
                )
            finally:
                await tablet.aclose()

    real(scenario)
