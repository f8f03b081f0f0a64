"""A refusal of the core in a language: a worded error reads exactly as before in English (the API's and the CLI's
words) and in French with its values the French way (a decimal comma, a state's name), its hint in an audience's
words; a device's refusal per nak code; an error worded in English only stays English; every French translation
fills from its English message's own fields."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from firmware_protocol import Mode, NakCode
from mesogun.clinic import checklist, limits, lots
from mesogun.clinic.errors import ChecklistIncomplete, LotExpired, SoftLimitExceeded
from mesogun.errors import DeviceRefused, Hint, MesogunError, ParameterError, StateError, as_call
from mesogun.i18n import N_, Catalogue
from mesogun.i18n import catalog as upkeep
from mesogun.i18n.errors import refusal
from mesogun.session.controller import Controller, HostState
from mesogun.units import DEPTH, WireRange, to_wire
from mesogun.wording import Number, Wording

RANGE = WireRange(1000, 4000, 100)
"""A depth range of 1.0–4.0 mm in steps of 0.1 mm."""


def refused(call: object, *args: object) -> MesogunError:
    """The error ``call(*args)`` raises."""
    assert callable(call)
    with pytest.raises(MesogunError) as caught:
        call(*args)
    return caught.value


def bracketed(action: str) -> str:
    """An audience's renderer that shows which action a hint names."""
    return f"[{action}]"


def test_a_worded_error_reads_as_before_and_keeps_its_template_and_values() -> None:
    error = refused(to_wire, DEPTH, 4.05, RANGE)
    assert isinstance(error, ParameterError) and error.field == "depth_mm" and error.value == 4.05
    assert str(error) == "depth_mm=4.05 is outside the device's range 1.0–4.0 mm"
    assert error.template == "{field}={value} is outside the device's range {low}–{high} {unit}"
    assert error.values["unit"] == "mm" and error.values["high"] == Number(4.0, ".1f")
    assert refusal(error, "en") == str(error) == error.describe()


def test_a_hard_limit_in_french_names_the_value_the_limit_and_the_unit_with_a_decimal_comma() -> None:
    outside = refused(to_wire, DEPTH, 4.05, RANGE)
    assert refusal(outside, "fr") == "4,05 mm est hors de la plage de l'appareil 1,0–4,0 mm"
    assert refusal(refused(to_wire, DEPTH, 2.05, RANGE), "fr") == (
        "2,05 mm n'est pas un multiple de la résolution de l'appareil de 0,1 mm (réglages les plus proches : 2,0 ou "
        "2,1 mm)"
    )


def test_a_state_error_names_the_states_in_french_and_its_hint_in_the_audiences_words() -> None:
    controller = Controller()
    asyncio.run(controller.go(HostState.IDLE))  # what a gun reports with no syringe loaded
    error = refused(controller.check, "arm")
    assert isinstance(error, StateError)
    assert str(error) == (
        "arm needs the gun ready; it is idle (load a syringe and prime it first: call load_syringe(), then call "
        "prime())"
    )
    assert refusal(error, "fr", bracketed) == (
        "Armement impossible : le pistolet doit être prêt ; il est au repos (chargez d'abord une seringue et amorcez "
        "la ligne : [load_syringe], puis [prime])"
    )
    asyncio.run(controller.go(HostState.ARMED))
    loading = refused(controller.check, "load_syringe")
    assert str(loading).startswith("load_syringe needs the gun idle or ready; it is armed (")
    assert refusal(loading, "fr", bracketed) == (
        "Chargement de la seringue impossible : le pistolet doit être au repos ou prêt ; il est armé ([disarm] ou "
        "[fire])"
    )


def test_a_device_refusal_is_said_per_nak_code_with_the_devices_own_detail() -> None:
    error = DeviceRefused("arm", NakCode.NOT_PRIMED, "arm needs the line primed (prime first)")
    assert str(error) == "device refused arm (not_primed): arm needs the line primed (prime first)"  # the API's
    assert refusal(error, "fr", bracketed) == (
        "Le pistolet a refusé : la ligne n'est pas amorcée — l'appareil indique « arm needs the line primed (prime "
        "first) » ([prime] d'abord)"
    )
    assert refusal(DeviceRefused("clear_alarm", NakCode.ALARM_ACTIVE), "en", bracketed) == (
        "The gun refused: an alarm or the emergency stop is latched ([clear_alarm] once the cause is removed)"
    )


def test_the_clinics_refusals_in_french_translate_the_checklists_question() -> None:
    expired = refused(lots.check_usable, lots.lot("NCTF 135 HA", "L1901", "2019-01-31"), date(2025, 3, 18))
    assert isinstance(expired, LotExpired)
    assert str(expired) == "lot L1901 of NCTF 135 HA expired on 2019-01-31: an expired lot is never used"
    assert refusal(expired, "fr") == (
        "le lot L1901 de NCTF 135 HA est périmé depuis le 2019-01-31 : un lot périmé n'est jamais utilisé"
    )
    first, *others = checklist.DEFAULT_ITEMS
    unanswered = refused(checklist.check, {item.id: False for item in others})
    assert isinstance(unanswered, ChecklistIncomplete) and unanswered.field == f"checklist.{first.id}"
    assert f"({first.question!r})" in str(unanswered)
    assert refusal(unanswered, "fr") == (
        f"la question {first.id} (« Grossesse ou allaitement ? ») est sans réponse : chaque question demande une "
        "réponse"
    )


def test_soft_limits_in_french_each_breach_said_on_its_own_with_the_override_hint() -> None:
    found = limits.breaches(None, Mode.NAPPAGE, 2.5)
    error = refused(limits.authorize, found, None)
    assert isinstance(error, SoftLimitExceeded)
    assert str(error).startswith("soft limit mode.nappage.max_depth_mm: nappage at depth_mm=2.5 is deeper than its ")
    assert refusal(error, "fr", bracketed) == (
        "nappage à 2,5 mm de profondeur dépasse sa limite conseillée de 2 mm (nappage : technique superficielle) "
        "([override_soft_limit] pour continuer malgré tout ; le dépassement et son motif sont inscrits dans le "
        "dossier de traitement)"
    )
    both = limits.joined([Wording(N_("{first}; {then}"), first="a", then="b"), "c"])
    assert str(both) == "a; b; c" and refusal(ParameterError(both), "fr") == "a ; b ; c"


def test_an_error_worded_in_english_only_stays_english_its_hint_translated() -> None:
    error = ParameterError("a refusal no raise site worded for the catalog")
    error.hint = Hint(N_("{0} first"), ("arm",))
    assert refusal(error, "fr", bracketed) == "a refusal no raise site worded for the catalog ([arm] d'abord)"
    assert refusal(error, "en") == str(error) == error.describe(as_call)


def test_a_translation_that_misnames_a_field_gives_the_english(tmp_path: Path) -> None:
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "broken.po").write_text('msgid "{count} shots left"\nmsgstr "{nombre} tirs restants"\n', "utf-8")
    (tmp_path / "en" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "en" / "LC_MESSAGES" / "broken.po").write_text("", "utf-8")
    error = ParameterError(Wording("{count} shots left", count=3))
    assert refusal(error, "fr", catalogue=Catalogue("broken", tmp_path)) == "3 shots left"


def test_every_french_translation_fills_from_its_english_messages_fields() -> None:
    assert upkeep.misfilled(upkeep.CORE_SOURCES, "fr") == []
