"""The core's refusals on a French tablet: said at the field or the form in French, their hints naming the page's
button, through the pages themselves (a service in this process over a ``sim://`` gun, the forms posted as a signed-in
tablet's browser posts them: its cookie, its CSRF token, its language; no browser needed). The words of every
refusal the tablet shows, the service's too, are translated."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun.errors import Hint, ParameterError
from mesogun_service.accounts.auth import CSRF_COOKIE, CSRF_HEADER
from mesogun_service.tablet import catalog
from mesogun_service.tablet.i18n import LANGUAGE_COOKIE, gettext
from mesogun_service.tablet.refusals import say
from mesogun_service.tablet.treat_gun import state_of
from tests.mesogun_service.api.clinic_support import prepare, start
from tests.mesogun_service.conftest import PIN, USER, Running


async def tablet_of(svc: Running, language: str = "fr") -> httpx.AsyncClient:
    """A tablet signed in on ``svc``'s pages in ``language``, its unsafe requests echoing the CSRF token as htmx
    does."""
    client = httpx.AsyncClient(base_url=svc.service.url, timeout=10, cookies={LANGUAGE_COOKIE: language})
    signed_in = await client.post("/tablet/sign-in", data={"user": USER, "pin": PIN, "form_id": "sign-in"})
    assert signed_in.status_code == 303, signed_in.text
    client.headers.update({CSRF_HEADER: client.cookies[CSRF_COOKIE], "HX-Request": "true"})
    return client


async def state(svc: Running) -> str:
    """The gun's state as the pages see it (the form's ``seen_state``)."""
    return state_of(svc.service.app.state.registry.get(svc.serial))


def said(page: str, where: str) -> str:
    """The text of the field error ``e-<where>`` (or, for ``form``, the form's error) in a fragment."""
    pattern = r'<p class="form-error" role="alert">(.*?)</p>' if where == "form" else rf'id="e-{where}"[^>]*>(.*?)</p>'
    found = re.search(pattern, page, re.S)
    assert found is not None, page
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


@pytest.fixture
def tablet_service(real: Any, running_service: Any) -> Any:
    """Run ``scenario(svc, tablet)`` on a service with a French tablet signed in."""

    def run(scenario: Any) -> None:
        async def body() -> None:
            async with running_service() as svc:
                tablet = await tablet_of(svc)
                try:
                    await scenario(svc, tablet)
                finally:
                    await tablet.aclose()

        real(body)

    return run


def test_a_state_error_and_a_hard_limit_from_the_core_read_in_french(tablet_service: Any) -> None:
    async def scenario(svc: Running, tablet: httpx.AsyncClient) -> None:
        treat = f"/tablet/guns/{svc.serial}/treat"
        idle = await state(svc)
        prime = await tablet.post(f"{treat}/prime", data={"form_id": "p1", "seen_state": idle, "volume_ml": "0,05"})
        assert prime.status_code == 409
        assert said(prime.text, "form") == (
            "Amorçage impossible : aucune seringue n'est chargée (appuyez sur Charger la seringue d'abord)"
        )
        arm = await tablet.post(f"{treat}/arm", data={"form_id": "a1", "seen_state": idle})
        assert arm.status_code == 409
        assert said(arm.text, "form") == (
            "Armement impossible : le pistolet doit être prêt ; il est au repos (chargez d'abord une seringue et "
            "amorcez la ligne : appuyez sur Charger la seringue, puis appuyez sur Amorcer)"
        )
        typed = {"form_id": "s1", "seen_state": idle, "depth_mm": "2,05", "dose_ml": "0,02", "rate_hz": "10"}
        settings = await tablet.post(f"{treat}/settings", data={**typed, "mode": "burst"})
        assert settings.status_code == 422
        assert said(settings.text, "depth_mm") == (
            "Profondeur (mm) : 2,05 mm n'est pas un multiple de la résolution de l'appareil de 0,1 mm (réglages les "
            "plus proches : 2,0 ou 2,1 mm)"
        )  # the core's check (mesogun.units.to_wire), nothing sent
        status = await svc.ok("GET", svc.gun("/status"))
        assert status["depth_mm"] != 2.05 and status["state"] == idle

    tablet_service(scenario)


def test_the_wizard_says_an_expired_lot_and_a_contraindication_without_its_reason_in_french(
    tablet_service: Any,
) -> None:
    async def scenario(svc: Running, tablet: httpx.AsyncClient) -> None:
        wizard = f"/tablet/guns/{svc.serial}/session"
        lot = {"form_id": "l1", "product": "NCTF 135 HA", "lot_number": "L1801", "expiry": "2018-01-31"}
        expired = await tablet.post(f"{wizard}/lots", data=lot)
        assert expired.status_code == 422
        assert said(expired.text, "expiry") == (
            "Date de péremption : le lot L1801 de NCTF 135 HA est périmé depuis le 2018-01-31 : un lot périmé n'est "
            "jamais utilisé"
        )
        assert all(entry["lot_number"] != "L1801" for entry in await svc.ok("GET", "/lots"))  # nothing entered

        prepared = await prepare(svc)
        first, *others = DEFAULT_ITEMS
        form = {
            "form_id": "st1",
            "seen_state": await state(svc),
            "patient_id": str(prepared.patient),
            "course_id": str(prepared.course),
            "lot_id": str(prepared.lot),
            "zone": "face.forehead",
            "consent": "signed form v3",
            "override_reason": "",
            "syringe_brand": "BD",
            "syringe_ml": "5",
            "needle_gauge": "32",
            "needle_length_mm": "4",
            f"checklist.{first.id}": "yes",
            **{f"checklist.{item.id}": "no" for item in others},
        }
        refused = await tablet.post(f"{wizard}/start", data=form)
        assert refused.status_code == 422
        assert said(refused.text, "override_reason") == (
            f"Motif pour continuer : passer outre la contre-indication {first.id} demande un motif (conservé dans le "
            "dossier)"
        )
        assert (await svc.client.get(svc.gun("/treatment"))).status_code == 404  # no session started

    tablet_service(scenario)


def test_a_soft_limit_the_service_refuses_is_said_in_french_with_its_values(tablet_service: Any) -> None:
    async def scenario(svc: Running, tablet: httpx.AsyncClient) -> None:
        await svc.ready_to_treat()
        await start(svc, await prepare(svc))  # preset tiny: at most 2.0 mm deep
        typed = {"form_id": "s2", "seen_state": await state(svc), "depth_mm": "2,5", "dose_ml": "0,02"}
        settings = await tablet.post(
            f"/tablet/guns/{svc.serial}/treat/settings", data={**typed, "rate_hz": "10", "mode": "burst"}
        )
        assert settings.status_code == 409
        shown = re.search(r'id="h-override_reason">(.*?)</p>', settings.text, re.S)
        assert shown is not None, settings.text
        assert html.unescape(shown.group(1)) == (
            "une profondeur de 2,5 mm dépasse la limite conseillée de 2 mm du préréglage tiny ; rien n'a été envoyé "
            "(indiquez pourquoi dans le champ Motif pour continuer malgré tout ; le dépassement et son motif sont "
            "inscrits dans le dossier de traitement)"
        )

    tablet_service(scenario)


def test_in_english_a_refusal_reads_as_the_api_says_it_its_hint_naming_the_button() -> None:
    error = ParameterError("prime: no syringe loaded")
    error.hint = Hint("{0} first", ("load_syringe",))
    assert say(error, "en") == "prime: no syringe loaded (press Load syringe first)"
    assert say(error, "fr") == "prime: no syringe loaded (appuyez sur Charger la seringue d'abord)"


def test_every_refusal_the_tablet_shows_is_translated_and_fills_from_its_own_fields() -> None:
    assert catalog.untranslated("fr") == []
    assert catalog.misfilled("fr") == []
    assert gettext("fr", "{refusal}; nothing was sent") == "{refusal} ; rien n'a été envoyé"  # the service's words
